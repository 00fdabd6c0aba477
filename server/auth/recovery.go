package auth

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
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

// startRecovery opens a recovery session for email and has it mailed a code.
// Known and unknown addresses take exactly the same synchronous path: a
// session is stored for both and a mail job is queued for both; the mail
// worker drops the jobs of unknown or disabled addresses (and of addresses
// whose wrong-code budget is spent), so neither the answer nor its timing
// tells them apart.
func (s *Service) startRecovery(ctx context.Context, email string, c Client) (RecoveryCookie, error) {
	email = NormalizeEmail(email)
	key := s.emailKey(email)
	if err := s.throttle(ctx,
		hit{"recovery:net:" + s.network(c.IP), s.cfg.RecoveryPerIP},
		hit{"recovery:email:" + key, s.cfg.RecoveryPerEmail},
	); err != nil {
		return RecoveryCookie{}, err
	}
	var identityID string
	id, err := s.store.IdentityByEmail(ctx, email)
	switch {
	case err == nil && id.State == store.IdentityActive:
		identityID = id.ID
	case err == nil, errors.Is(err, store.ErrNotFound):
	default:
		return RecoveryCookie{}, err
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
	if err := s.store.StartRecovery(ctx, rec, now); err != nil {
		return RecoveryCookie{}, err
	}
	s.queueRecoveryMail(recoveryMailJob{email: email, emailKey: key, identityID: identityID, code: code})
	return cookie, nil
}

// verifyRecovery checks a code against the recovery session named by cookie.
// The attempt is counted before the comparison, per session and per address
// across all its sessions, so concurrent guesses cannot exceed either limit;
// on success the session moves to a new cookie value.
func (s *Service) verifyRecovery(ctx context.Context, cookie, code string, c Client) (RecoveryCookie, error) {
	if cookie == "" {
		return RecoveryCookie{}, errRecoveryMissing
	}
	if err := s.throttle(ctx, hit{"recovery:verify:net:" + s.network(c.IP), s.cfg.RecoveryVerifyPerIP}); err != nil {
		return RecoveryCookie{}, err
	}
	id := hashToken(cookie)
	now := s.now()
	rec, err := s.store.CountAttempt(ctx, id, s.cfg.RecoveryMaxAttempts, now)
	if err != nil {
		return RecoveryCookie{}, recoveryError(err, "verify")
	}
	budget := hit{"recovery:guess:" + rec.EmailKey, s.cfg.RecoveryCodeBudget}
	if err := s.throttle(ctx, budget); err != nil {
		var e *apperr.Error
		if errors.As(err, &e) && e.Code == apperr.TooManyRequests {
			e.Message = "too many wrong codes for this address; start a new recovery after the wait"
			e.ClearRecoveryCookie = true
		}
		return RecoveryCookie{}, err
	}
	candidate := s.codeMAC(rec.EmailKey, strings.TrimSpace(code))
	if subtle.ConstantTimeCompare(candidate, rec.CodeMAC) != 1 {
		left := s.cfg.RecoveryMaxAttempts - rec.Attempts
		if left <= 0 {
			return RecoveryCookie{}, &apperr.Error{Code: apperr.TooManyAttempts, ClearRecoveryCookie: true,
				Message: "the code is not correct and no attempts are left; start the recovery again"}
		}
		return RecoveryCookie{}, apperr.New(apperr.InvalidCode, fmt.Sprintf("the code is not correct; %d attempt(s) left", left))
	}
	s.forgive(ctx, budget) // only wrong codes spend the address's budget
	next := RecoveryCookie{Value: newRecoveryCookie(), ExpiresAt: now.Add(s.cfg.RecoveryVerifiedLifespan), TTL: s.cfg.RecoveryVerifiedLifespan}
	if err := s.store.MarkVerified(ctx, id, hashToken(next.Value), next.ExpiresAt, now); err != nil {
		return RecoveryCookie{}, recoveryError(err, "verify")
	}
	return next, nil
}

// resetPassword sets a new password through a verified recovery session. In
// one atomic store step the recovery is consumed, the hash replaced and every
// existing session of the identity revoked; then a new session is opened.
func (s *Service) resetPassword(ctx context.Context, cookie, newPassword string, c Client) (SignedIn, error) {
	if cookie == "" {
		return SignedIn{}, errRecoveryMissing
	}
	if err := s.throttle(ctx, hit{"recovery:reset:net:" + s.network(c.IP), s.cfg.RecoveryResetPerIP}); err != nil {
		return SignedIn{}, err
	}
	id := hashToken(cookie)
	rec, err := s.store.RecoveryByID(ctx, id)
	var ident store.Identity
	if err == nil {
		// The state is checked before the password policy or any hashing.
		err = recoveryState(rec, s.now())
	}
	if err == nil {
		ident, err = s.store.IdentityByID(ctx, rec.IdentityID)
	}
	if err != nil {
		return SignedIn{}, recoveryError(err, "reset")
	}
	if err := s.cfg.PasswordPolicy.Check(newPassword, ident.Email); err != nil {
		var weak *password.WeakPasswordError
		if errors.As(err, &weak) {
			return SignedIn{}, apperr.New(apperr.WeakPassword, weak.Reason)
		}
		return SignedIn{}, apperr.New(apperr.WeakPassword, "the password does not meet the policy")
	}
	hctx, cancel := s.hashCtx(ctx)
	hash, err := s.hasher.Hash(hctx, newPassword)
	cancel()
	if err != nil {
		return SignedIn{}, hashError(ctx, err)
	}
	// A fresh clock: the hash may have waited for a slot, and the recovery
	// must not be completed after it expired.
	now := s.now()
	ident, err = s.store.CompleteRecovery(ctx, id, hash, now)
	if err != nil {
		return SignedIn{}, recoveryError(err, "reset")
	}
	s.send(ctx, mail.PasswordChanged(ident.Email, now, c.IP))
	return s.openSession(ctx, ident, c)
}

var errRecoveryMissing = &apperr.Error{Code: apperr.RecoverySessionMissing, ClearRecoveryCookie: true,
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
		return &apperr.Error{Code: apperr.RecoverySessionExpired, ClearRecoveryCookie: true,
			Message: "the recovery session has expired; start the recovery again"}
	case errors.Is(err, store.ErrAttemptsExhausted):
		return &apperr.Error{Code: apperr.TooManyAttempts, ClearRecoveryCookie: true,
			Message: "too many wrong codes; start the recovery again"}
	case errors.Is(err, store.ErrWrongState) && step == "reset":
		return apperr.New(apperr.CodeNotVerified, "verify the code before setting a new password")
	case errors.Is(err, store.ErrWrongState):
		return apperr.New(apperr.RecoverySessionMissing, "this recovery session is already verified; set the new password")
	}
	return err
}

