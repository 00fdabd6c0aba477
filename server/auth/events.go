package auth

import (
	"context"
	"errors"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/store"
)

// Events observes what the auth domain does, for metrics. Outcomes and
// kinds are short fixed words (never an email, IP or token), so a
// metrics backend can use them as label values. Methods are called on the
// request path and must not block.
type Events interface {
	// Login reports one password login: LoginSuccess, LoginInvalidCredentials,
	// LoginThrottled or LoginError.
	Login(outcome string)
	// Throttled reports a request refused by a rate limit: ThrottleLogin,
	// ThrottleRecoveryStart, ThrottleRecoveryVerify or ThrottleRecoveryReset.
	Throttled(kind string)
	// Recovery reports one recovery step (StepStart, StepVerify, StepReset)
	// and its outcome: OutcomeSuccess, OutcomeThrottled, or the error Code
	// the caller got (invalid_code, too_many_attempts, weak_password, ...),
	// or OutcomeError for a failure without a code.
	Recovery(step, outcome string)
}

// Login outcomes.
const (
	LoginSuccess            = "success"
	LoginInvalidCredentials = "invalid_credentials"
	LoginThrottled          = "throttled"
	LoginError              = "error"
)

// Kinds of throttled requests.
const (
	ThrottleLogin          = "login"
	ThrottleRecoveryStart  = "recovery_start"
	ThrottleRecoveryVerify = "recovery_verify"
	ThrottleRecoveryReset  = "recovery_reset"
)

// Recovery steps and their generic outcomes.
const (
	StepStart        = "start"
	StepVerify       = "verify"
	StepReset        = "reset"
	OutcomeSuccess   = "success"
	OutcomeThrottled = "throttled"
	OutcomeError     = "error"
)

// noEvents is the Events of a Service built without one.
type noEvents struct{}

func (noEvents) Login(string)            {}
func (noEvents) Throttled(string)        {}
func (noEvents) Recovery(string, string) {}

// errorCode is the code a caller is answered for err ("" for anything
// else): store failures come back unchanged from the domain and the
// transport answers them upstream_unavailable.
func errorCode(err error) apperr.Code {
	if errors.Is(err, store.ErrUnavailable) && !errors.Is(err, context.Canceled) {
		return apperr.UpstreamUnavailable
	}
	return apperr.CodeOf(err)
}

// Login checks an email and password and opens a session (see login).
func (s *Service) Login(ctx context.Context, identifier, pw string, c Client) (SignedIn, error) {
	in, err := s.login(ctx, identifier, pw, c)
	switch code := errorCode(err); {
	case err == nil:
		s.events.Login(LoginSuccess)
	case code == apperr.InvalidCredentials:
		s.events.Login(LoginInvalidCredentials)
	case code == apperr.TooManyRequests:
		s.events.Login(LoginThrottled)
		s.events.Throttled(ThrottleLogin)
	default:
		s.events.Login(LoginError)
	}
	return in, err
}

// StartRecovery opens a recovery session for email and has it mailed a
// code (see startRecovery).
func (s *Service) StartRecovery(ctx context.Context, email string, c Client) (RecoveryCookie, error) {
	rc, err := s.startRecovery(ctx, email, c)
	s.recoveryEvent(StepStart, ThrottleRecoveryStart, err)
	return rc, err
}

// VerifyRecovery checks a code against the recovery session named by
// cookie (see verifyRecovery).
func (s *Service) VerifyRecovery(ctx context.Context, cookie, code string, c Client) (RecoveryCookie, error) {
	rc, err := s.verifyRecovery(ctx, cookie, code, c)
	s.recoveryEvent(StepVerify, ThrottleRecoveryVerify, err)
	return rc, err
}

// ResetPassword sets a new password through a verified recovery session
// (see resetPassword).
func (s *Service) ResetPassword(ctx context.Context, cookie, newPassword string, c Client) (SignedIn, error) {
	in, err := s.resetPassword(ctx, cookie, newPassword, c)
	s.recoveryEvent(StepReset, ThrottleRecoveryReset, err)
	return in, err
}

func (s *Service) recoveryEvent(step, throttleKind string, err error) {
	switch code := errorCode(err); {
	case err == nil:
		s.events.Recovery(step, OutcomeSuccess)
	case code == apperr.TooManyRequests:
		s.events.Recovery(step, OutcomeThrottled)
		s.events.Throttled(throttleKind)
	case code != "":
		s.events.Recovery(step, string(code))
	default:
		s.events.Recovery(step, OutcomeError)
	}
}
