// Package e2e starts the real omsd program in-process (cli.Build + cli.Serve
// on a real loopback listener) and drives it over HTTP with a cookie jar.
// Every response is checked against the contract by contracttest.
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/contracttest"
	"github.com/vero-oms/omsd/server/mail"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/server/traffic"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// clock is a settable clock shared with the server.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// lockedBuffer collects logs written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

type env struct {
	t      *testing.T
	base   string
	app    *cli.App
	cfg    cli.Config
	clock  *clock
	logs   *lockedBuffer
	key    jwk.Key // the server's private signing key
	client *http.Client
	check  *contracttest.Transport
	// transport carries every request of this env's clients, so stop can
	// close the connections they keep (see stop in start).
	transport *http.Transport
	rec       *traffic.Recorder // nil unless recording (OMSD_E2E_HAR_DIR)
	redis     *redistest.RedisServer
	stop      func()
}

// recoveryCookieName is the recovery cookie's name in dev mode (no Secure).
// Every e2e test names the cookie through it.
const recoveryCookieName = "oms_recovery"

// stores lists the backends every end-to-end test runs against.
var stores = []string{"memory", "redis"}

func forEachStore(t *testing.T, fn func(t *testing.T, kind string)) {
	for _, kind := range stores {
		t.Run(kind, func(t *testing.T) { fn(t, kind) })
	}
}

// Every test here starts its own server on its own store (and its own
// redis-server), so most run in parallel (t.Parallel): the package fits its
// time on two cores. Those that assert an upper bound on how long
// something takes, or stop shared processes, stay serial and run first on
// a quiet machine.

