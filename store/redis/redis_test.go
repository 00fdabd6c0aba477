package redis_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
	"github.com/vero-oms/omsd/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, redistest.NewRedisStore)
}

// Against a real 3-master cluster every script runs on the node owning its
// first key's slot, and Redis rejects a script touching a key of another
// slot, so passing the suite proves the hash tags keep each script in one
// slot (and the session pipeline works across nodes).
func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cluster := redistest.StartRedisCluster(t, 3)
	storetest.Run(t, func(t *testing.T) store.Store { return cluster.NewStore(t) })
}

// open connects to srv with Open under a fresh prefix whose keys are
// deleted afterwards.
func open(t *testing.T, srv *redistest.RedisServer, o redis.Options) (*redis.Store, string) {
	t.Helper()
	o.Prefix = redistest.UniquePrefix()
	srv.DeletePrefixOnCleanup(t, o.Prefix)
	s, err := redis.Open(t.Context(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, o.Prefix
}

// twoInstances opens two stores on one prefix of the shared Redis, as two
// omsd instances on one deployment.
func twoInstances(t *testing.T) (srv *redistest.RedisServer, a, b *redis.Store, prefix string) {
	t.Helper()
	srv = redistest.SharedRedis(t)
	a, prefix = open(t, srv, redis.Options{URL: srv.URL()})
	b, err := redis.Open(t.Context(), redis.Options{URL: srv.URL(), Prefix: prefix})
	must(t, err)
	t.Cleanup(func() { _ = b.Close() })
	return srv, a, b, prefix
}

func wantBackendErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Fatalf("%s: no error", what)
	}
	for _, s := range []error{store.ErrNotFound, store.ErrConflict, store.ErrExpired, store.ErrWrongState, store.ErrAttemptsExhausted} {
		if errors.Is(err, s) {
			t.Fatalf("%s: %v is a store sentinel, want a backend error", what, err)
		}
	}
}

