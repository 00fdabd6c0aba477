package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime/debug"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/auth"
)

// requestInfo carries what handlers need from the transport through the
// context.Context the generated strict handlers pass them.
type requestInfo struct {
	client    auth.Client
	header    http.Header // response headers (cookies, caching)
	principal *auth.Principal
	// recoveryCookie is the value of the recovery-session cookie, if sent.
	recoveryCookie string
}

type infoKey struct{}

func infoFrom(ctx context.Context) *requestInfo {
	if i, ok := ctx.Value(infoKey{}).(*requestInfo); ok {
		return i
	}
	return &requestInfo{header: http.Header{}}
}

// PrincipalFrom returns the authenticated caller of a bearer route.
func PrincipalFrom(ctx context.Context) (auth.Principal, bool) {
	if p := infoFrom(ctx).principal; p != nil {
		return *p, true
	}
	return auth.Principal{}, false
}

// requestLog assigns a request id and writes one structured line per request.
// It logs method, route, status and timing only: never headers, cookies,
// query strings or bodies, which may hold secrets. The request id is always
// ours (a client cannot make two requests share one in our logs); a valid
// X-Request-Id from the client is logged beside it as client_request_id.
func (s *Server) requestLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		id := newRequestID()
		h := c.Response().Header()
		h.Set(echo.HeaderXRequestID, id)
		h.Set(echo.HeaderXContentTypeOptions, "nosniff")
		err := next(c)
		if err != nil {
			c.Error(err) // write the envelope now so the status below is the real one
		}
		if s.metrics != nil {
			s.metrics.observe(c, time.Since(start))
		}
		attrs := []slog.Attr{
			slog.String("request_id", id),
			slog.String("method", c.Request().Method),
			routeAttr(c),
			slog.Int("status", c.Response().Status),
			slog.Int64("bytes", c.Response().Size),
			slog.Float64("ms", float64(time.Since(start).Microseconds())/1000),
			slog.String("ip", c.RealIP()),
		}
		if cid := c.Request().Header.Get(echo.HeaderXRequestID); validRequestID(cid) {
			attrs = append(attrs, slog.String("client_request_id", cid))
		}
		s.log.LogAttrs(c.Request().Context(), slog.LevelInfo, "request", attrs...)
		return nil
	}
}

// routeAttr is the route template. A path that matched no route is not
// logged (it is the caller's text and may carry anything, secrets
// included); only its length is.
func routeAttr(c echo.Context) slog.Attr {
	if p := c.Path(); p != "" {
		return slog.String("route", p)
	}
	return slog.Group("", slog.String("route", "<unmatched>"), slog.Int("path_len", len(c.Request().URL.Path)))
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if (r < 'a' || r > 'z') && (r < 'A' || r > 'Z') && (r < '0' || r > '9') && r != '-' && r != '_' && r != '.' {
			return false
		}
	}
	return true
}

func newRequestID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// recoverPanic turns a handler panic into a 500 in the route's envelope.
func (s *Server) recoverPanic(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if r := recover(); r != nil {
				if err, ok := r.(error); ok && errors.Is(err, http.ErrAbortHandler) {
					panic(r)
				}
				s.log.ErrorContext(c.Request().Context(), "panic", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
				err = &apiError{status: http.StatusInternalServerError, code: apperr.Internal, message: "internal error"}
			}
		}()
		return next(c)
	}
}

// ipExtractor believes X-Forwarded-For only from the configured proxies.
func ipExtractor(trusted []*net.IPNet) echo.IPExtractor {
	if len(trusted) == 0 {
		return echo.ExtractIPDirect()
	}
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range trusted {
		opts = append(opts, echo.TrustIPRange(n))
	}
	return echo.ExtractIPFromXFFHeader(opts...)
}
