package auth

import (
	"context"
	"errors"
	"time"

	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/store"
)

// SignedIn is what a successful login or password reset returns.
type SignedIn struct {
	SessionToken string // only ever handed to the caller, never stored
	Session      store.Session
	Identity     store.Identity
	JWT          string
	Claims       token.Claims
}

// Principal is the caller of a bearer-protected route.
type Principal struct {
	IdentityID string
	SessionID  string
	Email      string
	Roles      []string
}

// HasAnyRole reports whether p holds one of roles (true when roles is empty).
func (p Principal) HasAnyRole(roles []string) bool {
	if len(roles) == 0 {
		return true
	}
	for _, want := range roles {
		for _, have := range p.Roles {
			if want == have {
				return true
			}
		}
	}
	return false
}

// Login checks an email and password and opens a session.
func (s *Service) Login(ctx context.Context, identifier, pw string, c Client) (SignedIn, error) {
	email := NormalizeEmail(identifier)
	hits := []hit{
		{"login:id:" + s.emailKey(email), s.cfg.LoginPerIdentifier},
		{"login:ip:" + c.IP, s.cfg.LoginPerIP},
	}
	if err := s.throttle(ctx, hits...); err != nil {
		return SignedIn{}, err
	}
	sctx, cancel := s.storeCtx(ctx)
	id, err := s.store.IdentityByEmail(sctx, email)
	cancel()
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Same cost as a real check so timing does not reveal unknown emails.
		s.hasher.VerifyDummy(ctx, pw)
		return SignedIn{}, errBadCredentials
	case err != nil:
		return SignedIn{}, unavailable(err)
	}
	ok, err := s.hasher.Verify(ctx, pw, id.PasswordHash)
	if err != nil {
		if ctx.Err() != nil {
			return SignedIn{}, unavailable(ctx.Err())
		}
		s.log.ErrorContext(ctx, "stored password hash unusable", "identity", id.ID, "err", err)
		return SignedIn{}, errBadCredentials
	}
	if !ok || id.State != store.IdentityActive {
		return SignedIn{}, errBadCredentials
	}
	s.forgive(ctx, hits...) // only failed logins count against the limits
	if s.hasher.NeedsRehash(id.PasswordHash) {
		s.rehash(ctx, id, pw)
	}
	return s.openSession(ctx, id, c)
}

// rehash moves a hash made with older parameters to the current ones while
// the password is at hand. Best effort: a failure only means trying again
// at the next login.
func (s *Service) rehash(ctx context.Context, id store.Identity, pw string) {
	h, err := s.hasher.Hash(ctx, pw)
	if err != nil {
		s.log.WarnContext(ctx, "password rehash failed", "identity", id.ID, "err", err)
		return
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	if err := s.store.RehashPassword(sctx, id.ID, id.PasswordHash, h); err != nil && !errors.Is(err, store.ErrConflict) {
		s.log.WarnContext(ctx, "password rehash not stored", "identity", id.ID, "err", err)
	}
}

var errBadCredentials = fail(CodeInvalidCredentials, "email or password is incorrect")

// openSession creates a session for id and signs its first JWT.
func (s *Service) openSession(ctx context.Context, id store.Identity, c Client) (SignedIn, error) {
	now := s.now()
	tok := newSessionToken()
	sess := store.Session{
		ID:              newSessionID(),
		TokenHash:       hashToken(tok),
		IdentityID:      id.ID,
		Generation:      id.Generation,
		AuthenticatedAt: now.UTC().Truncate(time.Millisecond),
		ExpiresAt:       now.Add(s.cfg.SessionLifespan).UTC().Truncate(time.Millisecond),
		Devices:         []store.Device{{IPAddress: c.IP, UserAgent: c.UserAgent}},
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	if err := s.store.CreateSession(sctx, sess, now); err != nil {
		return SignedIn{}, unavailable(err)
	}
	jwt, claims, err := s.tokens.Issue(id.ID, sess.ID, id.Email, id.Roles, sess.ExpiresAt, now)
	if err != nil {
		return SignedIn{}, &Error{Code: CodeInternal, Message: "could not sign the token", cause: err}
	}
	return SignedIn{SessionToken: tok, Session: sess, Identity: id, JWT: jwt, Claims: claims}, nil
}

// CurrentSession returns the session named by a session token with a freshly
// signed JWT (the "session refresh").
func (s *Service) CurrentSession(ctx context.Context, sessionToken string) (SignedIn, error) {
	sess, id, err := s.sessionByToken(ctx, sessionToken)
	if err != nil {
		return SignedIn{}, err
	}
	now := s.now()
	jwt, claims, err := s.tokens.Issue(id.ID, sess.ID, id.Email, id.Roles, sess.ExpiresAt, now)
	if err != nil {
		return SignedIn{}, &Error{Code: CodeInternal, Message: "could not sign the token", cause: err}
	}
	return SignedIn{Session: sess, Identity: id, JWT: jwt, Claims: claims}, nil
}

// Logout revokes the session named by a session token; its JWTs stop working
// at once because every bearer check looks the session up.
func (s *Service) Logout(ctx context.Context, sessionToken string) error {
	sess, _, err := s.sessionByToken(ctx, sessionToken)
	if err != nil {
		return err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	if err := s.store.DeleteSession(sctx, sess.ID); err != nil {
		return unavailable(err)
	}
	return nil
}

var errNoSession = fail(CodeUnauthorized, "the session token is not valid or has expired")

func (s *Service) sessionByToken(ctx context.Context, sessionToken string) (store.Session, store.Identity, error) {
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	now := s.now()
	sess, err := s.store.SessionByTokenHash(sctx, hashToken(sessionToken), now)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, store.Identity{}, errNoSession
	} else if err != nil {
		return store.Session{}, store.Identity{}, unavailable(err)
	}
	id, err := s.store.IdentityByID(sctx, sess.IdentityID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, store.Identity{}, errNoSession
	} else if err != nil {
		return store.Session{}, store.Identity{}, unavailable(err)
	}
	if !store.SessionValid(sess, id, now) {
		return store.Session{}, store.Identity{}, errNoSession
	}
	return sess, id, nil
}

var errBadBearer = fail(CodeUnauthorized, "a valid bearer token is required")

// Authenticate checks a bearer JWT and that its session is still active, so
// logout, password reset and disabling an identity take effect at once.
// Roles come from the identity as stored now, not from the token.
func (s *Service) Authenticate(ctx context.Context, jwt string) (Principal, error) {
	now := s.now()
	claims, err := s.tokens.Verify(jwt, now)
	if err != nil {
		return Principal{}, errBadBearer
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	sess, id, err := s.store.SessionWithIdentity(sctx, claims.SessionID, now)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, errBadBearer
	} else if err != nil {
		return Principal{}, unavailable(err)
	}
	if !store.SessionValid(sess, id, now) || sess.IdentityID != claims.Subject {
		return Principal{}, errBadBearer
	}
	return Principal{IdentityID: id.ID, SessionID: sess.ID, Email: id.Email, Roles: id.Roles}, nil
}
