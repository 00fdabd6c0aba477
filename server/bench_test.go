package server_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/mail"
	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// mailbox keeps the last code mailed to each address, so a benchmark can
// verify without an SMTP round trip.
type mailbox struct {
	mu    sync.Mutex
	codes map[string]string
}

var codeRE = regexp.MustCompile(`\b\d{6}\b`)

// take removes and returns the code last mailed to addr ("" if none).
func (m *mailbox) take(addr string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	c := m.codes[addr]
	delete(m.codes, addr)
	return c
}

// await waits for a code mailed to addr: recovery mail goes out from a
// worker goroutine after StartRecovery returns.
func (m *mailbox) await(b *testing.B, addr string) string {
	b.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Microsecond) {
		if c := m.take(addr); c != "" {
			return c
		}
	}
	b.Fatalf("no recovery code mailed to %s within 5 s", addr)
	return ""
}

func (m *mailbox) Send(_ context.Context, msg mail.Message) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if c := codeRE.FindString(msg.Text); c != "" {
		m.codes[msg.To] = c
	}
	return nil
}

// cheapHash is the smallest argon2id the hasher accepts: benchmarks of the
// request path measure everything but the (deliberately slow) hash.
var cheapHash = password.Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16}

type benchStack struct {
	h    http.Handler
	auth *auth.Service
	iss  *token.Issuer
	box  *mailbox
}

func newStack(b *testing.B, st store.Store) benchStack {
	b.Helper()
	key, err := token.GenerateKey("ES256")
	if err != nil {
		b.Fatal(err)
	}
	iss, err := token.NewIssuer(token.Config{Issuer: "omsd", Audience: "vero-oms"}, key)
	if err != nil {
		b.Fatal(err)
	}
	box := &mailbox{codes: map[string]string{}}
	hasher := password.NewHasher(cheapHash, 2)
	unlimited := auth.Limit{Count: 1 << 40, Window: time.Hour}
	svc, err := auth.New(auth.Config{
		LoginPerIdentifier: unlimited, LoginPerIP: unlimited, RecoveryPerEmail: unlimited,
		RecoveryPerIP: unlimited, RecoveryVerifyPerIP: unlimited, RecoveryResetPerIP: unlimited,
	}, auth.Deps{Store: st, Hasher: hasher, Tokens: iss, Mailer: box, Secret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		b.Fatal(err)
	}
	admin := auth.NewIdentityAdmin(st, hasher, svc.Config().PasswordPolicy)
	if _, err := admin.CreateIdentity(context.Background(), auth.NewIdentity{
		Email: "bench@oms.example", Password: "bench-password-1", Roles: []string{"admin"}}); err != nil {
		b.Fatal(err)
	}
	h, err := server.New(server.Options{Services: server.Services{Auth: svc, Tokens: iss, Health: st}.WithBackOffice(st, nil), Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	return benchStack{h: h, auth: svc, iss: iss, box: box}
}

func stores(b *testing.B) map[string]func(b *testing.B) store.Store {
	return map[string]func(b *testing.B) store.Store{
		"memory": func(b *testing.B) store.Store { return memory.New() },
		"redis": func(b *testing.B) store.Store {
			srv := redistest.StartRedis(b)
			st, err := redis.Open(context.Background(), redis.Options{URL: srv.URL(), Prefix: redistest.UniquePrefix()})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = st.Close() })
			return st
		},
	}
}

// serve runs one request through h. The request is built as net/http's
// server hands it over (http.NoBody when there is none, a remote address),
// without httptest.NewRequest's per-call 4 KiB reader, which the real server
// pools and which would otherwise be a good part of what is measured.
func serve(b *testing.B, h http.Handler, method, path, body string, headers ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, path, rd)
	if err != nil {
		b.Fatal(err)
	}
	req.RemoteAddr, req.RequestURI = "192.0.2.1:1234", path
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// BenchmarkLogin is a full successful login (throttle counters, identity
// read, session write, JWT signing) with the hash made negligible.
func BenchmarkLogin(b *testing.B) {
	for name, open := range stores(b) {
		b.Run(name, func(b *testing.B) {
			s := newStack(b, open(b))
			body := `{"identifier":"bench@oms.example","password":"bench-password-1"}`
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if rec := serve(b, s.h, "POST", "/api/auth/login", body); rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkRecoveryVerify times the verify request alone; each iteration's
// recovery session is started outside the timer.
func BenchmarkRecoveryVerify(b *testing.B) {
	for name, open := range stores(b) {
		b.Run(name, func(b *testing.B) {
			s := newStack(b, open(b))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				s.box.take("bench@oms.example") // the previous iteration's
				ck, err := s.auth.StartRecovery(context.Background(), "bench@oms.example", auth.Client{IP: "192.0.2.1"})
				if err != nil {
					b.Fatal(err)
				}
				code := s.box.await(b, "bench@oms.example")
				b.StartTimer()
				rec := serve(b, s.h, "POST", "/api/auth/recovery/verify", `{"code":"`+code+`"}`,
					"Cookie", server.RecoveryCookieName+"="+ck.Value)
				if rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}

// BenchmarkBearerCheck is a bearer route end to end: JWT verification,
// session and identity lookup, role check, validation (the handler itself
// answers 501 at once). "hit" presents the same token every time, as a
// client does for the token's 15 minutes, so its signature is checked once
// and then served from the verified-token cache; "miss" presents a new token
// of the same session every time (all signed before the timer starts), so
// every iteration verifies a signature and adds a cache entry.
func BenchmarkBearerCheck(b *testing.B) {
	for name, open := range stores(b) {
		b.Run(name, func(b *testing.B) {
			s := newStack(b, open(b))
			in, err := s.auth.Login(context.Background(), "bench@oms.example", "bench-password-1", auth.Client{IP: "192.0.2.1"})
			if err != nil {
				b.Fatal(err)
			}
			run := func(b *testing.B, jwt func(i int) string) {
				b.ReportAllocs()
				b.ResetTimer()
				cpu := processCPU()
				for i := 0; i < b.N; i++ {
					if rec := serve(b, s.h, "GET", "/api/v1/util/latency/raw", "", "Authorization", "Bearer "+jwt(i)); rec.Code != 501 {
						b.Fatalf("%d %s", rec.Code, rec.Body)
					}
				}
				reportCPU(b, cpu)
			}
			b.Run("hit", func(b *testing.B) {
				before := s.iss.CacheStats()
				run(b, func(int) string { return in.JWT })
				if st := s.iss.CacheStats(); st.Hits-before.Hits < uint64(b.N-1) {
					b.Fatalf("%d hits in %d iterations", st.Hits-before.Hits, b.N)
				}
			})
			b.Run("miss", func(b *testing.B) {
				jwts := make([]string, b.N)
				for i := range jwts {
					if jwts[i], _, err = s.iss.Issue(in.Identity.ID, in.Session.ID, in.Identity.Email, in.Identity.Roles,
						in.Session.ExpiresAt, time.Now()); err != nil {
						b.Fatal(err)
					}
				}
				before := s.iss.CacheStats()
				run(b, func(i int) string { return jwts[i] })
				if st := s.iss.CacheStats(); st.Misses-before.Misses != uint64(b.N) {
					b.Fatalf("%d misses in %d iterations", st.Misses-before.Misses, b.N)
				}
			})
		})
	}
}

// reportCPU adds cpu-ns/op: the process's CPU time (all goroutines, GC
// included) since start, per iteration. With other work on the machine,
// ns/op (wall time) grows with the load; cpu-ns/op much less.
func reportCPU(b *testing.B, start time.Duration) {
	if d := processCPU() - start; d > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
