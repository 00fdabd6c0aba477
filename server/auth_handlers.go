package server

import (
	"context"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/store"
)

// PostAPIAuthLogin signs in with email and password.
func (s *Server) PostAPIAuthLogin(ctx context.Context, req gen.PostAPIAuthLoginRequestObject) (gen.PostAPIAuthLoginResponseObject, error) {
	in := infoFrom(ctx)
	res, err := s.svc.Auth.Login(ctx, req.Body.Identifier, req.Body.Password, in.client)
	if err != nil {
		return nil, err
	}
	noStore(in)
	if res.Device != nil {
		in.header.Add("Set-Cookie", s.cookie(DeviceCookieName, deviceCookiePath, res.Device.Value, res.Device.TTL))
	}
	return gen.PostAPIAuthLogin200JSONResponse(loginResponse(res)), nil
}

// GetAPIAuthSession returns the session behind X-Session-Token with a fresh JWT.
func (s *Server) GetAPIAuthSession(ctx context.Context, req gen.GetAPIAuthSessionRequestObject) (gen.GetAPIAuthSessionResponseObject, error) {
	res, err := s.svc.Auth.CurrentSession(ctx, req.Params.XSessionToken)
	if err != nil {
		return nil, err
	}
	noStore(infoFrom(ctx))
	return gen.GetAPIAuthSession200JSONResponse(sessionView(res)), nil
}

// PostAPIAuthLogout revokes the session behind X-Session-Token.
func (s *Server) PostAPIAuthLogout(ctx context.Context, req gen.PostAPIAuthLogoutRequestObject) (gen.PostAPIAuthLogoutResponseObject, error) {
	if err := s.svc.Auth.Logout(ctx, req.Params.XSessionToken); err != nil {
		return nil, err
	}
	return gen.PostAPIAuthLogout204Response{}, nil
}

// GetJwks publishes the public keys that verify our JWTs.
func (s *Server) GetJwks(ctx context.Context, _ gen.GetJwksRequestObject) (gen.GetJwksResponseObject, error) {
	infoFrom(ctx).header.Set("Cache-Control", "public, max-age=300")
	return gen.GetJwks200JSONResponse(s.jwks), nil
}

// noStore keeps credentials out of shared caches.
func noStore(in *requestInfo) { in.header.Set("Cache-Control", "no-store") }

func loginResponse(r auth.SignedIn) gen.AuthLoginResponse {
	sess := sessionView(r)
	return gen.AuthLoginResponse{
		SessionToken:     r.SessionToken,
		Jwt:              r.JWT,
		Session:          sess,
		TokenizedSession: sess,
		Identity:         sess.Identity,
	}
}

func sessionView(r auth.SignedIn) gen.AuthSession {
	devices := make([]gen.AuthSessionDevice, 0, len(r.Session.Devices))
	for _, d := range r.Session.Devices {
		dv := gen.AuthSessionDevice{IPAddress: ptr(d.IPAddress), UserAgent: ptr(d.UserAgent)}
		if d.Location != "" {
			dv.Location = ptr(d.Location)
		}
		devices = append(devices, dv)
	}
	return gen.AuthSession{
		ID:              ptr(r.Session.ID),
		Active:          ptr(true),
		AuthenticatedAt: ptr(r.Session.AuthenticatedAt.UTC()),
		ExpiresAt:       ptr(r.Session.ExpiresAt.UTC()),
		Devices:         &devices,
		Identity:        identityView(r.Identity),
		Tokenized:       ptr(r.JWT),
	}
}

func identityView(id store.Identity) *gen.AuthIdentity {
	roles := id.Roles
	if roles == nil {
		roles = []string{}
	}
	traits := map[string]any{"email": id.Email, "name": id.Name}
	return &gen.AuthIdentity{
		ID:     ptr(id.ID),
		Traits: &traits,
		AdditionalProperties: map[string]any{
			"roles":      roles,
			"state":      string(id.State),
			"created_at": id.CreatedAt.UTC(),
			"updated_at": id.UpdatedAt.UTC(),
		},
	}
}
