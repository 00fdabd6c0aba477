package storetest

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/store"
)

// ---- identities ----

func (su suite) identities(t *testing.T) {
	su.test(t, "RoundTrip", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		want := newIdentity("id-1", "ann@example.com", now)
		must(t, s.CreateIdentity(ctx, want))
		got, err := s.IdentityByID(ctx, want.ID)
		must(t, err)
		sameIdentity(t, "by id", got, want)
		if !got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) {
			t.Errorf("times lost millisecond precision: %v %v, want %v %v", got.CreatedAt, got.UpdatedAt, want.CreatedAt, want.UpdatedAt)
		}
		got, err = s.IdentityByEmail(ctx, want.Email)
		must(t, err)
		sameIdentity(t, "by email", got, want)
		list, err := s.ListIdentities(ctx)
		must(t, err)
		if len(list) != 1 {
			t.Fatalf("ListIdentities: %d identities, want 1", len(list))
		}
		sameIdentity(t, "listed", list[0], want)
	})

	su.test(t, "RoundTripEmptyRolesAndZeroValues", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		for i, roles := range [][]string{nil, {}} {
			want := store.Identity{ID: fmt.Sprint("bare-", i), Email: fmt.Sprint("bare", i, "@example.com"), Roles: roles, State: store.IdentityActive}
			must(t, s.CreateIdentity(ctx, want))
			got, err := s.IdentityByID(ctx, want.ID)
			must(t, err)
			sameIdentity(t, "stored", got, want)
			if !got.CreatedAt.IsZero() {
				t.Errorf("zero CreatedAt came back as %v", got.CreatedAt)
			}
			// An update rewrites the record (in Redis through Lua/cjson,
			// which turns [] into {}); it must still decode.
			_, err = s.SetIdentityState(ctx, want.ID, store.IdentityDisabled, now)
			must(t, err)
			got, err = s.IdentityByID(ctx, want.ID)
			must(t, err)
			want.State, want.Generation, want.UpdatedAt = store.IdentityDisabled, 1, now
			sameIdentity(t, "after update", got, want)
			if len(got.Roles) != 0 {
				t.Errorf("roles = %q, want none", got.Roles)
			}
		}
	})

	su.test(t, "CreateConflictOnID", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		first := newIdentity("id-1", "ann@example.com", now)
		must(t, s.CreateIdentity(ctx, first))
		dup := newIdentity("id-1", "bob@example.com", now)
		dup.Name = "Bob"
		wantErr(t, "same id", s.CreateIdentity(ctx, dup), store.ErrConflict)
		got, err := s.IdentityByID(ctx, "id-1")
		must(t, err)
		sameIdentity(t, "original kept", got, first)
		_, err = s.IdentityByEmail(ctx, "bob@example.com")
		wantErr(t, "loser's email must not be indexed", err, store.ErrNotFound)
	})

	su.test(t, "CreateConflictOnEmail", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		first := newIdentity("id-1", "ann@example.com", now)
		must(t, s.CreateIdentity(ctx, first))
		wantErr(t, "same email", s.CreateIdentity(ctx, newIdentity("id-2", "ann@example.com", now)), store.ErrConflict)
		_, err := s.IdentityByID(ctx, "id-2")
		wantErr(t, "loser must not be stored", err, store.ErrNotFound)
		got, err := s.IdentityByEmail(ctx, "ann@example.com")
		must(t, err)
		sameIdentity(t, "original kept", got, first)
	})

	su.test(t, "NotFound", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		_, err := s.IdentityByID(ctx, "nobody")
		wantErr(t, "IdentityByID", err, store.ErrNotFound)
		_, err = s.IdentityByEmail(ctx, "nobody@example.com")
		wantErr(t, "IdentityByEmail", err, store.ErrNotFound)
		_, err = s.SetIdentityState(ctx, "nobody", store.IdentityDisabled, msNow())
		wantErr(t, "SetIdentityState", err, store.ErrNotFound)
		list, err := s.ListIdentities(ctx)
		must(t, err)
		if len(list) != 0 {
			t.Errorf("empty store lists %d identities", len(list))
		}
	})

	su.test(t, "ListOrderedByEmail", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		emails := []string{"carol@example.com", "ann@example.com", "dave@example.org", "bob@example.com"}
		for i, e := range emails {
			must(t, s.CreateIdentity(ctx, newIdentity(fmt.Sprintf("id-%d", 9-i), e, now)))
		}
		list, err := s.ListIdentities(ctx)
		must(t, err)
		var got []string
		for _, i := range list {
			got = append(got, i.Email)
		}
		want := slices.Sorted(slices.Values(emails))
		if !slices.Equal(got, want) {
			t.Errorf("ListIdentities order = %q, want %q", got, want)
		}
	})

	su.test(t, "SetIdentityState", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		want := newIdentity("id-1", "ann@example.com", now)
		must(t, s.CreateIdentity(ctx, want))

		steps := []struct {
			state store.IdentityState
			gen   int64
		}{
			{store.IdentityDisabled, 4}, // changed: generation bumps
			{store.IdentityDisabled, 4}, // unchanged: UpdatedAt only
			{store.IdentityActive, 5},
		}
		for i, st := range steps {
			at := now.Add(time.Duration(i+1)*time.Minute + 5*time.Millisecond)
			got, err := s.SetIdentityState(ctx, want.ID, st.state, at)
			must(t, err)
			want.State, want.Generation, want.UpdatedAt = st.state, st.gen, at
			sameIdentity(t, fmt.Sprintf("step %d returned", i), got, want)
			stored, err := s.IdentityByID(ctx, want.ID)
			must(t, err)
			sameIdentity(t, fmt.Sprintf("step %d stored", i), stored, want)
			byEmail, err := s.IdentityByEmail(ctx, want.Email)
			must(t, err)
			sameIdentity(t, fmt.Sprintf("step %d by email", i), byEmail, want)
		}
	})

	su.test(t, "RehashPassword", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		want := newIdentity("id-1", "ann@example.com", now)
		want.Generation = 7
		must(t, s.CreateIdentity(ctx, want))
		wantErr(t, "RehashPassword stale", s.RehashPassword(ctx, want.ID, "not-the-hash", "new"), store.ErrConflict)
		wantErr(t, "RehashPassword missing", s.RehashPassword(ctx, "nobody", want.PasswordHash, "new"), store.ErrNotFound)
		must(t, s.RehashPassword(ctx, want.ID, want.PasswordHash, "$argon2id$new"))
		want.PasswordHash = "$argon2id$new" // and nothing else: Generation stays, sessions survive
		got, err := s.IdentityByID(ctx, want.ID)
		must(t, err)
		sameIdentity(t, "after rehash", got, want)
		byEmail, err := s.IdentityByEmail(ctx, want.Email)
		must(t, err)
		sameIdentity(t, "after rehash by email", byEmail, want)
	})

	su.test(t, "LargeGenerationSurvivesUpdate", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		want := newIdentity("id-1", "ann@example.com", now)
		want.Generation = 1 << 40
		must(t, s.CreateIdentity(ctx, want))
		got, err := s.SetIdentityState(ctx, want.ID, store.IdentityDisabled, now)
		must(t, err)
		if got.Generation != 1<<40+1 {
			t.Errorf("generation = %d, want %d", got.Generation, int64(1<<40+1))
		}
	})

	su.test(t, "ReturnsCopies", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		in := newIdentity("id-1", "ann@example.com", now)
		must(t, s.CreateIdentity(ctx, in))
		want := in
		want.Roles = slices.Clone(in.Roles)
		in.Roles[0] = "changed-after-create"
		got, err := s.IdentityByID(ctx, "id-1")
		must(t, err)
		got.Roles[0] = "changed-by-reader"
		list, err := s.ListIdentities(ctx)
		must(t, err)
		list[0].Roles[1] = "changed-by-lister"
		again, err := s.IdentityByID(ctx, "id-1")
		must(t, err)
		sameIdentity(t, "after mutating inputs and outputs", again, want)
	})
}

