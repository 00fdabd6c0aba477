package server

import (
	"context"
	"net/http"
	"time"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/auth"
)

// RecoveryCookieName names the recovery-session cookie. Its value is an
// opaque random handle; all state is on the server.
const RecoveryCookieName = "oms_recovery"

const recoveryCookiePath = "/api/auth/recovery"

// PostApiAuthRecoveryStart mails a code and opens a recovery session.
func (s *Server) PostApiAuthRecoveryStart(ctx context.Context, req gen.PostApiAuthRecoveryStartRequestObject) (gen.PostApiAuthRecoveryStartResponseObject, error) {
	in := infoFrom(ctx)
	cookie, err := s.auth.StartRecovery(ctx, string(req.Body.Email), in.client)
	if err != nil {
		return nil, err
	}
	noStore(in)
	return gen.PostApiAuthRecoveryStart200JSONResponse{
		Body:    gen.AuthRecoveryStartResponse{Status: gen.AuthRecoveryStartResponseStatusCodeSent},
		Headers: gen.PostApiAuthRecoveryStart200ResponseHeaders{SetCookie: ptr(s.recoveryCookie(cookie))},
	}, nil
}

// PostApiAuthRecoveryVerify checks the code; success rotates the cookie.
func (s *Server) PostApiAuthRecoveryVerify(ctx context.Context, req gen.PostApiAuthRecoveryVerifyRequestObject) (gen.PostApiAuthRecoveryVerifyResponseObject, error) {
	in := infoFrom(ctx)
	next, err := s.auth.VerifyRecovery(ctx, in.recoveryCookie, req.Body.Code, in.client)
	if err != nil {
		return nil, err
	}
	noStore(in)
	return gen.PostApiAuthRecoveryVerify200JSONResponse{
		Body:    gen.AuthRecoveryVerifyResponse{Status: gen.AuthRecoveryVerifyResponseStatusVerified},
		Headers: gen.PostApiAuthRecoveryVerify200ResponseHeaders{SetCookie: ptr(s.recoveryCookie(next))},
	}, nil
}

// PostApiAuthRecoveryResetPassword sets the new password and signs in.
func (s *Server) PostApiAuthRecoveryResetPassword(ctx context.Context, req gen.PostApiAuthRecoveryResetPasswordRequestObject) (gen.PostApiAuthRecoveryResetPasswordResponseObject, error) {
	in := infoFrom(ctx)
	res, err := s.auth.ResetPassword(ctx, in.recoveryCookie, req.Body.Password, in.client)
	if err != nil {
		return nil, err
	}
	noStore(in)
	s.clearRecoveryCookie(in.header)
	return gen.PostApiAuthRecoveryResetPassword200JSONResponse(loginResponse(res)), nil
}

func (s *Server) recoveryCookie(c auth.RecoveryCookie) string {
	maxAge := int(c.TTL.Round(time.Second) / time.Second)
	ck := &http.Cookie{
		Name: RecoveryCookieName, Value: c.Value, Path: recoveryCookiePath,
		MaxAge: max(1, maxAge), HttpOnly: true, Secure: s.opts.CookieSecure, SameSite: http.SameSiteStrictMode,
	}
	return ck.String()
}

func (s *Server) clearRecoveryCookie(h http.Header) {
	ck := &http.Cookie{Name: RecoveryCookieName, Value: "", Path: recoveryCookiePath, MaxAge: -1,
		HttpOnly: true, Secure: s.opts.CookieSecure, SameSite: http.SameSiteStrictMode}
	h.Add("Set-Cookie", ck.String())
}
