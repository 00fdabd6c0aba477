package e2e

import (
	"fmt"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/cli"
)

// specOp is one operation of the overlaid contract.
type specOp struct {
	method, path string // path in OpenAPI form, /a/{b}
	op           *openapi3.Operation
	doc          *openapi3.T
}

func (o specOp) String() string { return o.method + " " + o.path }

// url is the operation's path with every path parameter filled in.
func (o specOp) url() string {
	return pathParam.ReplaceAllString(o.path, "x1")
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// bearer reports whether the operation's effective security (its own, else
// the document's) asks for bearerAuth.
func (o specOp) bearer() bool {
	sec := o.op.Security
	if sec == nil {
		sec = &o.doc.Security
	}
	for _, req := range *sec {
		if _, ok := req["bearerAuth"]; ok {
			return true
		}
	}
	return false
}

func (o specOp) roles(t *testing.T) []string {
	raw, ok := o.op.Extensions[server.RolesExtension]
	if !ok {
		return nil
	}
	var roles []string
	for _, r := range raw.([]any) {
		roles = append(roles, r.(string))
	}
	if len(roles) == 0 {
		t.Fatalf("%s: empty %s", o, server.RolesExtension)
	}
	return roles
}

// requiredBodyFields lists the required top-level fields of the operation's
// JSON request body (none when it has no body).
func (o specOp) requiredBodyFields() []string {
	if o.op.RequestBody == nil || o.op.RequestBody.Value == nil {
		return nil
	}
	mt := o.op.RequestBody.Value.Content.Get("application/json")
	if mt == nil || mt.Schema == nil || mt.Schema.Value == nil {
		return nil
	}
	return mt.Schema.Value.Required
}

func specOps(t *testing.T) []specOp {
	t.Helper()
	spec, err := server.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	var ops []specOp
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			ops = append(ops, specOp{method, path, op, spec})
		}
	}
	slices.SortFunc(ops, func(a, b specOp) int { return strings.Compare(a.String(), b.String()) })
	return ops
}

// The gate, driven by the contract: every bearerAuth operation refuses an
// anonymous caller with 401, and every operation whose roles exclude trader
// refuses a trader with 403, path-parameter routes included (they are the
// ones a gate keyed by the wrong path form would let through to the handler).
func TestGateCoversEveryOperation(t *testing.T) {
	t.Parallel()
	e := start(t, "memory")
	trader := e.login(nil, traderEmail, traderPass)
	var secured, forbidden, withParams int
	for _, o := range specOps(t) {
		if !o.bearer() {
			continue
		}
		secured++
		if strings.Contains(o.path, "{") {
			withParams++
		}
		var body any
		if o.op.RequestBody != nil {
			body = map[string]any{}
		}
		m := expect(t, e.do(nil, o.method, o.url(), body), 401, "unauthorized")
		if m == nil {
			t.Fatalf("%s: no error body", o)
		}
		roles := o.roles(t)
		if len(roles) == 0 || slices.Contains(roles, auth.RoleTrader) {
			continue
		}
		forbidden++
		r := e.do(nil, o.method, o.url(), body, bearer(trader.jwt)...)
		if r.status != http.StatusForbidden {
			t.Errorf("%s (roles %v) as trader: status %d, want 403: %s", o, roles, r.status, r.body)
			continue
		}
		expect(t, r, 403, "forbidden")
	}
	if secured < 40 || forbidden < 10 || withParams < 5 {
		t.Fatalf("only %d bearer operations (%d with path parameters), %d trader-forbidden: the contract changed or the test lost its reach",
			secured, withParams, forbidden)
	}
}

