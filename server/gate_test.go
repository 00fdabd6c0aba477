package server

import (
	"context"
	"strings"
	"testing"

	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/mail"
	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/store/memory"
)

type discardMail struct{}

func (discardMail) Send(context.Context, mail.Message) error { return nil }

// Every route the Echo instance serves has a gate entry (body cap, bearer,
// roles, validation) under the key the middleware looks it up by, and every
// gate entry is a served route. A route without an entry would run with no
// check at all: the middleware passes unknown routes through for Echo to
// answer 404/405.
func TestEveryEchoRouteHasAGateEntry(t *testing.T) {
	st := memory.New()
	t.Cleanup(func() { _ = st.Close() })
	key, err := token.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	iss, err := token.NewIssuer(token.Config{Issuer: "omsd", Audience: "vero-oms"}, key)
	if err != nil {
		t.Fatal(err)
	}
	h := password.NewHasher(password.Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16}, 1)
	svc, err := auth.New(auth.Config{}, auth.Deps{Store: st, Hasher: h, Tokens: iss, Mailer: discardMail{},
		Secret: []byte(strings.Repeat("s", 32))})
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(Options{Services: Services{Auth: svc, Tokens: iss, Health: st}.WithBackOffice(st, nil)})
	if err != nil {
		t.Fatal(err)
	}
	c, err := newContract(svc, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	served := map[string]bool{}
	params := 0
	for _, r := range e.Routes() {
		if documentRoute(r.Path) && c.ops[r.Method+" "+r.Path] == nil {
			continue // a public static document (/openapi.json, /docs), no contract operation
		}
		k := r.Method + " " + r.Path
		served[k] = true
		if strings.Contains(r.Path, ":") {
			params++
		}
		if c.ops[k] == nil {
			t.Errorf("route %s has no gate entry: it would run without bearer, role or validation checks", k)
		}
	}
	for k := range c.ops {
		if !served[k] {
			t.Errorf("gate entry %s matches no route", k)
		}
	}
	if len(served) != len(c.ops) || params == 0 {
		t.Fatalf("%d routes (%d with path parameters), %d gate entries", len(served), params, len(c.ops))
	}
}