// ---- sessions ----

func (su suite) sessions(t *testing.T) {
	// withIdentity stores the identity sessions in these tests belong to.
	withIdentity := func(t *testing.T, s store.Store, now time.Time) store.Identity {
		t.Helper()
		id := newIdentity("id-1", "ann@example.com", now)
		must(t, s.CreateIdentity(t.Context(), id))
		return id
	}

	su.test(t, "RoundTrip", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		ident := withIdentity(t, s, now)
		want := newSession("sess-1", ident.ID, now)
		must(t, s.CreateSession(ctx, want, now))
		got, err := s.SessionByTokenHash(ctx, want.TokenHash, now)
		must(t, err)
		sameSession(t, "by token", got, want)
		for i := range 2 { // twice: adapters may cache on the first call
			got, gotIdent, err := s.SessionWithIdentity(ctx, want.ID, now)
			must(t, err)
			sameSession(t, fmt.Sprintf("with identity #%d", i), got, want)
			sameIdentity(t, fmt.Sprintf("identity #%d", i), gotIdent, ident)
			if !store.SessionValid(got, gotIdent, now) {
				t.Errorf("fresh session not valid")
			}
			// The caller owns what it got: scribbling on it changes no
			// later answer (an adapter may keep decoded records).
			got.Devices[0].IPAddress, gotIdent.Roles[0] = "203.0.113.66", "scribbled"
		}
	})

	su.test(t, "RoundTripNoDevices", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		withIdentity(t, s, now)
		for i, devices := range [][]store.Device{nil, {}} {
			want := newSession(fmt.Sprint("sess-", i), "id-1", now)
			want.Devices = devices
			must(t, s.CreateSession(ctx, want, now))
			got, err := s.SessionByTokenHash(ctx, want.TokenHash, now)
			must(t, err)
			sameSession(t, "by token", got, want)
			got, _, err = s.SessionWithIdentity(ctx, want.ID, now)
			must(t, err)
			sameSession(t, "with identity", got, want)
		}
	})

	su.test(t, "CreateConflict", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		withIdentity(t, s, now)
		first := newSession("sess-1", "id-1", now)
		must(t, s.CreateSession(ctx, first, now))
		dup := newSession("sess-1", "id-2", now)
		dup.TokenHash = tokenHash("another token")
		wantErr(t, "same id", s.CreateSession(ctx, dup, now), store.ErrConflict)
		got, err := s.SessionByTokenHash(ctx, first.TokenHash, now)
		must(t, err)
		sameSession(t, "original by token", got, first)
		_, err = s.SessionByTokenHash(ctx, dup.TokenHash, now)
		wantErr(t, "loser's token must not find anything", err, store.ErrNotFound)
		got, _, err = s.SessionWithIdentity(ctx, "sess-1", now)
		must(t, err)
		sameSession(t, "original with identity", got, first)
	})

	su.test(t, "NotFound", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		_, err := s.SessionByTokenHash(ctx, tokenHash("nothing"), now)
		wantErr(t, "SessionByTokenHash", err, store.ErrNotFound)
		_, _, err = s.SessionWithIdentity(ctx, "nothing", now)
		wantErr(t, "SessionWithIdentity", err, store.ErrNotFound)
	})

	su.test(t, "ManyWithIdentity", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		ident := withIdentity(t, s, now)
		a, b := newSession("sess-a", ident.ID, now), newSession("sess-b", ident.ID, now)
		b.TokenHash = tokenHash("b's token")
		must(t, s.CreateSession(ctx, a, now))
		must(t, s.CreateSession(ctx, b, now))
		ids := []string{"sess-a", "nothing", "sess-b"}
		check := func(what string, at time.Time, found ...bool) []store.SessionCheck {
			t.Helper()
			got, err := s.SessionsWithIdentity(ctx, ids, at)
			must(t, err)
			if len(got) != len(ids) {
				t.Fatalf("%s: %d checks for %d sessions", what, len(got), len(ids))
			}
			for i, c := range got {
				if c.Found != found[i] {
					t.Fatalf("%s: %s found %v, want %v", what, ids[i], c.Found, found[i])
				}
			}
			return got
		}
		// First without, then with, what an adapter remembers of a check.
		for i := range 2 {
			got := check(fmt.Sprint("check #", i), now, true, false, true)
			sameSession(t, "a", got[0].Session, a)
			sameSession(t, "b", got[2].Session, b)
			sameIdentity(t, "a's identity", got[0].Identity, ident)
			got[0].Session.Devices[0].IPAddress, got[2].Identity.Roles[0] = "203.0.113.66", "scribbled"
		}
		check("at a's and b's expiry", a.ExpiresAt, false, false, false)
		must(t, s.DeleteSession(ctx, "sess-a"))
		check("a deleted", now, false, false, true)
		_, err := s.SetIdentityState(ctx, ident.ID, store.IdentityDisabled, now)
		must(t, err)
		// Whether a disabled identity's session counts is the caller's call:
		// the identity comes as it is now.
		if got := check("identity disabled", now, false, false, true); got[2].Identity.State != store.IdentityDisabled {
			t.Fatalf("b's identity %s, want it disabled", got[2].Identity.State)
		}
		if got, err := s.SessionsWithIdentity(ctx, nil, now); err != nil || len(got) != 0 {
			t.Fatalf("no sessions: %v, %v", got, err)
		}
	})

	su.test(t, "LogicalExpiryUsesNow", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		withIdentity(t, s, now)
		sess := newSession("sess-1", "id-1", now) // expires now+1h
		must(t, s.CreateSession(ctx, sess, now))
		cases := []struct {
			at    time.Time
			found bool
		}{
			{sess.ExpiresAt.Add(-time.Millisecond), true},
			{sess.ExpiresAt, false},
			{sess.ExpiresAt.Add(11 * time.Minute), false},
			{now, true}, // the record itself must not have been touched
		}
		for _, c := range cases {
			_, err := s.SessionByTokenHash(ctx, sess.TokenHash, c.at)
			_, _, err2 := s.SessionWithIdentity(ctx, sess.ID, c.at)
			if c.found {
				must(t, err)
				must(t, err2)
			} else {
				wantErr(t, fmt.Sprintf("by token at expiry%+v", c.at.Sub(sess.ExpiresAt)), err, store.ErrNotFound)
				wantErr(t, fmt.Sprintf("with identity at expiry%+v", c.at.Sub(sess.ExpiresAt)), err2, store.ErrNotFound)
			}
		}
	})

	su.test(t, "WithIdentityMissingIdentity", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		sess := newSession("sess-1", "ghost", now)
		must(t, s.CreateSession(ctx, sess, now))
		for i := range 2 {
			_, _, err := s.SessionWithIdentity(ctx, sess.ID, now)
			wantErr(t, fmt.Sprintf("call %d", i), err, store.ErrNotFound)
		}
		// The session itself is still there.
		_, err := s.SessionByTokenHash(ctx, sess.TokenHash, now)
		must(t, err)
	})

	su.test(t, "WithIdentitySeesIdentityChanges", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		ident := withIdentity(t, s, now)
		sess := newSession("sess-1", ident.ID, now)
		must(t, s.CreateSession(ctx, sess, now))
		for range 2 {
			_, got, err := s.SessionWithIdentity(ctx, sess.ID, now)
			must(t, err)
			sameIdentity(t, "before", got, ident)
		}
		changed, err := s.SetIdentityState(ctx, ident.ID, store.IdentityDisabled, now)
		must(t, err)
		gotSess, got, err := s.SessionWithIdentity(ctx, sess.ID, now)
		must(t, err)
		sameIdentity(t, "after disable", got, changed)
		if store.SessionValid(gotSess, got, now) {
			t.Errorf("session still valid after its identity was disabled")
		}
	})

	su.test(t, "Delete", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		withIdentity(t, s, now)
		a, b := newSession("sess-a", "id-1", now), newSession("sess-b", "id-1", now)
		must(t, s.CreateSession(ctx, a, now))
		must(t, s.CreateSession(ctx, b, now))
		_, _, err := s.SessionWithIdentity(ctx, a.ID, now) // warm any cache
		must(t, err)
		must(t, s.DeleteSession(ctx, a.ID))
		_, err = s.SessionByTokenHash(ctx, a.TokenHash, now)
		wantErr(t, "deleted by token", err, store.ErrNotFound)
		_, _, err = s.SessionWithIdentity(ctx, a.ID, now)
		wantErr(t, "deleted with identity", err, store.ErrNotFound)
		must(t, s.DeleteSession(ctx, a.ID)) // idempotent
		must(t, s.DeleteSession(ctx, "never-existed"))
		got, err := s.SessionByTokenHash(ctx, b.TokenHash, now)
		must(t, err)
		sameSession(t, "other session untouched", got, b)
		// The id can be used again once deleted.
		must(t, s.CreateSession(ctx, a, now))
	})

	su.test(t, "ReclaimedAtExpiresAt", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		withIdentity(t, s, now)
		sess := newSession("sess-1", "id-1", now)
		// A window a loaded 2-core box can still meet (the lookup before
		// the sleep must land before the backend's TTL ends).
		sess.ExpiresAt = now.Add(1500 * time.Millisecond)
		must(t, s.CreateSession(ctx, sess, now))
		_, err := s.SessionByTokenHash(ctx, sess.TokenHash, now)
		must(t, err)
		time.Sleep(time.Until(sess.ExpiresAt) + 500*time.Millisecond)
		// Asked with the old `now` the session is logically alive, but the
		// backend must have dropped it.
		_, err = s.SessionByTokenHash(ctx, sess.TokenHash, now)
		wantErr(t, "by token after reclaim", err, store.ErrNotFound)
		_, _, err = s.SessionWithIdentity(ctx, sess.ID, now)
		wantErr(t, "with identity after reclaim", err, store.ErrNotFound)
		must(t, s.CreateSession(ctx, sess, now)) // the id is free again
	})

	su.test(t, "ReturnsCopies", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		withIdentity(t, s, now)
		in := newSession("sess-1", "id-1", now)
		must(t, s.CreateSession(ctx, in, now))
		want := in
		want.Devices = slices.Clone(in.Devices)
		in.Devices[0].Location = "changed-after-create"
		got, err := s.SessionByTokenHash(ctx, want.TokenHash, now)
		must(t, err)
		got.Devices[0].Location = "changed-by-reader"
		got, ident, err := s.SessionWithIdentity(ctx, want.ID, now)
		must(t, err)
		got.Devices[1].Location = "changed-by-reader"
		ident.Roles[0] = "changed-by-reader"
		got, ident, err = s.SessionWithIdentity(ctx, want.ID, now)
		must(t, err)
		sameSession(t, "session", got, want)
		sameIdentity(t, "identity", ident, newIdentity("id-1", "ann@example.com", now))
	})
}

