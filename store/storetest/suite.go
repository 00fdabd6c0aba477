// Package storetest is the conformance suite every store.Store adapter must
// pass. It imports only package store; the Redis harness is in
// store/redis/redistest.
package storetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/vero-oms/omsd/store"
)

// Run is the conformance suite. newStore must return an empty store (or one
// under its own key prefix) and close it in t.Cleanup; it is called once per
// subtest, and subtests run in parallel.
func Run(t *testing.T, newStore func(t *testing.T) store.Store) {
	su := suite{newStore: newStore}
	t.Run("Identities", su.identities)
	t.Run("Sessions", su.sessions)
	t.Run("Recoveries", su.recoveries)
	t.Run("Races", su.races)
	t.Run("Counters", su.counters)
	t.Run("Reference", su.reference)
	t.Run("Audit", su.audit)
	t.Run("BackOffice", su.backOffice)
	t.Run("Trading", su.trading)
	t.Run("OpenOrders", su.openOrders)
	t.Run("Outbox", su.outbox)
	t.Run("Settlement", su.settlement)
	t.Run("MarketDays", su.marketDays)
	t.Run("Leases", su.leases)
	t.Run("FIXSessions", su.fixSessions)
	t.Run("Prefetch", su.prefetch)
	t.Run("Lifecycle", su.lifecycle)
}

type suite struct {
	newStore func(t *testing.T) store.Store
}

// test runs f as a parallel subtest on a fresh store.
func (su suite) test(t *testing.T, name string, f func(t *testing.T, s store.Store)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		t.Parallel()
		f(t, su.newStore(t))
	})
}

// ---- fixtures ----

// msNow is the current time as stored: whole milliseconds, no monotonic
// reading. Times handed to the store are real so backend TTLs are sane.
func msNow() time.Time { return time.UnixMilli(time.Now().UnixMilli()) }

func newIdentity(id, email string, now time.Time) store.Identity {
	return store.Identity{
		ID:           id,
		Email:        email,
		Name:         `Zoë "Ops" O'Neil </script> 日本 \ /`,
		Roles:        []string{"admin", "dispatcher"},
		PasswordHash: "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNo",
		State:        store.IdentityActive,
		Generation:   3,
		CreatedAt:    now.Add(-48*time.Hour - 123*time.Millisecond),
		UpdatedAt:    now.Add(-time.Hour - 7*time.Millisecond),
	}
}

func tokenHash(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

func newSession(id, identityID string, now time.Time) store.Session {
	return store.Session{
		ID:              id,
		TokenHash:       tokenHash("token-" + id),
		IdentityID:      identityID,
		Generation:      3,
		AuthenticatedAt: now.Add(-5 * time.Minute),
		ExpiresAt:       now.Add(time.Hour),
		Devices: []store.Device{
			{IPAddress: "203.0.113.7", UserAgent: `Mozilla/5.0 "quoted" (X11; Linux)`, Location: "Zürich, CH"},
			{IPAddress: "2001:db8::1", UserAgent: "curl/8.0", Location: ""},
		},
	}
}

func newRecovery(id, emailKey, identityID string, now time.Time) store.Recovery {
	return store.Recovery{
		ID:         tokenHash("recovery-" + id),
		EmailKey:   emailKey,
		IdentityID: identityID,
		// Every byte value JSON or base64 could get wrong.
		CodeMAC:   append([]byte{0x00, 0xff, '/', '+', '=', '"', '\\'}, bytes.Repeat([]byte{0xfb}, 25)...),
		State:     store.RecoveryPending,
		Attempts:  0,
		ExpiresAt: now.Add(10 * time.Minute),
	}
}

// ---- comparison ----

// norm puts a record in the form adapters return: UTC, whole milliseconds,
// empty slices nil.
func normTime(t time.Time) time.Time { return time.UnixMilli(t.UnixMilli()).UTC() }

func nilIfEmpty[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return s
}

func normIdentity(i store.Identity) store.Identity {
	i.Roles = nilIfEmpty(i.Roles)
	i.CreatedAt, i.UpdatedAt = normTime(i.CreatedAt), normTime(i.UpdatedAt)
	return i
}

func normSession(s store.Session) store.Session {
	s.Devices = nilIfEmpty(s.Devices)
	s.AuthenticatedAt, s.ExpiresAt = normTime(s.AuthenticatedAt), normTime(s.ExpiresAt)
	return s
}

func normRecovery(r store.Recovery) store.Recovery {
	r.CodeMAC = nilIfEmpty(r.CodeMAC)
	r.ExpiresAt = normTime(r.ExpiresAt)
	return r
}

func sameIdentity(t *testing.T, what string, got, want store.Identity) {
	t.Helper()
	if g, w := normIdentity(got), normIdentity(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, g, w)
	}
}

func sameSession(t *testing.T, what string, got, want store.Session) {
	t.Helper()
	if g, w := normSession(got), normSession(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, g, w)
	}
}

func sameRecovery(t *testing.T, what string, got, want store.Recovery) {
	t.Helper()
	if g, w := normRecovery(got), normRecovery(want); !reflect.DeepEqual(g, w) {
		t.Errorf("%s:\n got %#v\nwant %#v", what, g, w)
	}
}

var sentinels = []error{store.ErrNotFound, store.ErrConflict, store.ErrExpired, store.ErrWrongState, store.ErrAttemptsExhausted, store.ErrInvalid}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
}

func wantErr(t *testing.T, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: got error %v, want %v", what, err, target)
	}
}

// wantBackendErr asserts a failure that is not one of the store's answers.
func wantBackendErr(t *testing.T, what string, err error) {
	t.Helper()
	if err == nil {
		t.Errorf("%s: got nil error, want a backend error", what)
		return
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			t.Errorf("%s: got %v, want a backend error, not a store sentinel", what, err)
		}
	}
}

// ---- lifecycle ----

func (su suite) lifecycle(t *testing.T) {
	su.test(t, "Ping", func(t *testing.T, s store.Store) {
		must(t, s.Ping(t.Context()))
	})

	su.test(t, "CanceledContext", func(t *testing.T, s store.Store) {
		now := msNow()
		// Something to find, so a nil error can't pass as "not found".
		must(t, s.CreateIdentity(t.Context(), newIdentity("id-1", "ann@example.com", now)))
		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		_, err := s.IdentityByID(ctx, "id-1")
		wantBackendErr(t, "IdentityByID", err)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("IdentityByID: %v does not wrap context.Canceled", err)
		}
		wantBackendErr(t, "CreateSession", s.CreateSession(ctx, newSession("s", "id-1", now), now))
		_, _, err = s.Hit(ctx, "k", time.Minute)
		wantBackendErr(t, "Hit", err)
		wantBackendErr(t, "Ping", s.Ping(ctx))
	})

	su.test(t, "Close", func(t *testing.T, s store.Store) {
		must(t, s.Close())
		wantBackendErr(t, "Ping after Close", s.Ping(context.Background()))
		_, err := s.IdentityByID(context.Background(), "id-1")
		wantBackendErr(t, "IdentityByID after Close", err)
	})
}
