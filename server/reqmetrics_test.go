package server_test

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/metrics"
	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/store/memory"
)

// fakeRequestMetrics records what server.RequestMetrics is told.
type fakeRequestMetrics struct {
	mu       sync.Mutex
	resolved map[string]int // Operation calls per id
	seen     []string       // "id status" per request
}

func (f *fakeRequestMetrics) Operation(id string) func(int, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resolved[id]++
	return func(status int, elapsed time.Duration) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if elapsed <= 0 {
			panic("no elapsed time")
		}
		f.seen = append(f.seen, id+" "+strconv.Itoa(status))
	}
}

func (f *fakeRequestMetrics) take() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.seen
	f.seen = nil
	return out
}

func newMetricsStack(tb testing.TB, m server.RequestMetrics) *server.Options {
	tb.Helper()
	key, err := token.GenerateKey("ES256")
	if err != nil {
		tb.Fatal(err)
	}
	iss, err := token.NewIssuer(token.Config{Issuer: "omsd", Audience: "vero-oms"}, key)
	if err != nil {
		tb.Fatal(err)
	}
	st := memory.New()
	svc, err := auth.New(auth.Config{}, auth.Deps{Store: st, Hasher: password.NewHasher(cheapHash, 2), Tokens: iss,
		Mailer: &mailbox{codes: map[string]string{}}, Secret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(svc.Close)
	return &server.Options{Services: server.Services{Auth: svc, Tokens: iss, Health: st}.WithBackOffice(st, nil), Logger: discardLogger(), Metrics: m}
}

// Every request is recorded once, under its operation id with the status
// actually sent (errors included); recorders are resolved when the server
// is built, once per operation, never per request.
func TestRequestMetricsLabelEveryRequest(t *testing.T) {
	f := &fakeRequestMetrics{resolved: map[string]int{}}
	h, err := server.New(*newMetricsStack(t, f))
	if err != nil {
		t.Fatal(err)
	}
	spec, err := server.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	ops := 0
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			ops++
			if f.resolved[op.OperationID] != 1 {
				t.Errorf("operation %s resolved %d times, want 1", op.OperationID, f.resolved[op.OperationID])
			}
		}
	}
	if len(f.resolved) != ops+2 || f.resolved[server.UnmatchedOperation] != 1 || f.resolved[server.StaticOperation] != 1 {
		t.Fatalf("resolved %v: want the %d operations, <static> and <unmatched> once each", f.resolved, ops)
	}

	id := func(method, path string) string { return spec.Paths.Find(path).GetOperation(method).OperationID }
	for _, c := range []struct{ method, path, body, want string }{
		{"GET", "/api/v1/util/health", "", id("GET", "/api/v1/util/health") + " 200"},
		{"POST", "/api/auth/login", `{"identifier":"x@oms.example"}`, id("POST", "/api/auth/login") + " 400"},
		{"POST", "/api/auth/login", `{"identifier":"x@oms.example","password":"wrong-password"}`, id("POST", "/api/auth/login") + " 401"},
		{"GET", "/api/v1/oms/risk/rules", "", id("GET", "/api/v1/oms/risk/rules") + " 401"},
		{"GET", "/api/v1/nope", "", "<unmatched> 404"},
		{"DELETE", "/api/auth/login", "", "<unmatched> 405"},
		{"GET", "/openapi.json", "", "<static> 200"},
		{"HEAD", "/docs", "", "<static> 200"},
	} {
		rec := serveT(h, c.method, c.path, c.body)
		if got := f.take(); len(got) != 1 || got[0] != c.want {
			t.Errorf("%s %s (-> %d): recorded %v, want [%s]", c.method, c.path, rec.Code, got, c.want)
		}
	}
}

func serveT(h http.Handler, method, path, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The metrics middleware allocates nothing per request: a request costs
// the same allocations with and without it.
func TestRequestMetricsAllocateNothing(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector changes allocation counts")
	}
	plain, err := server.New(*newMetricsStack(t, nil))
	if err != nil {
		t.Fatal(err)
	}
	measured, err := server.New(*newMetricsStack(t, metrics.New()))
	if err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/api/v1/nope", "/api/v1/oms/risk/rules"} {
		allocs := func(h http.Handler) float64 {
			serveT(h, "GET", path, "") // first use of each status
			return testing.AllocsPerRun(200, func() { serveT(h, "GET", path, "") })
		}
		if without, with := allocs(plain), allocs(measured); with > without {
			t.Errorf("GET %s: %v allocations with metrics, %v without", path, with, without)
		}
	}
}

// BenchmarkRequestMetricsOverhead: the health probe with and without the
// Prometheus request metrics.
func BenchmarkRequestMetricsOverhead(b *testing.B) {
	for _, c := range []struct {
		name string
		m    server.RequestMetrics
	}{{"without", nil}, {"with", metrics.New()}} {
		b.Run(c.name, func(b *testing.B) {
			h, err := server.New(*newMetricsStack(b, c.m))
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if rec := serveT(h, "GET", "/api/v1/util/health", ""); rec.Code != 200 {
					b.Fatal(rec.Code)
				}
			}
		})
	}
}