// ---- recoveries ----

func (su suite) recoveries(t *testing.T) {
	su.test(t, "RoundTrip", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		with := newRecovery("a", "ek-a", "id-1", now)
		with.Attempts = 2
		without := newRecovery("b", "ek-b", "", now)
		without.CodeMAC = nil
		for _, want := range []store.Recovery{with, without} {
			must(t, s.StartRecovery(ctx, want, now))
			got, err := s.RecoveryByID(ctx, want.ID)
			must(t, err)
			sameRecovery(t, "stored", got, want)
			if !got.ExpiresAt.Equal(want.ExpiresAt) {
				t.Errorf("ExpiresAt %v, want %v", got.ExpiresAt, want.ExpiresAt)
			}
		}
	})

	su.test(t, "NotFound", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		_, err := s.RecoveryByID(ctx, "nothing")
		wantErr(t, "RecoveryByID", err, store.ErrNotFound)
		_, err = s.CountAttempt(ctx, "nothing", 5, now)
		wantErr(t, "CountAttempt", err, store.ErrNotFound)
		wantErr(t, "MarkVerified", s.MarkVerified(ctx, "nothing", "new", now.Add(time.Minute), now), store.ErrNotFound)
		_, err = s.CompleteRecovery(ctx, "nothing", "hash", now)
		wantErr(t, "CompleteRecovery", err, store.ErrNotFound)
	})

	su.test(t, "ByIDReturnsLogicallyExpired", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		r := newRecovery("a", "ek", "id-1", now)
		r.ExpiresAt = now.Add(-time.Minute) // already past, still retained
		must(t, s.StartRecovery(ctx, r, now))
		got, err := s.RecoveryByID(ctx, r.ID)
		must(t, err)
		sameRecovery(t, "expired record", got, r)
		_, err = s.CountAttempt(ctx, r.ID, 5, now)
		wantErr(t, "CountAttempt", err, store.ErrExpired)
	})

	su.test(t, "StartKeepsTwoPerEmailKey", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		first := newRecovery("first", "ek", "id-1", now)
		second := newRecovery("second", "ek", "id-1", now.Add(time.Second))
		third := newRecovery("third", "ek", "id-1", now.Add(2*time.Second))
		other := newRecovery("other", "ek-other", "id-2", now)
		must(t, s.StartRecovery(ctx, first, now))
		must(t, s.StartRecovery(ctx, other, now))
		must(t, s.StartRecovery(ctx, second, now))
		for _, r := range []store.Recovery{first, second, other} {
			got, err := s.RecoveryByID(ctx, r.ID)
			must(t, err)
			sameRecovery(t, r.ID+" live", got, r)
		}
		// A third start keeps the newest other (second) and voids the oldest.
		must(t, s.StartRecovery(ctx, third, now))
		_, err := s.RecoveryByID(ctx, first.ID)
		wantErr(t, "first", err, store.ErrNotFound)
		_, err = s.CountAttempt(ctx, first.ID, 5, now)
		wantErr(t, "first CountAttempt", err, store.ErrNotFound)
		for _, r := range []store.Recovery{second, third, other} {
			got, err := s.RecoveryByID(ctx, r.ID)
			must(t, err)
			sameRecovery(t, r.ID+" live", got, r)
		}
		// Starting again with a live id just replaces it.
		third.Attempts = 0
		third.CodeMAC = []byte("new code")
		must(t, s.StartRecovery(ctx, third, now))
		got, err := s.RecoveryByID(ctx, third.ID)
		must(t, err)
		sameRecovery(t, "restarted", got, third)
		got, err = s.RecoveryByID(ctx, second.ID)
		must(t, err)
		sameRecovery(t, "second kept by the restart", got, second)
		// Equal expiries: the later start is kept.
		x, y, z := newRecovery("x", "ek2", "id-1", now), newRecovery("y", "ek2", "id-1", now), newRecovery("z", "ek2", "id-1", now)
		for _, r := range []store.Recovery{x, y, z} {
			must(t, s.StartRecovery(ctx, r, now))
		}
		_, err = s.RecoveryByID(ctx, x.ID)
		wantErr(t, "x, the oldest of equals", err, store.ErrNotFound)
		_, err = s.RecoveryByID(ctx, y.ID)
		must(t, err)
	})

	su.test(t, "StartNeverVoidsAVerifiedRecovery", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		owner := newRecovery("owner", "ek", "id-1", now)
		must(t, s.StartRecovery(ctx, owner, now))
		must(t, s.MarkVerified(ctx, owner.ID, "owner-verified", now.Add(time.Minute), now))
		// Strangers start again and again, each expiring later than the verified one.
		for i := range 4 {
			must(t, s.StartRecovery(ctx, newRecovery(fmt.Sprint("stranger-", i), "ek", "id-1", now.Add(time.Duration(i+1)*time.Hour)), now))
		}
		got, err := s.RecoveryByID(ctx, "owner-verified")
		must(t, err)
		if got.State != store.RecoveryVerified {
			t.Fatalf("owner's recovery state %q", got.State)
		}
		for i := range 3 {
			_, err := s.RecoveryByID(ctx, tokenHash(fmt.Sprint("recovery-stranger-", i)))
			wantErr(t, fmt.Sprint("stranger ", i), err, store.ErrNotFound)
		}
		_, err = s.RecoveryByID(ctx, tokenHash("recovery-stranger-3"))
		must(t, err)
	})

	su.test(t, "CompleteVoidsTheOtherRecoveryOfTheAddress", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		ident := newIdentity("id-1", "ann@example.com", now)
		must(t, s.CreateIdentity(ctx, ident))
		a, b := newRecovery("a", "ek", ident.ID, now), newRecovery("b", "ek", ident.ID, now)
		must(t, s.StartRecovery(ctx, a, now))
		must(t, s.StartRecovery(ctx, b, now))
		must(t, s.MarkVerified(ctx, a.ID, "va", now.Add(time.Hour), now))
		must(t, s.MarkVerified(ctx, b.ID, "vb", now.Add(time.Hour), now))
		_, err := s.CompleteRecovery(ctx, "va", "$argon2id$new", now)
		must(t, err)
		_, err = s.RecoveryByID(ctx, "vb")
		wantErr(t, "the other verified recovery", err, store.ErrNotFound)
		_, err = s.CompleteRecovery(ctx, "vb", "$argon2id$again", now)
		wantErr(t, "complete the other", err, store.ErrNotFound)
	})

	su.test(t, "CountAttempt", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		want := newRecovery("a", "ek", "id-1", now)
		must(t, s.StartRecovery(ctx, want, now))
		for i := 1; i <= 3; i++ {
			got, err := s.CountAttempt(ctx, want.ID, 3, now)
			must(t, err)
			want.Attempts = i
			sameRecovery(t, fmt.Sprintf("attempt %d returned", i), got, want)
			stored, err := s.RecoveryByID(ctx, want.ID)
			must(t, err)
			sameRecovery(t, fmt.Sprintf("attempt %d stored", i), stored, want)
		}
		_, err := s.CountAttempt(ctx, want.ID, 3, now)
		wantErr(t, "4th attempt", err, store.ErrAttemptsExhausted)
		stored, err := s.RecoveryByID(ctx, want.ID)
		must(t, err)
		if stored.Attempts != 3 {
			t.Errorf("exhausted attempt incremented: Attempts = %d, want 3", stored.Attempts)
		}
		// A larger limit lets it continue.
		got, err := s.CountAttempt(ctx, want.ID, 4, now)
		must(t, err)
		if got.Attempts != 4 {
			t.Errorf("Attempts = %d, want 4", got.Attempts)
		}
	})

	su.test(t, "CountAttemptExpiredAndWrongState", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		r := newRecovery("a", "ek", "id-1", now) // expires now+10min
		must(t, s.StartRecovery(ctx, r, now))
		for _, at := range []time.Time{r.ExpiresAt, now.Add(11 * time.Minute)} {
			_, err := s.CountAttempt(ctx, r.ID, 5, at)
			wantErr(t, "at/after expiry", err, store.ErrExpired)
		}
		got, err := s.CountAttempt(ctx, r.ID, 5, r.ExpiresAt.Add(-time.Millisecond))
		must(t, err)
		if got.Attempts != 1 {
			t.Errorf("expired attempts were counted: Attempts = %d, want 1", got.Attempts)
		}
		v := newRecovery("v", "ek-v", "id-1", now)
		v.State = store.RecoveryVerified
		must(t, s.StartRecovery(ctx, v, now))
		_, err = s.CountAttempt(ctx, v.ID, 5, now)
		wantErr(t, "verified", err, store.ErrWrongState)
	})

	su.test(t, "MarkVerified", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		r := newRecovery("a", "ek", "id-1", now)
		must(t, s.StartRecovery(ctx, r, now))
		_, err := s.CountAttempt(ctx, r.ID, 5, now)
		must(t, err)
		newID := tokenHash("verified cookie")
		newExp := now.Add(15*time.Minute + 321*time.Millisecond)
		must(t, s.MarkVerified(ctx, r.ID, newID, newExp, now))
		_, err = s.RecoveryByID(ctx, r.ID)
		wantErr(t, "old id", err, store.ErrNotFound)
		got, err := s.RecoveryByID(ctx, newID)
		must(t, err)
		want := r
		want.ID, want.State, want.ExpiresAt, want.Attempts = newID, store.RecoveryVerified, newExp, 1
		sameRecovery(t, "verified", got, want)
		// Verified now: a second verification is the wrong state.
		wantErr(t, "again", s.MarkVerified(ctx, newID, "third", newExp, now), store.ErrWrongState)
		wantErr(t, "old id again", s.MarkVerified(ctx, r.ID, "third", newExp, now), store.ErrNotFound)
		// The new expiry is the one that counts.
		_, err = s.CompleteRecovery(ctx, newID, "h", r.ExpiresAt.Add(time.Minute))
		if errors.Is(err, store.ErrExpired) {
			t.Errorf("CompleteRecovery used the old expiry")
		}
	})

	su.test(t, "MarkVerifiedExpired", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		r := newRecovery("a", "ek", "id-1", now)
		must(t, s.StartRecovery(ctx, r, now))
		late := now.Add(11 * time.Minute)
		wantErr(t, "late", s.MarkVerified(ctx, r.ID, "new", late.Add(time.Minute), late), store.ErrExpired)
		got, err := s.RecoveryByID(ctx, r.ID)
		must(t, err)
		sameRecovery(t, "kept as it was", got, r)
		_, err = s.RecoveryByID(ctx, "new")
		wantErr(t, "new id", err, store.ErrNotFound)
	})

	su.test(t, "MarkVerifiedSameID", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		r := newRecovery("a", "ek", "id-1", now)
		must(t, s.StartRecovery(ctx, r, now))
		must(t, s.MarkVerified(ctx, r.ID, r.ID, now.Add(time.Hour), now))
		got, err := s.RecoveryByID(ctx, r.ID)
		must(t, err)
		if got.State != store.RecoveryVerified || !got.ExpiresAt.Equal(now.Add(time.Hour)) {
			t.Errorf("got %+v", got)
		}
	})

	su.test(t, "MarkVerifiedOntoExistingID", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		a, b := newRecovery("a", "ek-a", "id-1", now), newRecovery("b", "ek-b", "id-2", now)
		must(t, s.StartRecovery(ctx, a, now))
		must(t, s.StartRecovery(ctx, b, now))
		wantErr(t, "onto b", s.MarkVerified(ctx, a.ID, b.ID, now.Add(time.Hour), now), store.ErrConflict)
		got, err := s.RecoveryByID(ctx, a.ID)
		must(t, err)
		sameRecovery(t, "a kept", got, a)
		got, err = s.RecoveryByID(ctx, b.ID)
		must(t, err)
		sameRecovery(t, "b kept", got, b)
	})

	su.test(t, "EmailIndexFollowsMarkVerified", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		r := newRecovery("a", "ek", "id-1", now)
		must(t, s.StartRecovery(ctx, r, now))
		must(t, s.MarkVerified(ctx, r.ID, "verified-id", now.Add(time.Hour), now))
		// Two later starts: the verified recovery is the one kept beside each.
		must(t, s.StartRecovery(ctx, newRecovery("b", "ek", "id-1", now.Add(2*time.Hour)), now))
		must(t, s.StartRecovery(ctx, newRecovery("c", "ek", "id-1", now.Add(3*time.Hour)), now))
		_, err := s.RecoveryByID(ctx, "verified-id")
		must(t, err)
		_, err = s.RecoveryByID(ctx, tokenHash("recovery-b"))
		wantErr(t, "b", err, store.ErrNotFound)
	})

	su.test(t, "CompleteRecovery", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		ident := newIdentity("id-1", "ann@example.com", now)
		ident.Roles = []string{} // exercise the rewrite of an empty array
		must(t, s.CreateIdentity(ctx, ident))
		r := newRecovery("a", "ek", ident.ID, now)
		must(t, s.StartRecovery(ctx, r, now))
		must(t, s.MarkVerified(ctx, r.ID, "v", now.Add(time.Hour), now))
		at := now.Add(2*time.Minute + 9*time.Millisecond)
		got, err := s.CompleteRecovery(ctx, "v", "$argon2id$new", at)
		must(t, err)
		want := ident
		want.PasswordHash, want.Generation, want.UpdatedAt = "$argon2id$new", ident.Generation+1, at
		sameIdentity(t, "returned", got, want)
		stored, err := s.IdentityByID(ctx, ident.ID)
		must(t, err)
		sameIdentity(t, "stored", stored, want)
		stored, err = s.IdentityByEmail(ctx, ident.Email)
		must(t, err)
		sameIdentity(t, "by email", stored, want)
		_, err = s.RecoveryByID(ctx, "v")
		wantErr(t, "consumed", err, store.ErrNotFound)
		_, err = s.CompleteRecovery(ctx, "v", "$argon2id$again", at)
		wantErr(t, "second completion", err, store.ErrNotFound)
		// A new recovery for the address can start and finish.
		must(t, s.StartRecovery(ctx, newRecovery("b", "ek", ident.ID, now), now))
		must(t, s.MarkVerified(ctx, tokenHash("recovery-b"), "v2", now.Add(time.Hour), now))
		got, err = s.CompleteRecovery(ctx, "v2", "$argon2id$third", at)
		must(t, err)
		if got.Generation != ident.Generation+2 {
			t.Errorf("Generation = %d, want %d", got.Generation, ident.Generation+2)
		}
	})

	su.test(t, "CompleteRecoveryKeepsOnExpiredOrWrongState", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		ident := newIdentity("id-1", "ann@example.com", now)
		must(t, s.CreateIdentity(ctx, ident))
		pending := newRecovery("p", "ek-p", ident.ID, now)
		must(t, s.StartRecovery(ctx, pending, now))
		_, err := s.CompleteRecovery(ctx, pending.ID, "hash", now)
		wantErr(t, "pending", err, store.ErrWrongState)
		got, err := s.RecoveryByID(ctx, pending.ID)
		must(t, err)
		sameRecovery(t, "pending kept", got, pending)

		verified := newRecovery("v", "ek-v", ident.ID, now)
		verified.State = store.RecoveryVerified
		must(t, s.StartRecovery(ctx, verified, now))
		for _, at := range []time.Time{verified.ExpiresAt, now.Add(11 * time.Minute)} {
			_, err = s.CompleteRecovery(ctx, verified.ID, "hash", at)
			wantErr(t, "expired", err, store.ErrExpired)
		}
		got, err = s.RecoveryByID(ctx, verified.ID)
		must(t, err)
		sameRecovery(t, "expired kept", got, verified)
		stored, err := s.IdentityByID(ctx, ident.ID)
		must(t, err)
		sameIdentity(t, "identity untouched", stored, ident)
	})

	su.test(t, "CompleteRecoveryWithoutUsableIdentityConsumes", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		disabled := newIdentity("id-off", "off@example.com", now)
		disabled.State = store.IdentityDisabled
		must(t, s.CreateIdentity(ctx, disabled))
		for _, identityID := range []string{"", "ghost", disabled.ID} {
			r := newRecovery("r-"+identityID, "ek-"+identityID, identityID, now)
			r.State = store.RecoveryVerified
			must(t, s.StartRecovery(ctx, r, now))
			_, err := s.CompleteRecovery(ctx, r.ID, "hash", now)
			wantErr(t, fmt.Sprintf("identity %q", identityID), err, store.ErrNotFound)
			_, err = s.RecoveryByID(ctx, r.ID)
			wantErr(t, fmt.Sprintf("recovery for %q consumed", identityID), err, store.ErrNotFound)
		}
		got, err := s.IdentityByID(ctx, disabled.ID)
		must(t, err)
		sameIdentity(t, "disabled identity untouched", got, disabled)
	})

	su.test(t, "ReturnsCopies", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		in := newRecovery("a", "ek", "id-1", now)
		want := in
		want.CodeMAC = slices.Clone(in.CodeMAC)
		must(t, s.StartRecovery(ctx, in, now))
		in.CodeMAC[0] = 'X'
		got, err := s.RecoveryByID(ctx, want.ID)
		must(t, err)
		got.CodeMAC[1] = 'Y'
		got, err = s.CountAttempt(ctx, want.ID, 5, now)
		must(t, err)
		got.CodeMAC[2] = 'Z'
		got, err = s.RecoveryByID(ctx, want.ID)
		must(t, err)
		want.Attempts = 1
		sameRecovery(t, "after mutating inputs and outputs", got, want)
	})
}

