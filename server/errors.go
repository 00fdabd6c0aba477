package server

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/store"
)

// envelope is the error shape a route group documents.
type envelope int

const (
	envelopeAuth  envelope = iota // AuthError {error, message, status}: /api/auth/*, /.well-known/*
	envelopeUtil                  // Error {error, status}: /api/v1/util/*
	envelopeOrder                 // RestErrorResponse {isSuccess:false, detail}: /api/v1/orders/*
	envelopeOms                   // OmsErrorResponse {error}: /api/v1/oms/*
)

func envelopeFor(path string) envelope {
	switch {
	case strings.HasPrefix(path, "/api/v1/util/"):
		return envelopeUtil
	case strings.HasPrefix(path, "/api/v1/orders/"):
		return envelopeOrder
	case strings.HasPrefix(path, "/api/v1/oms/"):
		return envelopeOms
	}
	return envelopeAuth
}

// apiError is an error the HTTP layer itself raises.
type apiError struct {
	status  int
	code    apperr.Code
	message string
}

func (e *apiError) Error() string { return string(e.code) + ": " + e.message }

// errNotImplemented answers a trading or latency route on a server built
// without that service (unit stacks; `omsd serve` always wires them).
var errNotImplemented = &apiError{status: http.StatusNotImplemented, code: "not_implemented",
	message: "this server runs without the service behind this operation"}

// statusClientClosed is what the log shows for a request whose client left
// before the answer (nginx's convention); nobody receives it.
const statusClientClosed = 499

// statusOf maps domain error codes to HTTP statuses.
var statusOf = map[apperr.Code]int{
	apperr.InvalidRequest:         http.StatusBadRequest,
	apperr.WeakPassword:           http.StatusBadRequest,
	apperr.InvalidCredentials:     http.StatusUnauthorized,
	apperr.RecoverySessionMissing: http.StatusUnauthorized,
	apperr.RecoverySessionExpired: http.StatusUnauthorized,
	apperr.InvalidCode:            http.StatusUnauthorized,
	apperr.TooManyAttempts:        http.StatusUnauthorized,
	apperr.CodeNotVerified:        http.StatusUnauthorized,
	apperr.Unauthorized:           http.StatusUnauthorized,
	apperr.Forbidden:              http.StatusForbidden,
	apperr.NotFound:               http.StatusNotFound,
	apperr.Conflict:               http.StatusConflict,
	apperr.InvalidState:           http.StatusConflict,
	apperr.SameUserReview:         http.StatusForbidden,
	apperr.SelfGrant:              http.StatusForbidden,
	apperr.TooManyRequests:        http.StatusTooManyRequests,
	apperr.UpstreamUnavailable:    http.StatusBadGateway,
	apperr.ServiceBusy:            http.StatusServiceUnavailable,
	apperr.ClientClosed:           statusClientClosed,
	apperr.Internal:               http.StatusInternalServerError,
}

// statusFor is the HTTP status of a domain error code in a route group's
// envelope: a backend outage is 503 on /api/v1/oms/* (as that group
// documents) and 502 elsewhere; unknown codes are 500.
func statusFor(code apperr.Code, env envelope) int {
	if code == apperr.UpstreamUnavailable && env == envelopeOms {
		return http.StatusServiceUnavailable
	}
	if st, ok := statusOf[code]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// handleError is echo's error handler: every error leaves in its route's
// envelope with a stable code and a message fit for people. Causes are
// logged, never sent.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, code, msg := http.StatusInternalServerError, apperr.Code(apperr.Internal), "internal error"
	err = classify(err)
	var ae *apperr.Error
	var he *echo.HTTPError
	var own *apiError
	switch {
	case errors.As(err, &ae):
		code, msg = ae.Code, ae.Message
		status = statusFor(ae.Code, envelopeFor(c.Request().URL.Path))
		if ae.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", retryAfterSeconds(ae.RetryAfter))
		}
		if ae.ClearRecoveryCookie {
			s.clearRecoveryCookie(c.Response().Header())
		}
		switch {
		case ae.Code == apperr.ClientClosed:
			s.log.InfoContext(c.Request().Context(), "client closed the request before the answer")
		case status >= 500:
			s.log.ErrorContext(c.Request().Context(), "request failed", "code", code, "err", err)
		}
		if status == http.StatusServiceUnavailable {
			c.Response().Header().Set("Retry-After", "5")
		}
	case errors.As(err, &own):
		status, code, msg = own.status, own.code, own.message
	case errors.As(err, &he):
		status = he.Code
		code, msg = codeForStatus(status), http.StatusText(status)
		if status == http.StatusRequestEntityTooLarge {
			msg = "the request body is too large"
		}
	default:
		s.log.ErrorContext(c.Request().Context(), "unhandled error", "err", err)
	}
	if c.Request().Method == http.MethodHead {
		_ = c.NoContent(status)
		return
	}
	_ = c.JSON(status, errorBody(envelopeFor(c.Request().URL.Path), status, code, msg))
}

// classify gives backend failures and abandoned requests their code: a
// domain returns store errors it does not handle unchanged, and this is the
// one place that decides what the caller sees for them.
func classify(err error) error {
	var ae *apperr.Error
	var qe *store.LatencyQueryError
	switch {
	case errors.As(err, &ae):
		return err
	case errors.As(err, &qe):
		return apperr.Wrap(apperr.InvalidRequest, qe.Msg, err)
	case errors.Is(err, context.Canceled):
		return apperr.Wrap(apperr.ClientClosed, "the client closed the request before the answer", err)
	case errors.Is(err, store.ErrUnavailable):
		return apperr.Wrap(apperr.UpstreamUnavailable, "the store did not answer; try again", err)
	}
	return err
}

func codeForStatus(status int) apperr.Code {
	switch status {
	case http.StatusNotFound:
		return "not_found"
	case http.StatusMethodNotAllowed:
		return "method_not_allowed"
	case http.StatusRequestEntityTooLarge:
		return "payload_too_large"
	case http.StatusUnauthorized:
		return apperr.Unauthorized
	case http.StatusForbidden:
		return apperr.Forbidden
	}
	if status < 500 {
		return apperr.InvalidRequest
	}
	return apperr.Internal
}

// errorBody builds the documented envelope. Where an envelope has no field
// for the code or the message, it is added as an extra property (the
// schemas allow them) so every error carries both.
func errorBody(env envelope, status int, code apperr.Code, msg string) any {
	switch env {
	case envelopeUtil:
		return struct {
			gen.Error
			Message string `json:"message"`
		}{gen.Error{Error: ptr(string(code)), Status: ptr(status)}, msg}
	case envelopeOrder:
		return struct {
			gen.RestErrorResponse
			Error string `json:"error"`
		}{gen.RestErrorResponse{IsSuccess: ptr(false), Detail: ptr(msg)}, string(code)}
	case envelopeOms:
		return struct {
			gen.OmsErrorResponse
			Message string `json:"message"`
		}{gen.OmsErrorResponse{Error: ptr(string(code))}, msg}
	}
	return gen.AuthError{Error: string(code), Message: msg, Status: int32(status)}
}

func ptr[T any](v T) *T { return &v }

// retryAfterSeconds renders a Retry-After value (at least 1 s).
func retryAfterSeconds(d time.Duration) string {
	return fmt.Sprint(max(1, int(math.Ceil(d.Seconds()))))
}
