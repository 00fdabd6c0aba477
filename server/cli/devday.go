package cli

// The dev-only endpoint POST /omsd/dev/next-day: it moves the trading day
// to the next trading day so that a developer sees T+2 settlement without
// waiting two days. It is not part of the Vero OMS contract and is mounted
// (withStream) only in dev mode, on the instance that runs the venue.

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/trading"
)

// DevDayPath is where the dev next-day endpoint is mounted.
const DevDayPath = "/omsd/dev/next-day"

// devDayAuth checks a bearer JWT (auth.Service).
type devDayAuth interface {
	Authenticate(ctx context.Context, jwt string) (auth.Principal, error)
}

// dayMover moves the trading day (trading.Service).
type dayMover interface {
	NextDay(ctx context.Context) (trading.DayChange, error)
}

// devDayOptions configure the handler.
type devDayOptions struct {
	Auth    devDayAuth
	Trading dayMover
	// After runs once the day has moved (dev mode rests the market
	// maker's orders again: the close cancelled them).
	After func(ctx context.Context) error
	Log   *slog.Logger
}

// DevDayResponse is the endpoint's answer.
type DevDayResponse struct {
	From            string `json:"from"`             // the trading date before
	To              string `json:"to"`               // the trading date now
	SettledAccounts int    `json:"settled_accounts"` // accounts that had something due
}

// devDayError is the REST API's util envelope (Error: error, status).
type devDayError struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// devDayHandler serves DevDayPath: POST with an admin's bearer JWT.
func devDayHandler(o devDayOptions) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeDevDay(w, http.StatusMethodNotAllowed, devDayError{"method not allowed: POST only", http.StatusMethodNotAllowed})
			return
		}
		jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || jwt == "" {
			writeDevDay(w, http.StatusUnauthorized, devDayError{"a valid bearer token is required", http.StatusUnauthorized})
			return
		}
		p, err := o.Auth.Authenticate(r.Context(), jwt)
		if err != nil {
			devDayFail(w, o.Log, err)
			return
		}
		if !p.HasAnyRole([]string{auth.RoleAdmin}) {
			writeDevDay(w, http.StatusForbidden, devDayError{"the admin role is required", http.StatusForbidden})
			return
		}
		change, err := o.Trading.NextDay(r.Context())
		if err == nil && o.After != nil {
			err = o.After(r.Context())
		}
		if err != nil {
			devDayFail(w, o.Log, err)
			return
		}
		o.Log.Info("dev: next trading day", "by", p.Email, "from", change.From, "to", change.To, "settled_accounts", change.Settled.Accounts)
		writeDevDay(w, http.StatusOK, DevDayResponse{From: change.From, To: change.To, SettledAccounts: change.Settled.Accounts})
	})
}

// devDayFail answers an error: 401 for a bad bearer, 503 for anything else (a
// store failure; the step is safe to repeat).
func devDayFail(w http.ResponseWriter, log *slog.Logger, err error) {
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Code == apperr.Unauthorized {
		writeDevDay(w, http.StatusUnauthorized, devDayError{ae.Message, http.StatusUnauthorized})
		return
	}
	log.Error("dev: next trading day failed", "err", err)
	writeDevDay(w, http.StatusServiceUnavailable, devDayError{"the next day could not be completed; retry", http.StatusServiceUnavailable})
}

func writeDevDay(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