// ---- races ----

const racers = 32

// race runs f in n goroutines released together and returns their errors.
func race(n int, f func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = f(i)
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// oneWinner asserts exactly one nil error and every other error is loser,
// and returns the winner's index.
func oneWinner(t *testing.T, errs []error, loser error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("callers %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, loser):
			t.Errorf("caller %d: got %v, want %v", i, err, loser)
		}
	}
	if winner < 0 {
		t.Fatalf("nobody won")
	}
	return winner
}

func (su suite) races(t *testing.T) {
	su.test(t, "MarkVerified", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		r := newRecovery("a", "ek", "id-1", now)
		must(t, s.StartRecovery(ctx, r, now))
		newID := func(i int) string { return fmt.Sprintf("verified-%d", i) }
		errs := race(racers, func(i int) error {
			return s.MarkVerified(ctx, r.ID, newID(i), now.Add(time.Hour), now)
		})
		w := oneWinner(t, errs, store.ErrNotFound)
		for i := range racers {
			_, err := s.RecoveryByID(ctx, newID(i))
			if i == w {
				must(t, err)
			} else {
				wantErr(t, "loser's id", err, store.ErrNotFound)
			}
		}
	})

	su.test(t, "CompleteRecovery", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		ident := newIdentity("id-1", "ann@example.com", now)
		must(t, s.CreateIdentity(ctx, ident))
		r := newRecovery("a", "ek", ident.ID, now)
		r.State = store.RecoveryVerified
		must(t, s.StartRecovery(ctx, r, now))
		hash := func(i int) string { return fmt.Sprintf("$argon2id$%d", i) }
		results := make([]store.Identity, racers)
		errs := race(racers, func(i int) error {
			var err error
			results[i], err = s.CompleteRecovery(ctx, r.ID, hash(i), now)
			return err
		})
		w := oneWinner(t, errs, store.ErrNotFound)
		got, err := s.IdentityByID(ctx, ident.ID)
		must(t, err)
		if got.Generation != ident.Generation+1 {
			t.Errorf("Generation = %d, want exactly one increment to %d", got.Generation, ident.Generation+1)
		}
		if got.PasswordHash != hash(w) {
			t.Errorf("PasswordHash = %q, want the winner's %q", got.PasswordHash, hash(w))
		}
		sameIdentity(t, "winner's result", results[w], got)
	})

	su.test(t, "CountAttempt", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		r := newRecovery("a", "ek", "id-1", now)
		must(t, s.StartRecovery(ctx, r, now))
		const limit = 5
		attempts := make([]int, racers)
		errs := race(racers, func(i int) error {
			got, err := s.CountAttempt(ctx, r.ID, limit, now)
			attempts[i] = got.Attempts
			return err
		})
		var seen []int
		for i, err := range errs {
			switch {
			case err == nil:
				seen = append(seen, attempts[i])
			case !errors.Is(err, store.ErrAttemptsExhausted):
				t.Errorf("caller %d: %v", i, err)
			}
		}
		slices.Sort(seen)
		if !slices.Equal(seen, []int{1, 2, 3, 4, 5}) {
			t.Errorf("successful attempts saw counts %v, want [1 2 3 4 5]", seen)
		}
		got, err := s.RecoveryByID(ctx, r.ID)
		must(t, err)
		if got.Attempts != limit {
			t.Errorf("Attempts = %d, want %d", got.Attempts, limit)
		}
	})

	su.test(t, "CreateIdentitySameEmail", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		errs := race(racers, func(i int) error {
			return s.CreateIdentity(ctx, newIdentity(fmt.Sprint("id-", i), "ann@example.com", now))
		})
		w := oneWinner(t, errs, store.ErrConflict)
		got, err := s.IdentityByEmail(ctx, "ann@example.com")
		must(t, err)
		if got.ID != fmt.Sprint("id-", w) {
			t.Errorf("email points at %q, winner was id-%d", got.ID, w)
		}
		list, err := s.ListIdentities(ctx)
		must(t, err)
		if len(list) != 1 {
			t.Errorf("%d identities stored, want 1", len(list))
		}
	})

	su.test(t, "CreateIdentitySameID", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		email := func(i int) string { return fmt.Sprintf("user%d@example.com", i) }
		errs := race(racers, func(i int) error {
			return s.CreateIdentity(ctx, newIdentity("id-1", email(i), now))
		})
		w := oneWinner(t, errs, store.ErrConflict)
		for i := range racers {
			_, err := s.IdentityByEmail(ctx, email(i))
			if i == w {
				must(t, err)
			} else {
				wantErr(t, "loser's email", err, store.ErrNotFound)
			}
		}
	})

	su.test(t, "StartRecoverySameEmailKey", func(t *testing.T, s store.Store) {
		ctx, now := t.Context(), msNow()
		rec := func(i int) store.Recovery { return newRecovery(fmt.Sprint(i), "ek", "id-1", now) }
		errs := race(racers, func(i int) error { return s.StartRecovery(ctx, rec(i), now) })
		for i, err := range errs {
			if err != nil {
				t.Errorf("caller %d: %v", i, err)
			}
		}
		live := 0
		for i := range racers {
			if _, err := s.RecoveryByID(ctx, rec(i).ID); err == nil {
				live++
			} else {
				wantErr(t, "voided", err, store.ErrNotFound)
			}
		}
		if live != store.MaxLiveRecoveries {
			t.Errorf("%d recoveries live for one email key, want %d", live, store.MaxLiveRecoveries)
		}
	})

	su.test(t, "Hit", func(t *testing.T, s store.Store) {
		ctx := t.Context()
		counts := make([]int64, racers)
		errs := race(racers, func(i int) error {
			var err error
			counts[i], _, err = s.Hit(ctx, "k", time.Minute)
			return err
		})
		for _, err := range errs {
			must(t, err)
		}
		slices.Sort(counts)
		for i, c := range counts {
			if c != int64(i+1) {
				t.Fatalf("counts %v, want 1..%d", counts, racers)
			}
		}
	})
}
