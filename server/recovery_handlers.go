package server

import (
	"context"
	"net/http"
	"time"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/auth"
)

// RecoveryCookieName names the recovery-session cookie. Its value is an
// opaque random handle; all state is on the server. With Secure cookies the
// name carries the __Secure- prefix (see cookieName).
const RecoveryCookieName = "oms_recovery"

// DeviceCookieName names the signed device cookie a password login hands
// out (see auth.DeviceCookie); it is only ever sent back to the login route.
const DeviceCookieName = "oms_device"

const (
	recoveryCookiePath = "/api/auth/recovery"
	deviceCookiePath   = "/api/auth/login"
)

// cookieName is the name a cookie goes by: with Secure, the __Secure-
// prefix, which browsers refuse unless the cookie came over HTTPS with
// Secure set, so a network attacker cannot plant one over plain HTTP.
func cookieName(base string, secure bool) string {
	if secure {
		return "__Secure-" + base
	}
	return base
}

// PostAPIAuthRecoveryStart mails a code and opens a recovery session.
func (s *Server) PostAPIAuthRecoveryStart(ctx context.Context, req gen.PostAPIAuthRecoveryStartRequestObject) (gen.PostAPIAuthRecoveryStartResponseObject, error) {
	in := infoFrom(ctx)
	cookie, err := s.svc.Auth.StartRecovery(ctx, string(req.Body.Email), in.client)
	if err != nil {
		return nil, err
	}
	noStore(in)
	return gen.PostAPIAuthRecoveryStart200JSONResponse{
		Body:    gen.AuthRecoveryStartResponse{Status: gen.AuthRecoveryStartResponseStatusCodeSent},
		Headers: gen.PostAPIAuthRecoveryStart200ResponseHeaders{SetCookie: ptr(s.recoveryCookie(cookie))},
	}, nil
}

// PostAPIAuthRecoveryVerify checks the code; success rotates the cookie.
func (s *Server) PostAPIAuthRecoveryVerify(ctx context.Context, req gen.PostAPIAuthRecoveryVerifyRequestObject) (gen.PostAPIAuthRecoveryVerifyResponseObject, error) {
	in := infoFrom(ctx)
	next, err := s.svc.Auth.VerifyRecovery(ctx, in.recoveryCookie, req.Body.Code, in.client)
	if err != nil {
		return nil, err
	}
	noStore(in)
	return gen.PostAPIAuthRecoveryVerify200JSONResponse{
		Body:    gen.AuthRecoveryVerifyResponse{Status: gen.AuthRecoveryVerifyResponseStatusVerified},
		Headers: gen.PostAPIAuthRecoveryVerify200ResponseHeaders{SetCookie: ptr(s.recoveryCookie(next))},
	}, nil
}

// PostAPIAuthRecoveryResetPassword sets the new password and signs in.
func (s *Server) PostAPIAuthRecoveryResetPassword(ctx context.Context, req gen.PostAPIAuthRecoveryResetPasswordRequestObject) (gen.PostAPIAuthRecoveryResetPasswordResponseObject, error) {
	in := infoFrom(ctx)
	res, err := s.svc.Auth.ResetPassword(ctx, in.recoveryCookie, req.Body.Password, in.client)
	if err != nil {
		return nil, err
	}
	noStore(in)
	s.clearRecoveryCookie(in.header)
	return gen.PostAPIAuthRecoveryResetPassword200JSONResponse(loginResponse(res)), nil
}

func (s *Server) recoveryCookie(c auth.RecoveryCookie) string {
	return s.cookie(RecoveryCookieName, recoveryCookiePath, c.Value, c.TTL)
}

func (s *Server) clearRecoveryCookie(h http.Header) {
	h.Add("Set-Cookie", s.cookie(RecoveryCookieName, recoveryCookiePath, "", 0))
}

// cookie renders a Set-Cookie value: HttpOnly, SameSite=Strict, Secure per
// the configuration; ttl <= 0 clears the cookie.
func (s *Server) cookie(base, path, value string, ttl time.Duration) string {
	maxAge := -1
	if ttl > 0 {
		maxAge = max(1, int(ttl.Round(time.Second)/time.Second))
	}
	ck := &http.Cookie{
		Name: cookieName(base, s.opts.CookieSecure), Value: value, Path: path,
		MaxAge: maxAge, HttpOnly: true, Secure: s.opts.CookieSecure, SameSite: http.SameSiteStrictMode,
	}
	return ck.String()
}
