package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
)

// loginServer answers POST /api/auth/login with a new JWT each time, and
// with 429 from the failAt-th login on (0: never).
func loginServer(t *testing.T, failAt int64) (*httptest.Server, *atomic.Int64) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/auth/login" || r.Method != http.MethodPost {
			http.NotFound(w, r)
			return
		}
		i := n.Add(1)
		if failAt > 0 && i >= failAt {
			http.Error(w, `{"error":"too_many_requests"}`, http.StatusTooManyRequests)
			return
		}
		fmt.Fprintf(w, `{"jwt":"jwt-%d"}`, i)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// Own sessions: a login per idle subscriber, each JWT different; shared:
// no login, the one JWT for all.
func TestCrowdSessions(t *testing.T) {
	srv, logins := loginServer(t, 0)
	c := config{store: "test", subscribers: 50, idleSessions: "own"}
	jwts, err := crowdSessions(context.Background(), newAPI(srv.URL, 4), c, "shared-jwt")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, j := range jwts {
		if !strings.HasPrefix(j, "jwt-") || seen[j] {
			t.Fatalf("JWT %q: want a new one per subscriber (got %d distinct of %d)", j, len(seen), len(jwts))
		}
		seen[j] = true
	}
	if len(jwts) != 50 || logins.Load() != 50 {
		t.Fatalf("%d JWTs from %d logins, want 50 from 50", len(jwts), logins.Load())
	}

	c.idleSessions = "shared"
	jwts, err = crowdSessions(context.Background(), newAPI(srv.URL, 4), c, "shared-jwt")
	if err != nil || len(jwts) != 50 || logins.Load() != 50 {
		t.Fatalf("shared: %d JWTs, %d logins, err %v", len(jwts), logins.Load(), err)
	}
	for _, j := range jwts {
		if j != "shared-jwt" {
			t.Fatalf("shared: JWT %q", j)
		}
	}
}

// A refused login ends the logins with its error, without hanging.
func TestCrowdSessionsStopsAtAFailedLogin(t *testing.T) {
	srv, logins := loginServer(t, 10)
	c := config{store: "test", subscribers: 200, idleSessions: "own"}
	_, err := crowdSessions(context.Background(), newAPI(srv.URL, 4), c, "")
	if err == nil || !strings.Contains(err.Error(), "429") {
		t.Fatalf("err %v, want the 429", err)
	}
	if n := logins.Load(); n >= 200 {
		t.Fatalf("%d logins after the first refusal, want them stopped", n)
	}
}
