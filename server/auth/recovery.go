package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vero-oms/omsd/server/mail"
	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/store"
)

// RecoveryCookie is the opaque recovery-session handle the client keeps.
type RecoveryCookie struct {
	Value     string
	ExpiresAt time.Time
	TTL       time.Duration // remaining lifetime, for the cookie's Max-Age
}

// StartRecovery opens a recovery session for email and mails it a code.
// Known and unknown addresses take the same path (a session is stored for
// both; only a real identity gets mail, sent asynchronously) so neither the
// answer nor its timing tells them apart.
func (s *Service) StartRecovery(ctx context.Context, email string, c Client) (RecoveryCookie, error) {
	email = NormalizeEmail(email)
	key := s.emailKey(email)
	if err := s.throttle(ctx,
		hit{"recovery:email:" + key, s.cfg.RecoveryPerEmail},
		hit{"recovery:ip:" + c.IP, s.cfg.RecoveryPerIP},
	); err != nil {
		return RecoveryCookie{}, err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	var identityID string
	id, err := s.store.IdentityByEmail(sctx, email)
	switch {
	case err == nil && id.State == store.IdentityActive:
		identityID = id.ID
	case err == nil, errors.Is(err, store.ErrNotFound):
	default:
		return RecoveryCookie{}, unavailable(err)
	}
	now := s.now()
	code := newCode()
	cookie := RecoveryCookie{Value: newRecoveryCookie(), ExpiresAt: now.Add(s.cfg.RecoveryCodeLifespan), TTL: s.cfg.RecoveryCodeLifespan}
	rec := store.Recovery{
		ID:         hashToken(cookie.Value),
		EmailKey:   key,
		IdentityID: identityID,
		CodeMAC:    s.codeMAC(key, code),
		State:      store.RecoveryPending,
		ExpiresAt:  cookie.ExpiresAt,
	}
	if err := s.store.StartRecovery(sctx, rec, now); err != nil {
		return RecoveryCookie{}, unavailable(err)
	}
	if identityID != "" {
		s.send(ctx, mail.RecoveryCode(email, code, s.cfg.RecoveryCodeLifespan))
	}
	return cookie, nil
}

// VerifyRecovery checks a code against the recovery session named by cookie.
// The attempt is counted before the comparison, so concurrent guesses cannot
// exceed the limit; on success the session moves to a new cookie value.
func (s *Service) VerifyRecovery(ctx context.Context, cookie, code string, c Client) (RecoveryCookie, error) {
	if cookie == "" {
		return RecoveryCookie{}, errRecoveryMissing
	}
	if err := s.throttle(ctx, hit{"recovery:verify:ip:" + c.IP, s.cfg.RecoveryVerifyPerIP}); err != nil {
		return RecoveryCookie{}, err
	}
	sctx, cancel := s.storeCtx(ctx)
	defer cancel()
	id := hashToken(cookie)
	now := s.now()
	rec, err := s.store.CountAttempt(sctx, id, s.cfg.RecoveryMaxAttempts, now)
	if err != nil {
		return RecoveryCookie{}, recoveryError(err, "verify")
	}
	candidate := s.codeMAC(rec.EmailKey, strings.TrimSpace(code))
	if subtle.ConstantTimeCompare(candidate, rec.CodeMAC) != 1 {
		left := s.cfg.RecoveryMaxAttempts - rec.Attempts
		if left <= 0 {
			return RecoveryCookie{}, &Error{Code: CodeTooManyAttempts, ClearRecoveryCookie: true,
				Message: "the code is not correct and no attempts are left; start the recovery again"}
		}
		return RecoveryCookie{}, fail(CodeInvalidCode, fmt.Sprintf("the code is not correct; %d attempt(s) left", left))
	}
	next := RecoveryCookie{Value: newRecoveryCookie(), ExpiresAt: now.Add(s.cfg.RecoveryVerifiedLifespan), TTL: s.cfg.RecoveryVerifiedLifespan}
	if err := s.store.MarkVerified(sctx, id, hashToken(next.Value), next.ExpiresAt, now); err != nil {
		return RecoveryCookie{}, recoveryError(err, "verify")
	}
	return next, nil
}

// ResetPassword sets a new password through a verified recovery session. In
// one atomic store step the recovery is consumed, the hash replaced and every
// existing session of the identity revoked; then a new session is opened.
func (s *Service) ResetPassword(ctx context.Context, cookie, newPassword string, c Client) (SignedIn, error) {
	if cookie == "" {
		return SignedIn{}, errRecoveryMissing
	}
	if err := s.throttle(ctx, hit{"recovery:reset:ip:" + c.IP, s.cfg.RecoveryResetPerIP}); err != nil {
		return SignedIn{}, err
	}
	id := hashToken(cookie)
	now := s.now()
	sctx, cancel := s.storeCtx(ctx)
	rec, err := s.store.RecoveryByID(sctx, id)
	var ident store.Identity
	if err == nil {
		err = recoveryState(rec, now)
	}
	if err == nil {
		ident, err = s.store.IdentityByID(sctx, rec.IdentityID)
	}
	cancel()
	if err != nil {
		return SignedIn{}, recoveryError(err, "reset")
	}
	if err := s.cfg.PasswordPolicy.Check(newPassword, ident.Email); err != nil {
		var weak *password.WeakPasswordError
		if errors.As(err, &weak) {
			return SignedIn{}, fail(CodeWeakPassword, weak.Reason)
		}
		return SignedIn{}, fail(CodeWeakPassword, "the password does not meet the policy")
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		if ctx.Err() != nil {
			return SignedIn{}, unavailable(ctx.Err())
		}
		return SignedIn{}, &Error{Code: CodeInternal, Message: "could not hash the password", cause: err}
	}
	sctx, cancel = s.storeCtx(ctx)
	ident, err = s.store.CompleteRecovery(sctx, id, hash, now)
	cancel()
	if err != nil {
		return SignedIn{}, recoveryError(err, "reset")
	}
	s.send(ctx, mail.PasswordChanged(ident.Email, now, c.IP))
	return s.openSession(ctx, ident, c)
}

var errRecoveryMissing = &Error{Code: CodeRecoverySessionMissing, ClearRecoveryCookie: true,
	Message: "no recovery session; start the recovery again"}

// recoveryState checks a recovery record read for a reset.
func recoveryState(r store.Recovery, now time.Time) error {
	switch {
	case !now.Before(r.ExpiresAt):
		return store.ErrExpired
	case r.State != store.RecoveryVerified:
		return store.ErrWrongState
	case r.IdentityID == "":
		return store.ErrNotFound
	}
	return nil
}

// recoveryError maps store outcomes of the recovery steps to domain errors.
func recoveryError(err error, step string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errRecoveryMissing
	case errors.Is(err, store.ErrExpired):
		return &Error{Code: CodeRecoverySessionExpired, ClearRecoveryCookie: true,
			Message: "the recovery session has expired; start the recovery again"}
	case errors.Is(err, store.ErrAttemptsExhausted):
		return &Error{Code: CodeTooManyAttempts, ClearRecoveryCookie: true,
			Message: "too many wrong codes; start the recovery again"}
	case errors.Is(err, store.ErrWrongState) && step == "reset":
		return fail(CodeCodeNotVerified, "verify the code before setting a new password")
	case errors.Is(err, store.ErrWrongState):
		return fail(CodeRecoverySessionMissing, "this recovery session is already verified; set the new password")
	}
	return unavailable(err)
}

// send hands a mail to the (asynchronous) mailer; delivery problems are
// logged, never shown to the caller.
func (s *Service) send(ctx context.Context, m mail.Message) {
	if err := s.mailer.Send(ctx, m); err != nil {
		s.log.ErrorContext(ctx, "mail not queued", "subject", m.Subject, "err", err)
	}
}
