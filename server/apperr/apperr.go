// Package apperr is the one error vocabulary of every omsd domain: stable,
// machine-readable codes with messages fit for people. Domains return
// *Error values (or store sentinels); server/errors.go alone maps codes to
// HTTP statuses and to the envelope each route documents.
package apperr

import (
	"errors"
	"time"
)

// Code is a stable, machine-readable error code.
type Code string

// The codes. Each has one HTTP status (see server/errors.go).
const (
	InvalidRequest         Code = "invalid_request"
	InvalidCredentials     Code = "invalid_credentials"
	RecoverySessionMissing Code = "recovery_session_missing"
	RecoverySessionExpired Code = "recovery_session_expired"
	InvalidCode            Code = "invalid_code"
	TooManyAttempts        Code = "too_many_attempts"
	CodeNotVerified        Code = "code_not_verified"
	WeakPassword           Code = "weak_password"
	TooManyRequests        Code = "too_many_requests"
	UpstreamUnavailable    Code = "upstream_unavailable"
	ServiceBusy            Code = "service_busy"
	ClientClosed           Code = "client_closed_request"
	Unauthorized           Code = "unauthorized"
	Forbidden              Code = "forbidden"
	NotFound               Code = "not_found"
	Conflict               Code = "conflict"
	// InvalidState: the record is no longer in a state that allows the
	// action (a workflow request that is not PENDING).
	InvalidState Code = "invalid_state"
	// SameUserReview: four eyes; a request's reviewer must not be its maker.
	SameUserReview Code = "same_user_review"
	// SelfGrant: nobody grants themselves a level on an account.
	SelfGrant Code = "self_grant"
	Internal  Code = "internal_error"
)

// Error is a domain error with a message safe to show to the caller.
type Error struct {
	Code    Code
	Message string
	// RetryAfter is set with TooManyRequests and ServiceBusy.
	RetryAfter time.Duration
	// ClearRecoveryCookie tells the transport the recovery session is over.
	ClearRecoveryCookie bool
	cause               error
}

// New returns an error with a code and a message for people.
func New(code Code, msg string) *Error { return &Error{Code: code, Message: msg} }

// Wrap is New keeping cause for errors.Is/As and the log (never the caller).
func Wrap(code Code, msg string, cause error) *Error {
	return &Error{Code: code, Message: msg, cause: cause}
}

func (e *Error) Error() string {
	if e.cause != nil {
		return string(e.Code) + ": " + e.Message + ": " + e.cause.Error()
	}
	return string(e.Code) + ": " + e.Message
}

func (e *Error) Unwrap() error { return e.cause }

// CodeOf returns the code of err, or "" when it carries none.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
