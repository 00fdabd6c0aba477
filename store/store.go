// Package store defines what the service keeps between requests: identities,
// login sessions, password-recovery sessions, rate-limit counters, the
// back-office reference data and firm traders, and the audit log.
//
// Two adapters implement it: store/memory (embedded, single process) and
// store/redis (standalone, Sentinel or Cluster). store/storetest holds the one
// conformance suite both must pass.
//
// Times passed as `now` are the caller's clock. Adapters use them for every
// logical expiry decision so that the service (and tests) own the clock; the
// backend's own TTLs only reclaim space.
package store

import (
	"context"
	"errors"
)

// Errors every adapter returns (possibly wrapped) so callers can use errors.Is.
var (
	// ErrUnavailable wraps every failure of the backend itself: unreachable,
	// timed out, closed, or the caller's context ended (then the error also
	// matches context.Canceled or DeadlineExceeded). The transport answers
	// it with 502 (503 on /api/v1/oms/*).
	ErrUnavailable = errors.New("store: unavailable")
	// ErrOutcomeUnknown: a commit was sent but no answer came (the backend
	// timed out or the connection broke after the command left), so it may
	// or may not have been applied, now or later. It always comes wrapped
	// with ErrUnavailable. A caller that must give an answer that stays
	// true resolves it by reading, and fences the write if it is absent
	// (see trading's entry resolution).
	ErrOutcomeUnknown    = errors.New("store: outcome unknown")
	ErrNotFound          = errors.New("store: not found")
	ErrConflict          = errors.New("store: already exists")
	ErrExpired           = errors.New("store: expired")
	ErrWrongState        = errors.New("store: wrong state")
	ErrAttemptsExhausted = errors.New("store: attempts exhausted")
	// ErrInvalid: a record the store cannot hold (unknown kind, empty key,
	// malformed audit detail). Services validate input first; this guards
	// the records.
	ErrInvalid = errors.New("store: invalid record")
)

// Store is everything the service needs from a backend.
type Store interface {
	Identities
	Sessions
	Recoveries
	Counters
	Reference
	Audit
	BackOffice
	Outbox
	Trading
	Leases
	FIXSessions
	// Ping reports whether the backend answers.
	Ping(ctx context.Context) error
	Close() error
}