// send hands a mail to the (asynchronous) mailer; delivery problems are
// logged, never shown to the caller.
func (s *Service) send(ctx context.Context, m mail.Message) {
	if err := s.mailer.Send(ctx, m); err != nil {
		s.log.ErrorContext(ctx, "mail not queued", "subject", m.Subject, "err", err)
	}
}

// recoveryMailJob is what StartRecovery queues for every address, known or
// not; the worker decides whether a mail goes out.
type recoveryMailJob struct {
	email, emailKey, identityID, code string
	flushed                           chan struct{} // set on a flush barrier only
}

const recoveryMailQueue = 1024

func (s *Service) startRecoveryMail() {
	s.recoveryMail = make(chan recoveryMailJob, recoveryMailQueue)
	s.recoveryMailDone = make(chan struct{})
	go s.recoveryMailWorker(s.recoveryMail)
}

func (s *Service) stopRecoveryMail() {
	s.closeOnce.Do(func() {
		close(s.recoveryMail)
		<-s.recoveryMailDone
	})
}

// queueRecoveryMail never blocks: a full queue drops the job (for known and
// unknown addresses alike) and logs it.
func (s *Service) queueRecoveryMail(j recoveryMailJob) {
	defer func() {
		if recover() != nil { // queue closed: the service is shutting down
			s.log.Warn("recovery mail not queued: shutting down")
		}
	}()
	select {
	case s.recoveryMail <- j:
	default:
		s.log.Error("recovery mail queue full; code not sent")
	}
}

// flushRecoveryMail waits until every job queued before it is handled
// (tests).
func (s *Service) flushRecoveryMail() {
	done := make(chan struct{})
	s.recoveryMail <- recoveryMailJob{flushed: done}
	<-done
}

func (s *Service) recoveryMailWorker(jobs <-chan recoveryMailJob) {
	defer close(s.recoveryMailDone)
	for j := range jobs {
		if j.flushed != nil {
			close(j.flushed)
			continue
		}
		if j.identityID == "" {
			continue // unknown or disabled address: nothing to send
		}
		spent, err := s.store.Count(context.Background(), "recovery:guess:"+j.emailKey)
		if err != nil {
			s.log.Error("recovery mail: wrong-code budget unreadable; code not sent", "err", err)
			continue
		}
		if spent >= s.cfg.RecoveryCodeBudget.Count {
			s.log.Warn("recovery code not sent: the address spent its wrong-code budget", "identity", j.identityID)
			continue
		}
		s.send(context.Background(), mail.RecoveryCode(j.email, j.code, s.cfg.RecoveryCodeLifespan))
	}
}
