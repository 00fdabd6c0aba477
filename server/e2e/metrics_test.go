package e2e

import (
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/cli"
)

// scrape is one GET /metrics, parsed.
type scrape map[string]*dto.MetricFamily

// scrapeMetrics fetches and parses the text exposition at base/metrics.
func scrapeMetrics(t *testing.T, base string) scrape {
	t.Helper()
	res, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("GET /metrics: %d %s: %.300s", res.StatusCode, res.Header.Get("Content-Type"), body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parsing /metrics: %v", err)
	}
	return fams
}

// value is a counter's or gauge's value, or a histogram's sample count, for
// the series with exactly these labels (name=value pairs); 0 if absent.
func (s scrape) value(name string, labels ...string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
series:
	for _, m := range f.Metric {
		if len(m.Label) != len(labels)/2 {
			continue
		}
		for i := 0; i+1 < len(labels); i += 2 {
			found := false
			for _, l := range m.Label {
				if l.GetName() == labels[i] && l.GetValue() == labels[i+1] {
					found = true
				}
			}
			if !found {
				continue series
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return 0
}

// total sums every series of a counter (histograms: sample counts).
func (s scrape) total(name string) float64 {
	f := s[name]
	if f == nil {
		return 0
	}
	var n float64
	for _, m := range f.Metric {
		n += m.GetCounter().GetValue() + float64(m.GetHistogram().GetSampleCount())
	}
	return n
}

// opID is the operation id the contract gives METHOD path: the label the
// request metrics use.
func opID(t *testing.T, method, path string) string {
	t.Helper()
	spec, err := server.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	item := spec.Paths.Find(path)
	if item == nil || item.GetOperation(method) == nil {
		t.Fatalf("no operation %s %s in the contract", method, path)
	}
	return item.GetOperation(method).OperationID
}

func metricsListener(t *testing.T) (net.Listener, string) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return ln, "http://" + ln.Addr().String()
}

// The real program serves /metrics on its own listener; known traffic
// moves the request, auth, mail and store metrics by exactly what it did.
func TestMetricsCountTheTraffic(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		ln, mbase := metricsListener(t)
		e := start(t, kind, func(c *cli.Config) {
			c.MetricsListener = ln
			c.LoginLimit.Count = 2
		})
		before := scrapeMetrics(t, mbase)

		l := e.login(nil, traderEmail, traderPass)
		for i := 0; i < 2; i++ {
			expect(t, e.post(nil, "/api/auth/login", map[string]string{"identifier": adminEmail, "password": "wrong-password"}), 401, "invalid_credentials")
		}
		expect(t, e.post(nil, "/api/auth/login", map[string]string{"identifier": adminEmail, "password": adminPass}), 429, "too_many_requests")
		expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": traderEmail}), 200, "")
		expect(t, e.do(nil, "GET", "/api/v1/orders/risk/rules", nil, bearer(l.jwt)...), 200, "")
		expect(t, e.do(nil, "GET", "/api/v1/nope", nil), 404, "not_found")
		e.waitMail(traderEmail, "recovery code", map[string]bool{})

		// The mail is written before the queue counts it delivered: wait
		// for the counter rather than race it.
		var after scrape
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			after = scrapeMetrics(t, mbase)
			if after.value("omsd_mail_delivered_total") > before.value("omsd_mail_delivered_total") || time.Now().After(deadline) {
				break
			}
		}
		moved := func(name string, want float64, labels ...string) {
			t.Helper()
			if d := after.value(name, labels...) - before.value(name, labels...); d != want {
				t.Errorf("%s%v moved by %v, want %v", name, labels, d, want)
			}
		}
		const reqs, dur = "omsd_http_requests_total", "omsd_http_request_duration_seconds"
		moved(reqs, 1, "operation", opID(t, "POST", "/api/auth/login"), "status", "200")
		moved(reqs, 2, "operation", opID(t, "POST", "/api/auth/login"), "status", "401")
		moved(reqs, 1, "operation", opID(t, "POST", "/api/auth/login"), "status", "429")
		moved(reqs, 1, "operation", opID(t, "POST", "/api/auth/recovery/start"), "status", "200")
		moved(reqs, 1, "operation", opID(t, "GET", "/api/v1/orders/risk/rules"), "status", "200")
		moved(reqs, 1, "operation", "<unmatched>", "status", "404")
		if d := after.total(reqs) - before.total(reqs); d != 7 {
			t.Errorf("%s moved by %v in all, want the 7 API requests (scrapes are not counted)", reqs, d)
		}
		moved(dur, 4, "operation", opID(t, "POST", "/api/auth/login"))
		moved(dur, 1, "operation", "<unmatched>")
		if d := after.total(dur) - before.total(dur); d != 7 {
			t.Errorf("%s observed %v requests, want 7", dur, d)
		}

		moved("omsd_auth_logins_total", 1, "outcome", "success")
		moved("omsd_auth_logins_total", 2, "outcome", "invalid_credentials")
		moved("omsd_auth_logins_total", 1, "outcome", "throttled")
		moved("omsd_auth_logins_total", 0, "outcome", "error")
		moved("omsd_auth_throttled_total", 1, "kind", "login")
		moved("omsd_auth_throttled_total", 0, "kind", "recovery_start")
		moved("omsd_auth_recovery_starts_total", 1, "outcome", "success")
		moved("omsd_auth_recovery_verifications_total", 0, "outcome", "success")

		moved("omsd_mail_delivered_total", 1)
		moved("omsd_mail_failures_total", 0, "reason", "delivery")
		if after["omsd_mail_queue_depth"] == nil || after.value("omsd_mail_queue_capacity") != 256 {
			t.Error("mail queue gauges missing")
		}
		for _, name := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_resident_memory_bytes"} {
			if after[name] == nil {
				t.Errorf("runtime metric %s missing", name)
			}
		}

		cmds, errs := "omsd_redis_command_duration_seconds", "omsd_redis_command_errors_total"
		if kind == "memory" {
			if after.total(cmds) != 0 {
				t.Errorf("%s has samples on the memory store", cmds)
			}
			return
		}
		// Every login counts hits on its throttle keys through the hit script.
		if d := after.value(cmds, "command", "evalsha", "script", "hit") - before.value(cmds, "command", "evalsha", "script", "hit"); d < 4 {
			t.Errorf("%s{evalsha,hit} moved by %v, want at least one per login (4)", cmds, d)
		}
		// The bearer check loads session and identity in one pipeline.
		if d := after.value(cmds, "command", "pipeline", "script", "") - before.value(cmds, "command", "pipeline", "script", ""); d < 1 {
			t.Errorf("%s{pipeline} moved by %v, want at least 1", cmds, d)
		}
		if d := after.total(errs) - before.total(errs); d != 0 {
			for _, m := range after[errs].Metric {
				t.Logf("%v %v", m.Label, m.Counter.GetValue())
			}
			t.Errorf("%s moved by %v on a healthy Redis", errs, d)
		}

		// Redis gone: the login fails as an error and the failed commands count.
		e.redis.Stop()
		expect(t, e.post(nil, "/api/auth/login", map[string]string{"identifier": traderEmail, "password": traderPass}), 502, "upstream_unavailable")
		down := scrapeMetrics(t, mbase)
		if d := down.value("omsd_auth_logins_total", "outcome", "error") - after.value("omsd_auth_logins_total", "outcome", "error"); d != 1 {
			t.Errorf("logins{outcome=error} moved by %v with Redis down, want 1", d)
		}
		if d := down.value(errs, "command", "evalsha", "script", "hit") - after.value(errs, "command", "evalsha", "script", "hit"); d < 1 {
			t.Errorf("%s{evalsha,hit} moved by %v with Redis down, want at least 1", errs, d)
		}
	})
}

