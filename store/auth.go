package store

import (
	"context"
	"time"
)

// RecoveryRetention is how long a recovery record outlives its logical expiry
// so that a late request can be told "expired" rather than "missing".
const RecoveryRetention = 15 * time.Minute

// MaxLiveRecoveries is how many recoveries one address keeps live at once.
const MaxLiveRecoveries = 2

// IdentityState says whether an identity may sign in.
type IdentityState string

const (
	IdentityActive   IdentityState = "active"
	IdentityDisabled IdentityState = "disabled"
)

// Identity is an account that can sign in.
type Identity struct {
	ID           string
	Email        string // normalised (trimmed, lower case); unique
	Name         string
	Roles        []string
	PasswordHash string // argon2id PHC string
	State        IdentityState
	// Generation changes whenever every session of the identity must end
	// (password reset, disable). A session is valid only while its
	// Generation equals its identity's, so revocation is one write.
	Generation int64
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Device is where a session was opened from.
type Device struct {
	IPAddress string
	UserAgent string
	Location  string
}

// Session is a login session. The session token itself is never stored,
// only its SHA-256 (TokenHash).
type Session struct {
	ID              string // public id; the JWT `sid`
	TokenHash       string // hex SHA-256 of the session token
	IdentityID      string
	Generation      int64 // identity Generation at creation
	AuthenticatedAt time.Time
	ExpiresAt       time.Time
	Devices         []Device
}

// RecoveryState is the step a recovery session has reached.
type RecoveryState string

const (
	RecoveryPending  RecoveryState = "pending"  // code sent, not yet verified
	RecoveryVerified RecoveryState = "verified" // code verified, password not yet reset
)

// Recovery is a password-recovery session. Neither the cookie value nor the
// code is stored: ID is the hex SHA-256 of the cookie value and CodeMAC an
// HMAC of the code under a server secret.
type Recovery struct {
	ID         string
	EmailKey   string // HMAC of the normalised email: one live recovery per address
	IdentityID string // empty when no active identity has that email
	CodeMAC    []byte
	State      RecoveryState
	Attempts   int
	ExpiresAt  time.Time
}

// Identities keeps accounts.
type Identities interface {
	// CreateIdentity stores a new identity. ErrConflict if its ID or Email is taken.
	CreateIdentity(ctx context.Context, id Identity) error
	IdentityByID(ctx context.Context, id string) (Identity, error)       // ErrNotFound
	IdentityByEmail(ctx context.Context, email string) (Identity, error) // ErrNotFound; email already normalised
	ListIdentities(ctx context.Context) ([]Identity, error)              // ordered by Email
	// SetIdentityState changes State and UpdatedAt; when the state changes
	// it also increments Generation so existing sessions end. ErrNotFound.
	SetIdentityState(ctx context.Context, id string, state IdentityState, now time.Time) (Identity, error)
	// RehashPassword replaces PasswordHash with newHash only while it still
	// equals oldHash (so a concurrent reset wins), without touching
	// Generation: it re-encodes the same password, sessions stay valid.
	// ErrNotFound if missing; ErrConflict if the hash changed meanwhile.
	RehashPassword(ctx context.Context, id, oldHash, newHash string) error
}

// SessionCheck is one answer of SessionsWithIdentity.
type SessionCheck struct {
	Session  Session
	Identity Identity
	Found    bool
}

// Sessions keeps login sessions. Records disappear at ExpiresAt.
type Sessions interface {
	// CreateSession stores s until s.ExpiresAt. ErrConflict if s.ID is taken.
	CreateSession(ctx context.Context, s Session, now time.Time) error
	// SessionByTokenHash finds an unexpired session by its token hash. ErrNotFound.
	SessionByTokenHash(ctx context.Context, tokenHash string, now time.Time) (Session, error)
	// SessionWithIdentity loads an unexpired session and its identity, in one
	// round trip where the backend allows (this is the bearer-check hot path).
	// ErrNotFound if either is missing. Whether the pair is still valid
	// (Generation, identity State) is the caller's decision.
	SessionWithIdentity(ctx context.Context, sessionID string, now time.Time) (Session, Identity, error)
	// SessionsWithIdentity is SessionWithIdentity for many sessions at once
	// (the streams' revocation round checks every connected session), in
	// one round trip where the backend allows: the i-th check answers
	// sessionIDs[i], Found false where SessionWithIdentity says ErrNotFound.
	// Any other failure is the call's error.
	SessionsWithIdentity(ctx context.Context, sessionIDs []string, now time.Time) ([]SessionCheck, error)
	// DeleteSession removes a session and its token index. Idempotent.
	DeleteSession(ctx context.Context, sessionID string) error
}

// Recoveries keeps password-recovery sessions. Every method that changes one
// is atomic: under any concurrency exactly one caller can win a transition.
type Recoveries interface {
	// StartRecovery stores r (kept until r.ExpiresAt+RecoveryRetention).
	// At most MaxLiveRecoveries stay live per r.EmailKey: r and the one other
	// recovery of that address most worth keeping (a verified one first, so a
	// stranger's start never voids the owner's verified recovery; otherwise
	// the one expiring last, then the one started last). Every other
	// recovery of the address is voided.
	StartRecovery(ctx context.Context, r Recovery, now time.Time) error
	// RecoveryByID returns the record even if logically expired (until it is
	// reclaimed). ErrNotFound.
	RecoveryByID(ctx context.Context, id string) (Recovery, error)
	// CountAttempt counts one code-verification attempt before the caller
	// compares codes, and returns the record after the increment.
	// ErrNotFound if missing; ErrExpired if now >= ExpiresAt; ErrWrongState if
	// not pending; ErrAttemptsExhausted (without incrementing) if Attempts is
	// already >= maxAttempts.
	CountAttempt(ctx context.Context, id string, maxAttempts int, now time.Time) (Recovery, error)
	// MarkVerified moves a pending, unexpired recovery to newID with State
	// verified and the given ExpiresAt (the old id stops existing; the email
	// index follows). ErrNotFound if id is gone (e.g. another request won);
	// ErrExpired; ErrWrongState if not pending.
	MarkVerified(ctx context.Context, id, newID string, expiresAt, now time.Time) error
	// CompleteRecovery consumes a verified, unexpired recovery and, in the
	// same atomic step, sets its identity's PasswordHash, increments its
	// Generation (ending every session) and sets UpdatedAt. Returns the
	// updated identity. ErrNotFound if the recovery is gone; ErrExpired;
	// ErrWrongState if not verified (the recovery is kept). If the recovery
	// has no identity, or the identity is missing or not active, the recovery
	// is consumed and ErrNotFound returned. Either way every other recovery
	// of the same address is voided with it.
	CompleteRecovery(ctx context.Context, id, passwordHash string, now time.Time) (Identity, error)
}

// SessionValid reports whether a session loaded with its identity is still
// usable: not expired, identity active, and not revoked by a Generation bump.
func SessionValid(s Session, id Identity, now time.Time) bool {
	return now.Before(s.ExpiresAt) && id.State == IdentityActive && s.Generation == id.Generation && s.IdentityID == id.ID
}