// pttl reads a key's TTL in ms (-1 none, -2 missing).
func pttl(t *testing.T, c *goredis.Client, key string) int64 {
	t.Helper()
	n, err := c.Do(t.Context(), "PTTL", key).Int64()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func wantTTL(t *testing.T, c *goredis.Client, key string, want time.Duration) {
	t.Helper()
	got := time.Duration(pttl(t, c, key)) * time.Millisecond
	if got > want || got < want-5*time.Second {
		t.Errorf("TTL of %s = %v, want about %v", key, got, want)
	}
}

func get(t *testing.T, c *goredis.Client, key string) string {
	t.Helper()
	v, err := c.Get(t.Context(), key).Result()
	if err != nil {
		t.Fatalf("GET %s: %v", key, err)
	}
	return v
}

// The documented key layout, and TTLs kept by Redis itself.
func TestKeyLayoutAndTTLs(t *testing.T) {
	srv := redistest.SharedRedis(t)
	raw := srv.NewClient(t)
	s, p := open(t, srv, redis.Options{URL: srv.URL()})
	ctx, now := t.Context(), time.Now()

	must(t, s.CreateIdentity(ctx, store.Identity{ID: "id-1", Email: "ann@example.com", State: store.IdentityActive}))
	if n := pttl(t, raw, p+"{auth}:identity:id-1"); n != -1 {
		t.Errorf("identity PTTL = %d, want -1 (no expiry)", n)
	}
	if v := get(t, raw, p+"{auth}:email:ann@example.com"); v != "id-1" {
		t.Errorf("email index = %q", v)
	}

	must(t, s.CreateSession(ctx, store.Session{ID: "sess-1", TokenHash: "th-1", IdentityID: "id-1", ExpiresAt: now.Add(time.Hour)}, now))
	wantTTL(t, raw, p+"{s:sess-1}", time.Hour)
	wantTTL(t, raw, p+"{t:th-1}", time.Hour)
	if v := get(t, raw, p+"{t:th-1}"); v != "sess-1" {
		t.Errorf("token index = %q", v)
	}

	must(t, s.StartRecovery(ctx, store.Recovery{ID: "r-1", EmailKey: "ek", State: store.RecoveryPending, ExpiresAt: now.Add(10 * time.Minute)}, now))
	wantTTL(t, raw, p+"{auth}:recovery:r-1", 10*time.Minute+store.RecoveryRetention)
	wantTTL(t, raw, p+"{auth}:recovery-emails:ek", 10*time.Minute+store.RecoveryRetention)

	must(t, s.MarkVerified(ctx, "r-1", "r-2", now.Add(30*time.Minute), now))
	if n := pttl(t, raw, p+"{auth}:recovery:r-1"); n != -2 {
		t.Errorf("old recovery key still there (PTTL %d)", n)
	}
	wantTTL(t, raw, p+"{auth}:recovery:r-2", 30*time.Minute+store.RecoveryRetention)
	wantTTL(t, raw, p+"{auth}:recovery-emails:ek", 30*time.Minute+store.RecoveryRetention)
	if v, err := raw.LRange(ctx, p+"{auth}:recovery-emails:ek", 0, -1).Result(); err != nil || !slices.Equal(v, []string{"r-2"}) {
		t.Errorf("recovery email index = %v (%v), want [r-2]", v, err)
	}

	_, _, err := s.Hit(ctx, "login:ann", time.Minute)
	must(t, err)
	wantTTL(t, raw, p+"{c:login:ann}", time.Minute)

	// Exactly the documented keys, all under the prefix.
	keys, err := raw.Keys(ctx, p+"*").Result()
	must(t, err)
	slices.Sort(keys)
	want := []string{
		p + "{auth}:email:ann@example.com",
		p + "{auth}:identities",
		p + "{auth}:identity:id-1",
		p + "{auth}:recovery-emails:ek",
		p + "{auth}:recovery:r-2",
		p + "{c:login:ann}",
		p + "{s:sess-1}",
		p + "{t:th-1}",
	}
	if !slices.Equal(keys, want) {
		t.Errorf("keys\n got %q\nwant %q", keys, want)
	}
}

// cjson writes an empty array back as {} and the Go side must read it; this
// checks the quirk really occurs, so the decode path is exercised.
func TestLuaRewrittenRecordDecodes(t *testing.T) {
	srv := redistest.SharedRedis(t)
	raw := srv.NewClient(t)
	s, p := open(t, srv, redis.Options{URL: srv.URL()})
	ctx, now := t.Context(), time.Now()
	must(t, s.CreateIdentity(ctx, store.Identity{ID: "id-1", Email: "ann@example.com", Roles: []string{}, State: store.IdentityActive, Generation: 1 << 40}))
	if v := get(t, raw, p+"{auth}:identity:id-1"); !strings.Contains(v, `"roles":[]`) {
		t.Fatalf("Go wrote %s", v)
	}
	_, err := s.SetIdentityState(ctx, "id-1", store.IdentityDisabled, now)
	must(t, err)
	if v := get(t, raw, p+"{auth}:identity:id-1"); !strings.Contains(v, `"roles":{}`) {
		t.Fatalf("expected cjson's {} for the empty array, got %s", v)
	}
	got, err := s.IdentityByID(ctx, "id-1")
	must(t, err)
	if len(got.Roles) != 0 || got.Generation != 1<<40+1 || got.State != store.IdentityDisabled || !got.UpdatedAt.Equal(time.UnixMilli(now.UnixMilli())) {
		t.Errorf("decoded %+v", got)
	}
}

// While the server is down calls fail fast with a backend error, and the
// store recovers by itself once the server is back.
func TestServerStoppedAndRestarted(t *testing.T) {
	srv := redistest.StartRedis(t)
	if !srv.Restartable() {
		t.Skip("external Redis cannot be restarted")
	}
	const timeout = 500 * time.Millisecond
	s, _ := open(t, srv, redis.Options{URL: srv.URL(), DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout})
	ctx, now := t.Context(), time.Now()
	must(t, s.CreateIdentity(ctx, store.Identity{ID: "id-1", Email: "ann@example.com", State: store.IdentityActive}))

	srv.Stop()
	calls := map[string]func() error{
		"IdentityByID":        func() error { _, err := s.IdentityByID(ctx, "id-1"); return err },
		"CreateIdentity":      func() error { return s.CreateIdentity(ctx, store.Identity{ID: "id-2", Email: "b@example.com"}) },
		"SessionWithIdentity": func() error { _, _, err := s.SessionWithIdentity(ctx, "sess", now); return err },
		"CountAttempt":        func() error { _, err := s.CountAttempt(ctx, "r", 5, now); return err },
		"Hit":                 func() error { _, _, err := s.Hit(ctx, "k", time.Minute); return err },
		"ListAudit":           func() error { _, err := s.ListAudit(ctx, store.AuditFilter{}); return err },
		"PutReferenceValue": func() error {
			_, _, err := s.PutReferenceValue(ctx, store.ReferenceValue{Kind: store.RefCompID, Value: "V"}, store.AuditEntry{Actor: "a", Action: "REFERENCE_ADDED"})
			return err
		},
		"Ping": func() error { return s.Ping(ctx) },
	}
	for name, call := range calls {
		start := time.Now()
		err := call()
		took := time.Since(start)
		wantBackendErr(t, name+" while stopped", err)
		if took > timeout {
			t.Errorf("%s took %v while the server was stopped, want < %v", name, took, timeout)
		}
	}

	srv.Start() // same port, empty
	deadline := time.Now().Add(5 * time.Second)
	for s.Ping(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatal("store did not reconnect after the server came back")
		}
		time.Sleep(20 * time.Millisecond)
	}
	must(t, s.CreateIdentity(ctx, store.Identity{ID: "id-1", Email: "ann@example.com", State: store.IdentityActive}))
	_, err := s.IdentityByID(ctx, "id-1")
	must(t, err)
}