// Verifications and resets count by outcome; static routes and requests
// no operation matches have their own operation label.
func TestMetricsCountRecoveryStepsAndOtherRoutes(t *testing.T) {
	t.Parallel()
	ln, mbase := metricsListener(t)
	e := start(t, "memory", func(c *cli.Config) {
		c.MetricsListener = ln
		c.VerifyIPLimit.Count = 3
	})
	before := scrapeMetrics(t, mbase)
	seen := map[string]bool{}
	expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
	code := e.recoveryCode(makerEmail, seen)
	wrong := "999999"
	if code == wrong {
		wrong = "999998"
	}
	expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": wrong}), 401, "invalid_code")
	expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": code}), 200, "")
	expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": "short"}), 400, "weak_password")
	expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": "a-fresh-maker-password-42"}), 200, "")
	// The jar dropped the consumed cookie: send an unknown one by hand.
	unknown := []string{"Cookie", recoveryCookieName + "=not-a-recovery-session"}
	expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": code}, unknown...), 401, "recovery_session_missing")
	expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": code}, unknown...), 429, "too_many_requests")
	if r := e.do(nil, "GET", "/openapi.json", nil); r.status != 200 {
		t.Fatalf("/openapi.json: %d", r.status)
	}
	expect(t, e.do(nil, "DELETE", "/api/auth/login", nil), 405, "method_not_allowed")
	after := scrapeMetrics(t, mbase)

	moved := func(name string, want float64, labels ...string) {
		t.Helper()
		if d := after.value(name, labels...) - before.value(name, labels...); d != want {
			t.Errorf("%s%v moved by %v, want %v", name, labels, d, want)
		}
	}
	const verifications, resets = "omsd_auth_recovery_verifications_total", "omsd_auth_recovery_resets_total"
	moved("omsd_auth_recovery_starts_total", 1, "outcome", "success")
	moved(verifications, 1, "outcome", "invalid_code")
	moved(verifications, 1, "outcome", "success")
	moved(verifications, 1, "outcome", "recovery_session_missing")
	moved(verifications, 1, "outcome", "throttled")
	moved(resets, 1, "outcome", "weak_password")
	moved(resets, 1, "outcome", "success")
	moved("omsd_auth_throttled_total", 1, "kind", "recovery_verify")
	moved("omsd_auth_throttled_total", 0, "kind", "recovery_reset")
	const reqs = "omsd_http_requests_total"
	moved(reqs, 1, "operation", opID(t, "POST", "/api/auth/recovery/verify"), "status", "429")
	moved(reqs, 1, "operation", opID(t, "POST", "/api/auth/recovery/reset-password"), "status", "400")
	moved(reqs, 1, "operation", "<static>", "status", "200")
	moved(reqs, 1, "operation", "<unmatched>", "status", "405")
	if d := after.total(reqs) - before.total(reqs); d != 9 {
		t.Errorf("%s moved by %v in all, want 9", reqs, d)
	}
}

// An empty metrics address turns metrics off: no handler, no listener, and
// the API serves as before.
func TestMetricsCanBeDisabled(t *testing.T) {
	t.Parallel()
	e := start(t, "memory", func(c *cli.Config) { c.MetricsAddr = "" })
	if e.app.MetricsHandler != nil {
		t.Fatal("metrics handler built with an empty metrics address")
	}
	e.login(nil, traderEmail, traderPass)
	expect(t, e.do(nil, "GET", "/metrics", nil), 404, "not_found")
	if strings.Contains(e.logs.String(), "serving metrics") {
		t.Fatal("metrics served with an empty metrics address")
	}
}
