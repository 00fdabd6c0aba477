// Package server is the HTTP layer of omsd: it serves the generated contract
// interface (gen.StrictServerInterface), validates every request against the
// overlaid contract before a handler runs, checks bearer tokens and roles,
// and writes every error in the envelope its route documents.
//
// Handlers are thin: decode (done by the generated code), call the domain,
// map errors. Files are by domain: auth_handlers.go, recovery_handlers.go,
// health_handlers.go, reference_handlers.go, audit_handlers.go,
// unimplemented.go.
package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/puthrough"
	"github.com/vero-oms/omsd/server/trading"

	"github.com/labstack/echo/v4"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/admin"
	"github.com/vero-oms/omsd/server/audit"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/reference"
	"github.com/vero-oms/omsd/server/risk"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/server/workflow"
	"github.com/vero-oms/omsd/store"
)

// Pinger is what the health probes check: the store answers.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Services are the domain services the handlers call, one per domain,
// wired once by the setup (server/cli). Handlers reach the domains only
// through them.
type Services struct {
	Auth      *auth.Service
	Tokens    *token.Issuer // publishes the JWKS
	Health    Pinger
	Reference *reference.Service // reference lists and firm traders
	Audit     *audit.Service     // the audit log
	Admin     *admin.Service     // grants, account search, groups
	Workflow  *workflow.Service  // maker-checker requests
	Risk      *risk.Service      // mappings, cash and holdings, risk rules
	Trading   *trading.Service   // orders and the venue
	// PutThrough is the put-through desk (IOIs, quotes, KRX quotes).
	PutThrough *puthrough.Desk
	Latency    latency.Store // the latency diagnostics
}

// Options configure the HTTP layer.
type Options struct {
	Logger   *slog.Logger
	Services Services
	// MaxBodyBytes caps request bodies; larger ones get 413. Default 64 KiB.
	MaxBodyBytes int64
	// CookieSecure sets Secure on the recovery cookie. Only dev mode on
	// plain-http localhost turns it off.
	CookieSecure bool
	// TrustedProxies are the networks whose X-Forwarded-For is believed when
	// working out the client IP (used for throttling). Empty: the peer address.
	TrustedProxies []*net.IPNet
	// HealthTimeout bounds the store ping of the health probes. Default 1s.
	HealthTimeout time.Duration
	// Metrics, when set, records every request (reqmetrics.go).
	Metrics RequestMetrics
}

// Server implements gen.StrictServerInterface.
type Server struct {
	log      *slog.Logger
	svc      Services
	jwks     gen.JSONWebKeySet
	opts     Options
	contract *contract
	metrics  *requestMetrics // nil without Options.Metrics
}

var _ gen.StrictServerInterface = (*Server)(nil)

// New builds the Echo instance serving the whole contract.
func New(o Options) (*echo.Echo, error) {
	if o.Services.Auth == nil || o.Services.Tokens == nil || o.Services.Health == nil ||
		o.Services.Reference == nil || o.Services.Audit == nil || o.Services.Admin == nil ||
		o.Services.Workflow == nil || o.Services.Risk == nil {
		return nil, errors.New("server: every service is required (auth, tokens, health, reference, audit, admin, workflow, risk)")
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.MaxBodyBytes <= 0 {
		o.MaxBodyBytes = 64 << 10
	}
	if o.HealthTimeout <= 0 {
		o.HealthTimeout = time.Second
	}
	c, err := newContract(o.Services.Auth, o.MaxBodyBytes, o.CookieSecure)
	if err != nil {
		return nil, err
	}
	s := &Server{log: o.Logger, svc: o.Services, opts: o, contract: c}
	if err := json.Unmarshal(o.Services.Tokens.JWKS(), &s.jwks); err != nil {
		return nil, fmt.Errorf("server: JWKS: %w", err)
	}

	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = ipExtractor(o.TrustedProxies)
	e.Use(s.requestLog, s.recoverPanic, c.middleware, readableDecodeErrors)
	gen.RegisterHandlers(e, gen.NewStrictHandler(s, nil))
	if err := registerDocs(e); err != nil {
		return nil, err
	}
	if o.Metrics != nil {
		s.metrics = newRequestMetrics(o.Metrics, e, c)
	}
	return e, nil
}

// WithBackOffice returns s with the back-office services (reference,
// audit, admin, workflow, risk) built over st; now stamps their records
// (nil: time.Now).
func (s Services) WithBackOffice(st store.Store, now func() time.Time) Services {
	s.Reference = reference.New(st, now)
	s.Audit = audit.New(st)
	s.Admin = admin.New(st, st, now)
	s.Workflow = workflow.New(st, st, now)
	s.Risk = risk.New(st)
	return s
}