// A server that accepts connections but never answers costs a call no more
// than the read timeout (retries disabled here; each retry adds one).
func TestHungServerTimesOut(t *testing.T) {
	srv := redistest.StartRedis(t)
	if !srv.Restartable() {
		t.Skip("external Redis cannot be paused")
	}
	const timeout = 500 * time.Millisecond
	s, _ := open(t, srv, redis.Options{URL: srv.URL(), DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, MaxRetries: -1})
	ctx, now := t.Context(), time.Now()
	must(t, s.Ping(ctx))

	srv.Pause()
	for i := range 3 {
		start := time.Now()
		_, _, err := s.SessionWithIdentity(ctx, "sess", now)
		took := time.Since(start)
		wantBackendErr(t, "SessionWithIdentity while hung", err)
		if took > timeout+250*time.Millisecond {
			t.Errorf("call %d took %v while the server hung, want about %v", i, took, timeout)
		}
	}
	srv.Resume()
	must(t, s.Ping(ctx))
}

func TestOpenErrors(t *testing.T) {
	ctx := t.Context()
	cases := map[string]redis.Options{
		"nothing":        {},
		"URL and Addrs":  {URL: "redis://127.0.0.1:1", Addrs: []string{"127.0.0.1:1"}},
		"bad scheme":     {URL: "http://127.0.0.1:1"},
		"brace prefix":   {Addrs: []string{"127.0.0.1:1"}, Prefix: "a{b}:"},
		"DB on cluster":  {Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, DB: 2},
		"nobody listens": {Addrs: []string{"127.0.0.1:1"}, DialTimeout: 200 * time.Millisecond},
	}
	for name, o := range cases {
		start := time.Now()
		s, err := redis.Open(ctx, o)
		if err == nil {
			_ = s.Close()
			t.Errorf("%s: Open succeeded", name)
			continue
		}
		if time.Since(start) > 2*time.Second {
			t.Errorf("%s: Open took %v to fail", name, time.Since(start))
		}
	}
	// A password in a bad URL stays out of the error.
	_, err := redis.Open(ctx, redis.Options{URL: "redis://user:s3cret@127.0.0.1:1/x"})
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("bad URL error %v", err)
	}
}

