// Package devday serves omsd's one dev-only endpoint, POST
// /omsd/dev/next-day: it moves the trading day to the next trading day so
// that a developer sees T+2 settlement without waiting two days. It is
// not part of the Vero OMS contract and is mounted only in dev mode.
package devday

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

// Path is where the endpoint is mounted.
const Path = "/omsd/dev/next-day"

// Authenticator checks a bearer JWT (auth.Service).
type Authenticator interface {
	Authenticate(ctx context.Context, jwt string) (auth.Principal, error)
}

// DayMover moves the trading day (trading.Service).
type DayMover interface {
	NextDay(ctx context.Context) (trading.DayChange, error)
}

// Options configure the handler.
type Options struct {
	Auth    Authenticator
	Trading DayMover
	// After runs once the day has moved (dev mode rests the market
	// maker's orders again: the close cancelled them).
	After func(ctx context.Context) error
	Log   *slog.Logger
}

// Response is the endpoint's answer.
type Response struct {
	From            string `json:"from"`             // the trading date before
	To              string `json:"to"`               // the trading date now
	SettledAccounts int    `json:"settled_accounts"` // accounts that had something due
}

// errorBody is the REST API's util envelope (Error: error, status).
type errorBody struct {
	Error  string `json:"error"`
	Status int    `json:"status"`
}

// Handler serves Path: POST with an admin's bearer JWT.
func Handler(o Options) http.Handler {
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			write(w, http.StatusMethodNotAllowed, errorBody{"method not allowed: POST only", http.StatusMethodNotAllowed})
			return
		}
		jwt, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || jwt == "" {
			write(w, http.StatusUnauthorized, errorBody{"a valid bearer token is required", http.StatusUnauthorized})
			return
		}
		p, err := o.Auth.Authenticate(r.Context(), jwt)
		if err != nil {
			fail(w, o.Log, err)
			return
		}
		if !p.HasAnyRole([]string{auth.RoleAdmin}) {
			write(w, http.StatusForbidden, errorBody{"the admin role is required", http.StatusForbidden})
			return
		}
		change, err := o.Trading.NextDay(r.Context())
		if err == nil && o.After != nil {
			err = o.After(r.Context())
		}
		if err != nil {
			fail(w, o.Log, err)
			return
		}
		o.Log.Info("dev: next trading day", "by", p.Email, "from", change.From, "to", change.To, "settled_accounts", change.Settled.Accounts)
		write(w, http.StatusOK, Response{From: change.From, To: change.To, SettledAccounts: change.Settled.Accounts})
	})
}

// fail answers an error: 401 for a bad bearer, 503 for anything else (a
// store failure; the step is safe to repeat).
func fail(w http.ResponseWriter, log *slog.Logger, err error) {
	var ae *apperr.Error
	if errors.As(err, &ae) && ae.Code == apperr.Unauthorized {
		write(w, http.StatusUnauthorized, errorBody{ae.Message, http.StatusUnauthorized})
		return
	}
	log.Error("dev: next trading day failed", "err", err)
	write(w, http.StatusServiceUnavailable, errorBody{"the next day could not be completed; retry", http.StatusServiceUnavailable})
}

func write(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
