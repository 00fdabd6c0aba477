package redis_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// roundTrips counts what a go-redis client sends: each command or pipeline
// written to the server is one round trip.
type roundTrips struct{ n, cmds atomic.Int64 }

var _ goredis.Hook = (*roundTrips)(nil)

func (h *roundTrips) DialHook(next goredis.DialHook) goredis.DialHook { return next }
func (h *roundTrips) ProcessHook(next goredis.ProcessHook) goredis.ProcessHook {
	return func(ctx context.Context, cmd goredis.Cmder) error {
		if setUp(cmd) {
			return next(ctx, cmd)
		}
		h.n.Add(1)
		h.cmds.Add(1)
		return next(ctx, cmd)
	}
}
func (h *roundTrips) ProcessPipelineHook(next goredis.ProcessPipelineHook) goredis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []goredis.Cmder) error {
		if len(cmds) > 0 && setUp(cmds[0]) {
			return next(ctx, cmds)
		}
		h.n.Add(1)
		h.cmds.Add(int64(len(cmds)))
		return next(ctx, cmds)
	}
}

// setUp reports whether cmd is part of a new connection's set-up (go-redis
// sends HELLO and CLIENT SETINFO when the pool opens one), not the store's.
func setUp(cmd goredis.Cmder) bool { return cmd.Name() == "hello" || cmd.Name() == "client" }

// storeOn is a store on srv under a fresh prefix (deleted afterwards),
// with the client it uses, for a hook to count what it sends.
func storeOn(t *testing.T, srv *redistest.RedisServer) (*redis.Store, *goredis.Client, string) {
	t.Helper()
	c := srv.NewClient(t)
	prefix := redistest.UniquePrefix()
	srv.DeletePrefixOnCleanup(t, prefix)
	return redis.New(c, prefix), c, prefix
}

// TestBearerCheckIsOneRoundTrip: after a session's first check, every
// SessionWithIdentity is exactly one round trip (a pipeline of two GETs),
// and a deleted session is noticed on the next one.
func TestBearerCheckIsOneRoundTrip(t *testing.T) {
	srv := redistest.StartRedis(t)
	s, c, _ := storeOn(t, srv)
	ctx, now := t.Context(), time.UnixMilli(time.Now().UnixMilli())
	id := store.Identity{ID: "id-rt", Email: "rt@example.com", Roles: []string{"trader"}, State: store.IdentityActive,
		PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
	if err := s.CreateIdentity(ctx, id); err != nil {
		t.Fatal(err)
	}
	sess := store.Session{ID: "sess-rt", TokenHash: "th-rt", IdentityID: id.ID, AuthenticatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateSession(ctx, sess, now); err != nil {
		t.Fatal(err)
	}
	h := &roundTrips{}
	c.AddHook(h)

	check := func() (int64, int64, error) {
		n0, c0 := h.n.Load(), h.cmds.Load()
		_, _, err := s.SessionWithIdentity(ctx, sess.ID, now)
		return h.n.Load() - n0, h.cmds.Load() - c0, err
	}
	if n, _, err := check(); err != nil || n > 2 {
		t.Fatalf("first check: %d round trips, %v; want at most 2", n, err)
	}
	for i := 0; i < 5; i++ {
		n, cmds, err := check()
		if err != nil || n != 1 || cmds != 2 {
			t.Fatalf("check %d: %d round trips, %d commands, %v; want 1 round trip of 2 GETs", i, n, cmds, err)
		}
	}
	if err := s.DeleteSession(ctx, sess.ID); err != nil {
		t.Fatal(err)
	}
	if n, _, err := check(); !errors.Is(err, store.ErrNotFound) || n != 1 {
		t.Fatalf("after logout: %d round trips, %v; want 1 and ErrNotFound", n, err)
	}
}

// TestRevocationRoundIsOneRoundTrip: the streams' revocation round checks
// every connected session with SessionsWithIdentity; sessions checked
// before (each connected one was, at connect) cost one round trip
// together, however many they are, and a logged-out one is noticed.
func TestRevocationRoundIsOneRoundTrip(t *testing.T) {
	srv := redistest.SharedRedis(t)
	s, c, prefix := storeOn(t, srv)
	ctx, now := t.Context(), time.UnixMilli(time.Now().UnixMilli())
	if err := s.CreateIdentity(ctx, store.Identity{ID: "id-1", Email: "ann@example.com", State: store.IdentityActive}); err != nil {
		t.Fatal(err)
	}
	var ids []string
	for i := range 300 {
		id := fmt.Sprint("sess-", i)
		if err := s.CreateSession(ctx, store.Session{ID: id, TokenHash: "th-" + id, IdentityID: "id-1", ExpiresAt: now.Add(time.Hour)}, now); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.SessionWithIdentity(ctx, id, now); err != nil { // as at connect
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	// Logged out on another instance: this one still remembers it.
	if err := redis.New(srv.NewClient(t), prefix).DeleteSession(ctx, "sess-7"); err != nil {
		t.Fatal(err)
	}
	h := &roundTrips{}
	c.AddHook(h)
	got, err := s.SessionsWithIdentity(ctx, ids, now)
	if err != nil || h.n.Load() != 1 || h.cmds.Load() != int64(2*len(ids)) {
		t.Fatalf("%d round trips, %d commands, %v for %d sessions; want 1 round trip of 2 GETs each", h.n.Load(), h.cmds.Load(), err, len(ids))
	}
	for i, g := range got {
		if g.Found != (ids[i] != "sess-7") {
			t.Fatalf("%s found %v", ids[i], g.Found)
		}
	}
	// An instance that remembers none of them (a restart, or more
	// sessions than its memo holds): one round trip more, not one each.
	fc := srv.NewClient(t)
	fresh := redis.New(fc, prefix)
	h2 := &roundTrips{}
	fc.AddHook(h2)
	got, err = fresh.SessionsWithIdentity(ctx, ids, now)
	if err != nil || h2.n.Load() != 2 {
		t.Fatalf("unremembered: %d round trips, %v for %d sessions; want 2", h2.n.Load(), err, len(ids))
	}
	for i, g := range got {
		if g.Found != (ids[i] != "sess-7") || g.Found && g.Identity.ID != "id-1" {
			t.Fatalf("unremembered %s: found %v, identity %q", ids[i], g.Found, g.Identity.ID)
		}
	}
	h2.n.Store(0) // the logged-out one's connection is closed by now
	if _, err := fresh.SessionsWithIdentity(ctx, slices.DeleteFunc(ids, func(id string) bool { return id == "sess-7" }), now); err != nil || h2.n.Load() != 1 {
		t.Fatalf("remembered since: %d round trips, %v; want 1", h2.n.Load(), err)
	}
}