func TestOpenURLAndAddrs(t *testing.T) {
	srv := redistest.SharedRedis(t)
	cases := map[string]redis.Options{
		"URL and fields": {URL: srv.URL(), ReadTimeout: time.Second, PoolSize: 3, MaxRetries: 1},
	}
	if !srv.External() { // an external URL may carry a password, DB or options already
		cases["URL with DB and options"] = redis.Options{URL: srv.URL() + "/3?dial_timeout=2s"}
		cases["Addrs"] = redis.Options{Addrs: []string{srv.Addr()}, DB: 4}
	}
	for name, o := range cases {
		s, _ := open(t, srv, o)
		if err := s.Ping(t.Context()); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func TestNewRejectsBracePrefix(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New accepted a prefix with a brace")
		}
	}()
	redis.New(goredis.NewClient(&goredis.Options{Addr: "127.0.0.1:1"}), "x{")
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func benchStore(b *testing.B) store.Store {
	srv, prefix := redistest.SharedRedis(b), redistest.UniquePrefix()
	srv.DeletePrefixOnCleanup(b, prefix)
	s, err := redis.Open(b.Context(), redis.Options{URL: srv.URL(), Prefix: prefix})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	return s
}

func BenchmarkCountAttemptAndMarkVerified(b *testing.B) {
	storetest.BenchCountAttemptAndMarkVerified(b, benchStore(b))
}

func BenchmarkSessionWithIdentity(b *testing.B) {
	storetest.BenchSessionWithIdentity(b, benchStore(b))
}

// A commit whose reply never comes is reported as of unknown outcome, and
// rightly so: the server runs it when it resumes. (The trading service
// settles such an outcome by reading and fencing; see its resolve.go.)
func TestCommitWithoutReplyMayLandLater(t *testing.T) {
	srv := redistest.StartRedis(t)
	if !srv.Restartable() {
		t.Skip("external Redis cannot be paused")
	}
	const timeout = 300 * time.Millisecond
	s, _ := open(t, srv, redis.Options{URL: srv.URL(), DialTimeout: timeout, ReadTimeout: timeout, WriteTimeout: timeout, MaxRetries: -1})
	ctx := t.Context()
	// One commit first, so the server has the script (a commit sent as
	// EVALSHA to a server without it would fail when it resumes).
	_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		return tx.PutAccount(store.Account{AccountCode: "WARM01", Name: "warm"})
	})
	must(t, err)
	_, err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		if _, found, err := tx.Account("LATE01"); err != nil || found {
			return fmt.Errorf("account before: %v %w", found, err)
		}
		if err := tx.PutAccount(store.Account{AccountCode: "LATE01", Name: "late"}); err != nil {
			return err
		}
		srv.Pause() // the reads are done: only the commit meets the hung server
		return nil
	})
	srv.Resume()
	if !errors.Is(err, store.ErrOutcomeUnknown) || !errors.Is(err, store.ErrUnavailable) {
		t.Fatalf("commit to a hung server: %v, want ErrOutcomeUnknown and ErrUnavailable", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := s.Account(ctx, "LATE01")
		if err == nil {
			return // it landed after the client gave up
		}
		if !errors.Is(err, store.ErrNotFound) || time.Now().After(deadline) {
			t.Fatalf("the commit sent before the pause never landed: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func BenchmarkCommitOrderFeed(b *testing.B) {
	for _, every := range []int{1, 4} {
		b.Run(fmt.Sprintf("drain-every-%d", every), func(b *testing.B) {
			storetest.BenchCommitOrderFeed(b, benchStore(b), every)
		})
	}
}
