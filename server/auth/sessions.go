package auth

import (
	"context"
	"errors"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
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
	// Device is the device cookie to hand the client (password logins only).
	Device *DeviceCookie
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

// login checks an email and password and opens a session.
//
// Throttling follows OWASP's lockout guidance. A client with a valid device
// cookie for the account is limited on that device alone. Anyone else is
// limited per client network, then strictly per (email, network); failures
// from every network together only slow the account's logins down (never
// refuse them), and not for a network that signed in to the account before.
// So strangers can slow an account but never lock its owner out, and a
// correct password is never refused only because others failed.
func (s *Service) login(ctx context.Context, identifier, pw string, c Client) (SignedIn, error) {
	email := NormalizeEmail(identifier)
	ek := s.emailKey(email)
	netw := s.network(c.IP)
	deviceID, trusted := s.checkDevice(c.DeviceCookie, ek, s.now())
	var hits []hit
	if trusted {
		hits = []hit{{"login:dev:" + deviceID, s.cfg.LoginPerIdentifier}}
	} else {
		hits = []hit{
			{"login:net:" + netw, s.cfg.LoginPerIP},
			{"login:idnet:" + ek + ":" + netw, s.cfg.LoginPerIdentifier},
		}
	}
	if err := s.throttle(ctx, hits...); err != nil {
		return SignedIn{}, err
	}
	// The hits are counted: the bookkeeping below finishes even if the
	// client goes away, so an abandoned correct login never counts as a failure.
	work := context.WithoutCancel(ctx)
	if !trusted {
		acct, slow, err := s.accountPressure(work, ek, netw)
		if err != nil {
			return SignedIn{}, err
		}
		hits = append(hits, acct...)
		if slow {
			if err := s.slowDown(ctx); err != nil {
				s.forgive(work, hits...) // no password was tried
				return SignedIn{}, err
			}
		}
	}
	id, err := s.store.IdentityByEmail(ctx, email)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		s.forgive(work, hits...)
		return SignedIn{}, err
	}
	found := err == nil
	phc := id.PasswordHash
	if !found {
		// Same cost as a real check so timing does not reveal unknown emails.
		phc = s.hasher.Dummy()
	}
	hctx, cancel := s.hashCtx(ctx)
	ok, err := s.hasher.Verify(hctx, pw, phc)
	cancel()
	switch {
	case err != nil && (hctx.Err() != nil || ctx.Err() != nil):
		s.forgive(work, hits...) // the password was never checked
		return SignedIn{}, hashError(ctx, err)
	case err != nil:
		s.log.ErrorContext(ctx, "stored password hash unusable", "identity", id.ID, "err", err)
		return SignedIn{}, errBadCredentials
	case !found || !ok || id.State != store.IdentityActive:
		return SignedIn{}, errBadCredentials
	}
	s.forgive(work, hits...) // only failed logins count against the limits
	s.rememberNetwork(work, ek, netw)
	if ctx.Err() != nil {
		return SignedIn{}, errClientClosed(ctx.Err())
	}
	if s.hasher.NeedsRehash(id.PasswordHash) {
		s.rehash(ctx, id, pw)
	}
	in, err := s.openSession(ctx, id, c)
	if err != nil {
		return SignedIn{}, err
	}
	if !trusted {
		deviceID = newDeviceID()
	}
	dc := s.newDeviceCookie(deviceID, ek, s.now())
	in.Device = &dc
	return in, nil
}

// accountPressure counts a login attempt against the account from every
// network and reports whether the account is under enough pressure for
// this client to be slowed down. A network that signed in to the account
// before is neither counted nor slowed.
func (s *Service) accountPressure(ctx context.Context, emailKey, netw string) ([]hit, bool, error) {
	known, err := s.store.Count(ctx, "login:known:"+emailKey+":"+netw)
	if err != nil {
		return nil, false, err
	}
	if known > 0 {
		return nil, false, nil
	}
	h := hit{"login:acct:" + emailKey, s.cfg.LoginPerAccount}
	n, _, err := s.store.Hit(ctx, h.key, h.limit.Window)
	if err != nil {
		return nil, false, err
	}
	return []hit{h}, n > h.limit.Count, nil
}

// slowDown waits LoginSlowdown, or until the client leaves.
func (s *Service) slowDown(ctx context.Context) error {
	t := time.NewTimer(s.cfg.LoginSlowdown)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errClientClosed(ctx.Err())
	}
}

