package metrics

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/mail"
	"github.com/vero-oms/omsd/store/redis"
)

// Metrics is the observer of every package that reports events.
var (
	_ server.RequestMetrics = (*Metrics)(nil)
	_ auth.Events           = (*Metrics)(nil)
	_ mail.AsyncEvents      = (*Metrics)(nil)
	_ redis.Observer        = (*Metrics)(nil)
	_ Queue                 = (*mail.Async)(nil)
)

func TestRequestsCountedByOperationAndStatusUnderConcurrency(t *testing.T) {
	m := New()
	login := m.Operation("PostApiAuthLogin")
	unmatched := m.Operation(server.UnmatchedOperation)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 100 {
				login([]int{200, 401, 429}[(g+i)%3], time.Millisecond)
			}
			unmatched(404, time.Microsecond)
		}()
	}
	wg.Wait()
	var total float64
	for _, status := range []string{"200", "401", "429"} {
		n := testutil.ToFloat64(m.requests.WithLabelValues("PostApiAuthLogin", status))
		if n < 266 || n > 267 {
			t.Errorf("status %s counted %v times, want 266 or 267", status, n)
		}
		total += n
	}
	if total != 800 {
		t.Errorf("%v login requests counted, want 800", total)
	}
	if n := testutil.ToFloat64(m.requests.WithLabelValues("<unmatched>", "404")); n != 8 {
		t.Errorf("unmatched counted %v, want 8", n)
	}
	if n := testutil.CollectAndCount(m.latency, "omsd_http_request_duration_seconds"); n != 2 {
		t.Errorf("%d latency series, want one per operation (2)", n)
	}
}

// The request path allocates nothing once a status has been seen, and a
// Redis command nothing once its name has.
func TestHotPathsDoNotAllocate(t *testing.T) {
	m := New()
	rec := m.Operation("GetApiV1OmsRiskRules")
	rec(501, time.Millisecond)
	if n := testing.AllocsPerRun(1000, func() { rec(501, time.Millisecond) }); n != 0 {
		t.Errorf("request observation: %v allocations, want 0", n)
	}
	m.Command("evalsha", "hit", time.Millisecond, false)
	if n := testing.AllocsPerRun(1000, func() { m.Command("evalsha", "hit", time.Millisecond, false) }); n != 0 {
		t.Errorf("Redis command observation: %v allocations, want 0", n)
	}
}

func TestEventsAndHandler(t *testing.T) {
	m := New()
	m.Login("success")
	m.Login("throttled")
	m.Throttled("login")
	m.Recovery("verify", "invalid_code")
	m.Recovery("reset", "success")
	m.Failed("queue_full")
	m.Delivered()
	m.Command("get", "", time.Millisecond, true)
	m.WatchMailQueue(fakeQueue{3, 256})
	m.WatchVenueBacklog(fakeBacklog{})

	srv := httptest.NewServer(m.Handler())
	defer srv.Close()
	res, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain; version=0.0.4") {
		t.Fatalf("GET /metrics: %d %s", res.StatusCode, res.Header.Get("Content-Type"))
	}
	for _, line := range []string{
		`omsd_auth_logins_total{outcome="success"} 1`,
		`omsd_auth_logins_total{outcome="throttled"} 1`,
		`omsd_auth_logins_total{outcome="error"} 0`,
		`omsd_auth_throttled_total{kind="login"} 1`,
		`omsd_auth_throttled_total{kind="recovery_verify"} 0`,
		`omsd_auth_recovery_verifications_total{outcome="invalid_code"} 1`,
		`omsd_auth_recovery_resets_total{outcome="success"} 1`,
		`omsd_auth_recovery_starts_total{outcome="success"} 0`,
		`omsd_mail_failures_total{reason="queue_full"} 1`,
		`omsd_mail_delivered_total 1`,
		`omsd_mail_queue_depth 3`,
		`omsd_mail_queue_capacity 256`,
		`omsd_venue_backlog_steps 2`,
		`omsd_venue_backlog_failures_total 5`,
		`omsd_order_entry_commits_total 7`,
		`omsd_order_entries_committed_total 19`,
		`omsd_redis_command_errors_total{command="get",script=""} 1`,
		`omsd_redis_command_duration_seconds_count{command="get",script=""} 1`,
		"go_goroutines ",
		"process_cpu_seconds_total ",
	} {
		if !strings.Contains(string(body), "\n"+line) {
			t.Errorf("no line %q in /metrics", line)
		}
	}
	for _, c := range []struct {
		method, path string
		status       int
	}{{"POST", "/metrics", 405}, {"GET", "/", 404}, {"GET", "/debug/pprof/", 404}} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != c.status {
			t.Errorf("%s %s: %d, want %d", c.method, c.path, res.StatusCode, c.status)
		}
	}

	// The names follow Prometheus conventions (units, _total on counters).
	problems, err := testutil.GatherAndLint(m.Registry())
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "omsd_") {
			t.Errorf("lint: %s: %s", p.Metric, p.Text)
		}
	}
}

type fakeBacklog struct{}

func (fakeBacklog) Backlog() int            { return 2 }
func (fakeBacklog) StepFailures() int64     { return 5 }
func (fakeBacklog) EntryCommits() int64     { return 7 }
func (fakeBacklog) EntriesCommitted() int64 { return 19 }

type fakeQueue struct{ n, c int }

func (q fakeQueue) Len() int { return q.n }
func (q fakeQueue) Cap() int { return q.c }

func BenchmarkRequestObservation(b *testing.B) {
	rec := New().Operation("GetApiV1OmsRiskRules")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			rec(501, time.Millisecond)
		}
	})
}
