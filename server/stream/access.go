package stream

import (
	"context"
	"strings"

	"github.com/centrifugal/centrifuge"

	"github.com/vero-oms/omsd/server/apperr"
)

// connecting authenticates a connection: the token is omsd's bearer JWT
// of a live session; the connection expires with the JWT and is renewed
// by a client-side refresh with a newer JWT of the same identity.
//
// With the connect data {"accounts":"all"} the server also subscribes it
// to the channels of all its accounts (accounts.go).
func (s *Server) connecting(ctx context.Context, e centrifuge.ConnectEvent) (centrifuge.ConnectReply, error) {
	all, err := wantsAllAccounts(e.Data)
	if err != nil {
		return centrifuge.ConnectReply{}, err
	}
	p, exp, err := s.authenticate(ctx, e.Token)
	if err != nil {
		return centrifuge.ConnectReply{}, err
	}
	reply := centrifuge.ConnectReply{
		Credentials:       &centrifuge.Credentials{UserID: p, ExpireAt: exp},
		ClientSideRefresh: true,
		Context:           context.WithValue(ctx, tokenKey{}, e.Token),
	}
	if all {
		if err := s.allAccounts(ctx, p, &reply); err != nil {
			s.o.Log.Warn("stream: reading the accounts of a connection failed", "err", err)
			return centrifuge.ConnectReply{}, centrifuge.ErrorInternal
		}
	}
	return reply, nil
}

type tokenKey struct{}

// authenticate returns the user (the identity's normalised email, the
// grants' user) and the JWT's expiry in Unix seconds, or the Centrifuge
// answer: an invalid token or ended session ends the connection for good
// (3500, the client does not reconnect), a store failure is temporary.
func (s *Server) authenticate(ctx context.Context, jwt string) (string, int64, error) {
	if jwt == "" {
		return "", 0, centrifuge.DisconnectInvalidToken
	}
	claims, err := s.o.Tokens.Verify(jwt, s.o.Now())
	if err != nil {
		return "", 0, centrifuge.DisconnectInvalidToken
	}
	p, err := s.o.Sessions.Authenticate(ctx, jwt)
	if apperr.CodeOf(err) == apperr.Unauthorized {
		return "", 0, centrifuge.DisconnectInvalidToken
	} else if err != nil {
		s.o.Log.Warn("stream: authentication failed", "err", err)
		return "", 0, centrifuge.ErrorInternal
	}
	return p.Email, claims.Expiry.Unix(), nil
}

// connected wires one client's handlers and tracks its JWT for the
// revoke loop.
func (s *Server) connected(c *centrifuge.Client) {
	jwt, _ := c.Context().Value(tokenKey{}).(string)
	s.conns.track(c, jwt)
	c.OnRefresh(func(e centrifuge.RefreshEvent, cb centrifuge.RefreshCallback) {
		user, exp, err := s.authenticate(c.Context(), e.Token)
		if err == nil && user != c.UserID() {
			err = centrifuge.DisconnectInvalidToken // a token of someone else
		}
		if err != nil {
			cb(centrifuge.RefreshReply{}, err)
			return
		}
		s.conns.track(c, e.Token)
		cb(centrifuge.RefreshReply{ExpireAt: exp}, nil)
	})
	c.OnSubscribe(func(e centrifuge.SubscribeEvent, cb centrifuge.SubscribeCallback) {
		cb(s.subscribe(c, e.Channel))
	})
	c.OnDisconnect(func(centrifuge.DisconnectEvent) { s.conns.untrack(c) })
}

// accountOf returns the account of an order or account channel.
func accountOf(channel string) (string, bool) {
	for _, p := range []string{orderChannelPrefix, accountChannelPrefix} {
		if a, ok := strings.CutPrefix(channel, p); ok {
			return a, true
		}
	}
	return "", false
}

// subscribe applies the channel permissions: order and account channels
// need a grant (any level, VIEW and up) on an account that exists, the
// same rule as GET /oms/risk/accounts/{id}: no grant and no account get
// the same answer. Market channels are open to any signed-in user.
func (s *Server) subscribe(c *centrifuge.Client, channel string) (centrifuge.SubscribeReply, error) {
	account, ok := accountOf(channel)
	switch {
	case strings.HasPrefix(channel, "mkt:"):
		return s.subscribeMarket(channel)
	case !ok || account == "" || strings.ContainsAny(account, ":\x00"):
		return centrifuge.SubscribeReply{}, centrifuge.ErrorUnknownChannel
	}
	granted, err := s.granted(c.Context(), c.UserID(), account)
	if err != nil {
		s.o.Log.Warn("stream: permission check failed", "err", err)
		return centrifuge.SubscribeReply{}, centrifuge.ErrorInternal
	}
	if !granted {
		return centrifuge.SubscribeReply{}, centrifuge.ErrorPermissionDenied
	}
	return centrifuge.SubscribeReply{Options: centrifuge.SubscribeOptions{EnableRecovery: true}}, nil
}

// granted reports whether user may read account: the risk domain's rule
// (Permissions.Account), no grant and no account alike.
func (s *Server) granted(ctx context.Context, user, account string) (bool, error) {
	_, err := s.o.Permissions.Account(ctx, user, account)
	if apperr.CodeOf(err) == apperr.NotFound {
		return false, nil
	}
	return err == nil, err
}