// rememberNetwork marks netw as one that signed in to the account.
func (s *Service) rememberNetwork(ctx context.Context, emailKey, netw string) {
	if _, _, err := s.store.Hit(ctx, "login:known:"+emailKey+":"+netw, s.cfg.KnownNetworkLifespan); err != nil {
		s.log.WarnContext(ctx, "could not remember the sign-in network", "err", err)
	}
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
	if err := s.store.RehashPassword(ctx, id.ID, id.PasswordHash, h); err != nil && !errors.Is(err, store.ErrConflict) {
		s.log.WarnContext(ctx, "password rehash not stored", "identity", id.ID, "err", err)
	}
}

var errBadCredentials = apperr.New(apperr.InvalidCredentials, "email or password is incorrect")

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
	if err := s.store.CreateSession(ctx, sess, now); err != nil {
		return SignedIn{}, err
	}
	jwt, claims, err := s.tokens.Issue(id.ID, sess.ID, id.Email, id.Roles, sess.ExpiresAt, now)
	if err != nil {
		return SignedIn{}, apperr.Wrap(apperr.Internal, "could not sign the token", err)
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
		return SignedIn{}, apperr.Wrap(apperr.Internal, "could not sign the token", err)
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
	if err := s.store.DeleteSession(ctx, sess.ID); err != nil {
		return err
	}
	return nil
}

var errNoSession = apperr.New(apperr.Unauthorized, "the session token is not valid or has expired")

func (s *Service) sessionByToken(ctx context.Context, sessionToken string) (store.Session, store.Identity, error) {
	now := s.now()
	sess, err := s.store.SessionByTokenHash(ctx, hashToken(sessionToken), now)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, store.Identity{}, errNoSession
	} else if err != nil {
		return store.Session{}, store.Identity{}, err
	}
	id, err := s.store.IdentityByID(ctx, sess.IdentityID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Session{}, store.Identity{}, errNoSession
	} else if err != nil {
		return store.Session{}, store.Identity{}, err
	}
	if !store.SessionValid(sess, id, now) {
		return store.Session{}, store.Identity{}, errNoSession
	}
	return sess, id, nil
}

var errBadBearer = apperr.New(apperr.Unauthorized, "a valid bearer token is required")

// Authenticate checks a bearer JWT and that its session is still active, so
// logout, password reset and disabling an identity take effect at once.
// Roles come from the identity as stored now, not from the token.
func (s *Service) Authenticate(ctx context.Context, jwt string) (Principal, error) {
	now := s.now()
	claims, err := s.tokens.Verify(jwt, now)
	if err != nil {
		return Principal{}, errBadBearer
	}
	sess, id, err := s.store.SessionWithIdentity(ctx, claims.SessionID, now)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, errBadBearer
	} else if err != nil {
		return Principal{}, err
	}
	return principalOf(store.SessionCheck{Session: sess, Identity: id, Found: true}, claims.Subject, now)
}

// principalOf is who a checked session is, if it is still valid for the
// token's subject.
func principalOf(c store.SessionCheck, subject string, now time.Time) (Principal, error) {
	sess, id := c.Session, c.Identity
	if !c.Found || !store.SessionValid(sess, id, now) || sess.IdentityID != subject {
		return Principal{}, errBadBearer
	}
	return Principal{IdentityID: id.ID, SessionID: sess.ID, Email: id.Email, Roles: id.Roles}, nil
}

// AuthenticateAll is Authenticate for many JWTs at once (the streams'
// revocation round), their sessions read in one store round trip where
// the store allows: the i-th principal or error answers jwts[i].
func (s *Service) AuthenticateAll(ctx context.Context, jwts []string) ([]Principal, []error) {
	now := s.now()
	out, errs := make([]Principal, len(jwts)), make([]error, len(jwts))
	subjects, ids, at := make([]string, 0, len(jwts)), make([]string, 0, len(jwts)), make([]int, 0, len(jwts))
	for i, jwt := range jwts {
		claims, err := s.tokens.Verify(jwt, now)
		if err != nil {
			errs[i] = errBadBearer
			continue
		}
		subjects, ids, at = append(subjects, claims.Subject), append(ids, claims.SessionID), append(at, i)
	}
	checks, err := s.store.SessionsWithIdentity(ctx, ids, now)
	for k, i := range at {
		if err != nil {
			errs[i] = err
			continue
		}
		out[i], errs[i] = principalOf(checks[k], subjects[k], now)
	}
	return out, errs
}
