package stream

import (
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/centrifugal/centrifuge"
	"golang.org/x/time/rate"

	"github.com/vero-oms/omsd/server/apperr"
)

// Revocation reaches streams: a connection whose session ended (logout,
// password reset, disabled identity, expiry) is closed with
// DisconnectSessionEnded, which clients do not retry (codes 4500-4999 are
// terminal); a subscription whose grant is gone is ended with
// UnsubscribeGrantRevoked, which clients do not resubscribe (below 2500).
// Each instance checks its own clients, so revocation reaches every
// instance within RevokeEvery plus one store round trip.
var (
	DisconnectSessionEnded  = centrifuge.Disconnect{Code: 4500, Reason: "session ended"}
	UnsubscribeGrantRevoked = centrifuge.Unsubscribe{Code: 2100, Reason: "grant revoked"}
)

// connections maps each connected client to the JWT it authenticated
// with last (a refresh replaces it) and to its command limiter.
type connections struct {
	mu    sync.Mutex
	all   map[*centrifuge.Client]*connection
	limit func() *rate.Limiter
}

type connection struct {
	jwt      string
	commands *rate.Limiter
}

func newConnections(limit func() *rate.Limiter) *connections {
	return &connections{all: map[*centrifuge.Client]*connection{}, limit: limit}
}

func (c *connections) track(cl *centrifuge.Client, jwt string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn := c.all[cl]; cn != nil {
		cn.jwt = jwt
		return
	}
	c.all[cl] = &connection{jwt: jwt, commands: c.limit()}
}

func (c *connections) untrack(cl *centrifuge.Client) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.all, cl)
}

// commands is cl's command limiter (nil before it is connected).
func (c *connections) commands(cl *centrifuge.Client) *rate.Limiter {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cn := c.all[cl]; cn != nil {
		return cn.commands
	}
	return nil
}

// byToken groups the clients by JWT.
func (c *connections) byToken() map[string][]*centrifuge.Client {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]*centrifuge.Client, len(c.all))
	for cl, cn := range c.all {
		out[cn.jwt] = append(out[cn.jwt], cl)
	}
	return out
}

func (s *Server) revokeLoop(ctx context.Context) {
	t := time.NewTicker(s.o.RevokeEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			s.revoke(ctx)
		}
	}
}

// revokeWorkers bounds the grant reads a revoke round runs at once: with
// thousands of users one round is thousands of round trips, which in
// sequence would outlast RevokeEvery (and the 2 s promise).
const revokeWorkers = 16

// revokeChunk is the most sessions one store round trip of a revoke round
// checks.
const revokeChunk = 1000

// revoke checks every distinct JWT once (their sessions read together,
// revokeChunk to a round trip) and every user's grants once, up to
// revokeWorkers at a time. A store failure decides nothing: the next round
// checks again.
func (s *Server) revoke(ctx context.Context) {
	users := map[string][]*centrifuge.Client{}
	byToken := s.conns.byToken()
	jwts := slices.Collect(maps.Keys(byToken))
	for chunk := range slices.Chunk(jwts, revokeChunk) {
		_, errs := s.o.Sessions.AuthenticateAll(ctx, chunk)
		for i, err := range errs {
			clients := byToken[chunk[i]]
			switch {
			case apperr.CodeOf(err) == apperr.Unauthorized:
				for _, cl := range clients {
					s.conns.untrack(cl)
					cl.Disconnect(DisconnectSessionEnded)
				}
			case err == nil:
				for _, cl := range clients {
					users[cl.UserID()] = append(users[cl.UserID()], cl)
				}
			}
		}
	}
	forEach(ctx, users, func(user string, clients []*centrifuge.Client) {
		granted, err := s.o.Permissions.Readable(ctx, user)
		if err != nil {
			return
		}
		for _, cl := range clients {
			for _, ch := range cl.Channels() {
				if account, ok := accountOf(ch); ok && !granted[account] {
					cl.Unsubscribe(ch, UnsubscribeGrantRevoked)
				}
			}
			s.followGrants(ctx, cl, granted)
		}
	})
}

// forEach runs fn on every entry of m, revokeWorkers at a time, and
// returns when all are done (or ctx ends: the rest are skipped).
func forEach[V any](ctx context.Context, m map[string]V, fn func(string, V)) {
	work := make(chan string)
	var wg sync.WaitGroup
	for range min(revokeWorkers, len(m)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range work {
				fn(k, m[k])
			}
		}()
	}
	for k := range m {
		if ctx.Err() != nil {
			break
		}
		work <- k
	}
	close(work)
	wg.Wait()
}