// Every operation whose JSON body has required fields refuses {} with 400,
// in the envelope of its route.
func TestEmptyBodiesAreRefusedInTheRouteEnvelope(t *testing.T) {
	t.Parallel()
	e := start(t, "memory")
	admin := e.login(nil, adminEmail, adminPass)
	n := 0
	for _, o := range specOps(t) {
		required := o.requiredBodyFields()
		if len(required) == 0 {
			continue
		}
		n++
		var headers []string
		if o.bearer() {
			if roles := o.roles(t); len(roles) > 0 && !slices.Contains(roles, auth.RoleAdmin) {
				t.Fatalf("%s: no demo identity holds one of %v", o, roles)
			}
			headers = bearer(admin.jwt)
		}
		r := e.do(nil, o.method, o.url(), map[string]any{}, headers...)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s with {}: status %d, want 400: %s", o, r.status, r.body)
			continue
		}
		m := r.json(t)
		var msg any
		switch {
		case strings.HasPrefix(o.path, "/api/auth/"): // AuthError {error, message, status}
			if m["error"] != "invalid_request" || m["status"] != float64(400) {
				t.Errorf("%s: not an AuthError: %s", o, r.body)
			}
			msg = m["message"]
		case strings.HasPrefix(o.path, "/api/v1/util/"): // Error {error, status} + message
			if m["error"] != "invalid_request" || m["status"] != float64(400) {
				t.Errorf("%s: not an Error: %s", o, r.body)
			}
			msg = m["message"]
		case strings.HasPrefix(o.path, "/api/v1/orders/"): // RestErrorResponse {isSuccess:false, detail} + error
			if m["isSuccess"] != false || m["error"] != "invalid_request" {
				t.Errorf("%s: not a RestErrorResponse: %s", o, r.body)
			}
			msg = m["detail"]
		case strings.HasPrefix(o.path, "/api/v1/oms/"): // OmsErrorResponse {error} + message
			if m["error"] != "invalid_request" {
				t.Errorf("%s: not an OmsErrorResponse: %s", o, r.body)
			}
			msg = m["message"]
		default:
			t.Fatalf("%s: no envelope known for this path", o)
		}
		s, _ := msg.(string)
		named := slices.ContainsFunc(required, func(f string) bool { return strings.Contains(s, fmt.Sprintf("%q", f)) })
		if !strings.Contains(s, "request body") || !named {
			t.Errorf("%s: message %q names neither the body nor one of %v", o, s, required)
		}
	}
	if n < 20 {
		t.Fatalf("only %d operations with required body fields: the contract changed or the test lost its reach", n)
	}
}

// onlyReader hides the length of its contents, so the client sends them
// chunked, without Content-Length.
type onlyReader struct{ io.Reader }

// A chunked body over the cap is refused with 413, not cut at the cap and
// read as if it were whole; a chunked body under the cap is served.
func TestChunkedBodiesAreCapped(t *testing.T) {
	t.Parallel()
	e := start(t, "memory", func(c *cli.Config) { c.MaxBodyBytes = 1024 })
	send := func(body string) response {
		req, err := http.NewRequest(http.MethodPost, e.base+"/api/auth/login", onlyReader{strings.NewReader(body)})
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		if req.ContentLength != 0 {
			t.Fatalf("the request has a Content-Length (%d): it would not be chunked", req.ContentLength)
		}
		res, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return response{status: res.StatusCode, header: res.Header, body: b}
	}
	login := fmt.Sprintf(`{"identifier":%q,"password":%q}`, adminEmail, adminPass)
	expect(t, send(login), 200, "")
	// Padding with spaces keeps the JSON valid whatever its length: only the cap refuses it.
	for _, size := range []int{1025, 1100, 4096} {
		body := login[:len(login)-1] + strings.Repeat(" ", size-len(login)) + "}"
		if len(body) != size {
			t.Fatal(len(body))
		}
		m := expect(t, send(body), 413, "payload_too_large")
		if !strings.Contains(m["message"].(string), "1024") {
			t.Errorf("413 message: %v", m["message"])
		}
	}
	expect(t, send(login[:len(login)-1]+strings.Repeat(" ", 1024-len(login))+"}"), 200, "")
}