// start runs omsd in dev mode (demo identities seeded) on a fresh store.
func start(t *testing.T, kind string, mutate ...func(*cli.Config)) *env {
	t.Helper()
	cfg, err := cli.ParseConfig([]string{"--dev"}, func(string) (string, bool) { return "", false }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg.MailOutbox = filepath.Join(dir, "outbox")
	cfg.HashConcurrency = 4
	// A 2-core box running the race detector can take seconds to get 16
	// concurrent argon2 hashes through 4 slots; only TestSaturatedHasherAnswers503
	// is about the bound, and it sets its own.
	cfg.HashWait = time.Minute
	// Cheap password hashes (dev mode allows them): argon2id at the
	// production cost is most of an end-to-end test's CPU under the race
	// detector. TestSaturatedHasherAnswers503 sets the real cost.
	cfg.HashMemoryKiB, cfg.HashTime = 64, 1
	// Generous for a loaded box, still well under the 2-3 s the outage tests allow.
	cfg.StoreTimeout = time.Second
	cfg.RedisTimeout = 300 * time.Millisecond
	cfg.ShutdownTimeout = 2 * time.Second
	cfg.MetricsAddr = "127.0.0.1:0" // never the fixed default port: tests run in parallel
	cfg.FIXAddr = "off"             // withFIX gives a test its own port
	// Most tests count audit entries from an empty log; withDemoData seeds
	// the demo back office as `make run` does.
	cfg.DemoData = false
	// Trading tests start from empty books; withMarketMaker rests the dev
	// market maker's orders as `make run` does.
	cfg.DevMarketMaker = false
	e := &env{t: t, clock: &clock{t: time.Now()}, logs: &lockedBuffer{}, rec: recorder(t)}
	cfg.Clock = e.clock.Now

	key, err := token.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	cfg.KeyFile = filepath.Join(dir, "jwt.jwk")
	if err := token.WriteKeyFile(cfg.KeyFile, key); err != nil {
		t.Fatal(err)
	}
	e.key = key

	if kind == "redis" {
		e.redis = redistest.StartRedis(t)
		cfg.RedisURL = e.redis.URL()
		cfg.DevRedis = true // a private, throwaway redis-server
		cfg.RedisPrefix = fmt.Sprintf("e2e:%d:", time.Now().UnixNano())
	}
	for _, m := range mutate {
		m(&cfg)
	}
	e.cfg = cfg
	log := slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	app, err := cli.Build(context.Background(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	e.app = app
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cli.Serve(ctx, cfg, app, ln, log) }()
	e.transport = http.DefaultTransport.(*http.Transport).Clone()
	var once sync.Once
	e.stop = func() {
		once.Do(func() {
			// http.Server.Shutdown closes idle connections at once but
			// counts a connection that never carried a request (StateNew) as
			// busy until it is 5 s old, longer than ShutdownTimeout. The
			// client transport leaves such connections behind when it dials
			// for a request that then gets a connection freed by another
			// (16 concurrent clients do that): close them first.
			e.transport.CloseIdleConnections()
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(e.stop)
	e.base = "http://" + ln.Addr().String()
	e.client, e.check = e.newClient()
	return e
}

// withDemoData seeds the demo back office (accounts, grants, a group,
// rules) as dev mode does by default.
func withDemoData(c *cli.Config) { c.DemoData = true }

// newClient returns a contract-checking client with its own cookie jar.
// With OMSD_E2E_HAR_DIR set, its traffic is also recorded into the HAR file
// of the test (see recorder).
func (e *env) newClient() (*http.Client, *contracttest.Transport) {
	jar, _ := cookiejar.New(nil)
	check := &contracttest.Transport{TB: e.t, Base: e.transport}
	if e.rec != nil {
		e.rec.Base = e.transport
		check.Base = e.rec
	}
	return &http.Client{Transport: check, Jar: jar}, check
}

// recorder returns the HAR recorder of a test when OMSD_E2E_HAR_DIR names a
// directory: every exchange of the test is written to DIR/<test name>.har
// when it ends, ready for `omsd validate` or any HAR tool.
func recorder(t *testing.T) *traffic.Recorder {
	dir := os.Getenv("OMSD_E2E_HAR_DIR")
	if dir == "" {
		return nil
	}
	rec := &traffic.Recorder{}
	t.Cleanup(func() {
		name := strings.NewReplacer("/", "_", " ", "_").Replace(t.Name()) + ".har"
		if err := rec.WriteFile(filepath.Join(dir, name)); err != nil {
			t.Errorf("writing HAR: %v", err)
		}
	})
	return rec
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("status %d: body is not a JSON object: %q", r.status, r.body)
	}
	return m
}

// do sends a request; body may be a string (sent raw) or a value (JSON).
func (e *env) do(c *http.Client, method, path string, body any, headers ...string) response {
	e.t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			e.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.base+path, rd)
	if err != nil {
		e.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	if c == nil {
		c = e.client
	}
	res, err := c.Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return response{status: res.StatusCode, header: res.Header, body: b}
}

func (e *env) post(c *http.Client, path string, body any, headers ...string) response {
	e.t.Helper()
	return e.do(c, http.MethodPost, path, body, headers...)
}

// expect fails unless r has the status and, for errors, the code.
func expect(t *testing.T, r response, status int, code string) map[string]any {
	t.Helper()
	if r.status != status {
		t.Fatalf("status %d, want %d: %s", r.status, status, r.body)
	}
	if r.status == http.StatusNoContent {
		return nil
	}
	m := r.json(t)
	if code != "" && m["error"] != code {
		t.Fatalf("error code %v, want %s: %s", m["error"], code, r.body)
	}
	return m
}

type login struct {
	token string
	jwt   string
	sid   string
}

func (e *env) login(c *http.Client, email, pw string) login {
	e.t.Helper()
	m := expect(e.t, e.post(c, "/api/auth/login", map[string]string{"identifier": email, "password": pw}), 200, "")
	sess := m["session"].(map[string]any)
	if tz := m["tokenizedSession"].(map[string]any); sess["tokenized"] != m["jwt"] || tz["tokenized"] != m["jwt"] {
		e.t.Fatalf("session.tokenized, jwt and tokenizedSession.tokenized must be the same JWT")
	}
	return login{token: m["sessionToken"].(string), jwt: m["jwt"].(string), sid: sess["id"].(string)}
}

func bearer(jwt string) []string { return []string{"Authorization", "Bearer " + jwt} }

// waitMail returns the newest outbox mail to `to` whose subject contains
// subject, waiting for the asynchronous sender. Mails seen before are skipped.
func (e *env) waitMail(to, subject string, seen map[string]bool) []byte {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(e.cfg.MailOutbox, "*.eml"))
		for _, f := range files {
			if seen[f] {
				continue
			}
			raw, err := os.ReadFile(f)
			if err != nil {
				continue
			}
			head := string(raw[:bytes.Index(raw, []byte("\r\n\r\n"))+1])
			if strings.Contains(head, to) && strings.Contains(head, subject) {
				seen[f] = true
				return raw
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.t.Fatalf("no mail to %s about %q within 5s", to, subject)
	return nil
}

func (e *env) recoveryCode(to string, seen map[string]bool) string {
	e.t.Helper()
	code, ok := mail.ExtractCode(e.waitMail(to, "recovery code", seen))
	if !ok {
		e.t.Fatal("no code in the recovery mail")
	}
	return code
}

// mailCount counts outbox files.
func (e *env) mailCount() int {
	files, _ := filepath.Glob(filepath.Join(e.cfg.MailOutbox, "*.eml"))
	return len(files)
}

// recoveryCookie returns the recovery cookie the jar would send to verify.
func (e *env) recoveryCookie(c *http.Client) string {
	req, _ := http.NewRequest(http.MethodPost, e.base+"/api/auth/recovery/verify", nil)
	for _, ck := range c.Jar.Cookies(req.URL) {
		if ck.Name == recoveryCookieName {
			return ck.Value
		}
	}
	return ""
}

const (
	adminEmail  = "admin@oms.example"
	adminPass   = "demo-admin-pass"
	traderEmail = "trader@oms.example"
	traderPass  = "demo-trader-pass"
	makerEmail  = "maker@oms.example"
	makerPass   = "demo-maker-pass"
)
