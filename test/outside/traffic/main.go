// Command traffic drives an end-to-end run through two Prism proxies in
// front of a live omsd, so that Prism's validator (not ours) judges every
// request and response:
//
//   - valid requests go through the proxy started with --errors: any
//     violation Prism finds (request or response) comes back as a Prism
//     error (application/problem+json) or an sl-violations header, and
//     fails the run;
//   - deliberately invalid requests go through the proxy started without
//     --errors, which forwards them to omsd and lists what it finds in the
//     sl-violations header: a violation located in the response fails the
//     run, and a request the contract refuses must be seen as invalid by
//     Prism too.
//
// It signs in with the demo identities, walks the password recovery with
// the code read from the mail outbox, and sends every operation of the
// contract a valid request built from its schema and invalid variants
// (no bearer token, a role the operation does not accept, a missing
// required field, a value of the wrong type). Exit 1 on any failure.
//
//	go run ./test/outside/traffic -spec http://127.0.0.1:8080/openapi.json \
//	  -errors http://127.0.0.1:4010 -report http://127.0.0.1:4011 -outbox var/outbox
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
)

type violation struct {
	Location []string `json:"location"`
	Severity string   `json:"severity"`
	Code     any      `json:"code"`
	Message  string   `json:"message"`
}

type run struct {
	errorsURL, reportURL string
	client               *http.Client
	failures             []string
	sent                 int
	ops                  map[string]int // "METHOD /template" -> requests sent
}

type reply struct {
	status int
	header http.Header
	body   []byte
}

func (r reply) json() map[string]any {
	var m map[string]any
	_ = json.Unmarshal(r.body, &m)
	return m
}

func (r *run) failf(format string, a ...any) {
	msg := fmt.Sprintf(format, a...)
	r.failures = append(r.failures, msg)
	fmt.Println("FAIL", msg)
}

type request struct {
	// route is "METHOD /template" of the operation; empty: method and
	// path as sent (routes without path parameters).
	route  string
	method string
	path   string // with the query
	header map[string]string
	body   any // nil: no body; []byte: sent as is; else JSON
	// invalid: sent through the report proxy. contractInvalid: the
	// contract itself refuses it, so Prism must flag the request too.
	invalid, contractInvalid bool
	// epochNs: a valid request whose answer carries epoch-nanosecond int64
	// values; sent through the report proxy (see prismSafeIntLimit).
	epochNs bool
	want    []int // accepted statuses; empty: 2xx or 501
	what    string
}

// prismSafeIntLimit recognises Prism's one false alarm here: it checks
// `format: int64` against JavaScript's largest exact integer (2^53 - 1),
// and epoch nanoseconds (about 1.8e18 today) are larger. Such violations
// are dropped for epochNs requests; every other one still fails the run.
func prismSafeIntLimit(v violation) bool {
	return fmt.Sprint(v.Code) == "maximum" && strings.HasSuffix(v.Message, "must be <= 9007199254740991")
}

// parseViolations reads an sl-violations header. Prism truncates a long
// list behind "Too many violations! "; then the complete entries before
// the cut are returned with truncated true.
func parseViolations(h string) (vs []violation, truncated bool, err error) {
	rest, cut := strings.CutPrefix(h, "Too many violations! ")
	if !cut {
		err = json.Unmarshal([]byte(h), &vs)
		return vs, false, err
	}
	dec := json.NewDecoder(strings.NewReader(rest))
	if _, err := dec.Token(); err != nil { // [
		return nil, true, err
	}
	for dec.More() {
		var v violation
		if err := dec.Decode(&v); err != nil {
			break
		}
		vs = append(vs, v)
	}
	if len(vs) == 0 {
		return nil, true, fmt.Errorf("no complete violation in %q", h)
	}
	return vs, true, nil
}

func (r *run) send(q request) reply {
	res, buf, err := r.do(q)
	if err != nil {
		r.failf("%s %s (%s): %v", q.method, q.path, q.what, err)
		return reply{}
	}
	r.sent++
	route := q.route
	if route == "" {
		route = q.method + " " + strings.SplitN(q.path, "?", 2)[0]
	}
	r.ops[route]++
	rep := reply{status: res.StatusCode, header: res.Header, body: buf}
	label := fmt.Sprintf("%s %s (%s) -> %d", q.method, q.path, q.what, res.StatusCode)
	if r.judge(q, res.Header, buf, label) {
		return rep
	}
	ok := false
	if len(q.want) == 0 {
		ok = res.StatusCode/100 == 2 || res.StatusCode == http.StatusNotImplemented
	}
	ok = ok || slices.Contains(q.want, res.StatusCode)
	if !ok {
		r.failf("%s: want status %v; body %s", label, q.want, strings.TrimSpace(string(buf)))
	}
	return rep
}

// do sends q through the proxy it belongs to and reads the whole answer.
func (r *run) do(q request) (*http.Response, []byte, error) {
	base := r.errorsURL
	if q.invalid || q.epochNs {
		base = r.reportURL
	}
	var body io.Reader
	switch b := q.body.(type) {
	case nil:
	case []byte:
		body = bytes.NewReader(b)
	default:
		buf, _ := json.Marshal(b)
		body = bytes.NewReader(buf)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, q.method, base+q.path, body)
	if err != nil {
		return nil, nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range q.header {
		req.Header.Set(k, v)
	}
	res, err := r.client.Do(req)
	if err != nil {
		return nil, nil, err
	}
	defer res.Body.Close()
	buf, _ := io.ReadAll(res.Body)
	return res, buf, nil
}

// judge reads Prism's verdict on an exchange (sl-violations, a Prism
// error in place of omsd's answer). It reports whether a valid request
// met a violation, after which the status is not judged.
func (r *run) judge(q request, h http.Header, buf []byte, label string) bool {
	var vs []violation
	if raw := h.Get("sl-violations"); raw != "" {
		var truncated bool
		var err error
		vs, truncated, err = parseViolations(raw)
		if err != nil || (truncated && !q.epochNs) {
			r.failf("%s: unreadable sl-violations header %q", label, raw)
		}
		if q.epochNs {
			vs = slices.DeleteFunc(vs, prismSafeIntLimit)
		}
	}
	prismError := strings.HasPrefix(h.Get("Content-Type"), "application/problem+json")
	if !q.invalid {
		if prismError || len(vs) > 0 {
			r.failf("%s: Prism reports a violation: %s %s", label, h.Get("sl-violations"), strings.TrimSpace(string(buf)))
			return true
		}
		return false
	}
	requestSeen := false
	for _, v := range vs {
		if len(v.Location) > 0 && v.Location[0] == "request" {
			requestSeen = true
			continue
		}
		r.failf("%s: Prism finds the response violates the contract: %s", label, mustJSON(v))
	}
	if prismError {
		r.failf("%s: Prism answered instead of omsd: %s", label, strings.TrimSpace(string(buf)))
	}
	if q.contractInvalid && !requestSeen {
		r.failf("%s: omsd refused the request but Prism finds nothing wrong with it", label)
	}
	return false
}

func mustJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

var demo = map[string]string{
	"admin":   "demo-admin-pass",
	"maker":   "demo-maker-pass",
	"checker": "demo-checker-pass",
	"trader":  "demo-trader-pass",
}

type signedIn struct{ jwt, session string }

func main() {
	specURL := flag.String("spec", "", "URL of the effective contract (omsd's /openapi.json)")
	errorsURL := flag.String("errors", "", "Prism proxy started with --errors")
	reportURL := flag.String("report", "", "Prism proxy started without --errors")
	outbox := flag.String("outbox", "", "omsd's --mail-outbox directory")
	flag.Parse()
	if *specURL == "" || *errorsURL == "" || *reportURL == "" || *outbox == "" {
		flag.Usage()
		os.Exit(2)
	}
	spec, err := loadSpec(*specURL)
	if err != nil {
		fmt.Fprintln(os.Stderr, "traffic:", err)
		os.Exit(2)
	}
	jar, _ := cookiejar.New(nil)
	r := &run{errorsURL: strings.TrimRight(*errorsURL, "/"), reportURL: strings.TrimRight(*reportURL, "/"),
		client: &http.Client{Jar: jar, Timeout: 30 * time.Second}, ops: map[string]int{}}

	ids := r.authFlows(*outbox)
	r.everyOperation(spec, ids)
	r.logoutFlow(ids)

	var missing []string
	for path, item := range spec.Paths.Map() {
		for method := range item.Operations() {
			if route := strings.ToUpper(method) + " " + path; r.ops[route] == 0 {
				missing = append(missing, route)
			}
		}
	}
	sort.Strings(missing)
	for _, m := range missing {
		r.failf("operation %s was not exercised", m)
	}
	fmt.Printf("prism traffic: %d requests over %d operations, %d failures\n", r.sent, len(r.ops), len(r.failures))
	if len(r.failures) > 0 {
		os.Exit(1)
	}
}

func loadSpec(u string) (*openapi3.T, error) {
	res, err := http.Get(u)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != 200 {
		return nil, fmt.Errorf("GET %s: %d", u, res.StatusCode)
	}
	return openapi3.NewLoader().LoadFromData(data)
}

func (r *run) login(role, pw string) signedIn {
	rep := r.send(request{method: "POST", path: "/api/auth/login", what: "login " + role,
		body: map[string]any{"identifier": role + "@oms.example", "password": pw}, want: []int{200}})
	m := rep.json()
	jwt, _ := m["jwt"].(string)
	tok, _ := m["sessionToken"].(string)
	if jwt == "" || tok == "" {
		r.failf("login %s: no jwt or sessionToken in %s", role, rep.body)
	}
	return signedIn{jwt: jwt, session: tok}
}

// authFlows: open routes, sign-in, session refresh and password recovery,
// valid and invalid. Returns a signed-in session per demo role.
func (r *run) authFlows(outbox string) map[string]signedIn {
	for _, q := range []request{
		{method: "GET", path: "/api/v1/util/health", want: []int{200}},
		{method: "GET", path: "/api/v1/orders/healthz", want: []int{200}},
		{method: "GET", path: "/api/v1/oms/health", want: []int{200}},
		{method: "GET", path: "/.well-known/jwks.json", want: []int{200}},
	} {
		q.what = "open route"
		r.send(q)
	}
	ids := map[string]signedIn{}
	for _, role := range []string{"admin", "maker", "checker", "trader"} {
		ids[role] = r.login(role, demo[role])
	}
	login := func(what string, body any, contractInvalid bool, want ...int) {
		r.send(request{method: "POST", path: "/api/auth/login", body: body, what: what,
			invalid: true, contractInvalid: contractInvalid, want: want})
	}
	login("wrong password", map[string]any{"identifier": "maker@oms.example", "password": "not-the-password"}, false, 401)
	login("unknown identity", map[string]any{"identifier": "nobody@oms.example", "password": "whatever-pass"}, false, 401)
	login("missing password", map[string]any{"identifier": "maker@oms.example"}, true, 400)
	login("identifier of the wrong type", map[string]any{"identifier": 42, "password": "x"}, true, 400)
	// Prism forwards a body that is not JSON without a word, so only
	// omsd's answer (and Prism's judgment of it) is checked here.
	login("not JSON", []byte(`{"identifier":`), false, 400)

	sess := func(what, tok string, invalid, contractInvalid bool, want ...int) reply {
		h := map[string]string{}
		if tok != "" {
			h["X-Session-Token"] = tok
		}
		return r.send(request{method: "GET", path: "/api/auth/session", header: h,
			what: what, invalid: invalid, contractInvalid: contractInvalid, want: want})
	}
	sess("session refresh", ids["checker"].session, false, false, 200)
	sess("unknown session token", "oms_st_not-a-session", true, false, 401)
	sess("no session token", "", true, true, 400, 401)

	// Password recovery of a throwaway session of the trader: the reset
	// revokes every trader session, so the trader signs in again after.
	rec := func(path, what string, body any, invalid, contractInvalid bool, want ...int) reply {
		return r.send(request{method: "POST", path: path, body: body, what: what,
			invalid: invalid, contractInvalid: contractInvalid, want: want})
	}
	rec("/api/auth/recovery/verify", "verify before start", map[string]any{"code": "123456"}, true, false, 401)
	rec("/api/auth/recovery/start", "email of the wrong type", map[string]any{"email": true}, true, true, 400)
	rec("/api/auth/recovery/start", "not an email", map[string]any{"email": "not-an-email"}, true, true, 400)
	rec("/api/auth/recovery/start", "unknown email", map[string]any{"email": "nobody@oms.example"}, false, false, 200)
	since := time.Now()
	rec("/api/auth/recovery/start", "start", map[string]any{"email": "trader@oms.example"}, false, false, 200)
	mailed := waitForCode(outbox, since)
	if mailed == "" {
		r.failf("recovery: no code mailed to %s within 10s", outbox)
	}
	rec("/api/auth/recovery/reset-password", "reset before verify", map[string]any{"password": "a-brand-new-password-7"}, true, false, 401)
	rec("/api/auth/recovery/verify", "missing code", map[string]any{}, true, true, 400)
	wrong := "000000"
	if strings.HasPrefix(mailed, "0") {
		wrong = "111111" // never the mailed code
	}
	rec("/api/auth/recovery/verify", "wrong code", map[string]any{"code": wrong}, true, false, 401)
	rec("/api/auth/recovery/verify", "verify", map[string]any{"code": mailed}, false, false, 200)
	rec("/api/auth/recovery/reset-password", "password of the wrong type", map[string]any{"password": 12345678}, true, true, 400)
	rec("/api/auth/recovery/reset-password", "weak password", map[string]any{"password": "short"}, true, false, 400)
	newPW := fmt.Sprintf("traffic-reset-%d", time.Now().UnixNano())
	rec("/api/auth/recovery/reset-password", "reset", map[string]any{"password": newPW}, false, false, 200)
	sess("session revoked by the reset", ids["trader"].session, true, false, 401)
	ids["trader"] = r.login("trader", newPW)
	return ids
}

var codeRE = regexp.MustCompile(`\b[0-9]{6}\b`)

// waitForCode returns the code of the newest .eml written after since.
func waitForCode(dir string, since time.Time) string {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		files, _ := filepath.Glob(filepath.Join(dir, "*.eml"))
		var newest string
		var at time.Time
		for _, f := range files {
			if st, err := os.Stat(f); err == nil && !st.ModTime().Before(since.Add(-time.Second)) && st.ModTime().After(at) {
				newest, at = f, st.ModTime()
			}
		}
		if newest != "" {
			data, _ := os.ReadFile(newest)
			if c := codeRE.FindString(string(data)); c != "" {
				return c
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return ""
}

// authOperations are exercised by authFlows and logoutFlow.
var authOperations = map[string]bool{
	"POST /api/auth/login": true, "POST /api/auth/logout": true, "GET /api/auth/session": true,
	"POST /api/auth/recovery/start": true, "POST /api/auth/recovery/verify": true,
	"POST /api/auth/recovery/reset-password": true,
}

// everyOperation sends each operation outside the authentication flows a
// valid request built from its schema, then the invalid variants.
func (r *run) everyOperation(spec *openapi3.T, ids map[string]signedIn) {
	paths := spec.Paths.InMatchingOrder()
	sort.Strings(paths)
	for _, path := range paths {
		item := spec.Paths.Value(path)
		methods := make([]string, 0)
		for m := range item.Operations() {
			methods = append(methods, m)
		}
		sort.Strings(methods)
		for _, method := range methods {
			op := item.GetOperation(method)
			if authOperations[strings.ToUpper(method)+" "+path] {
				continue
			}
			r.operation(spec, method, path, item, op, ids)
		}
	}
}

func (r *run) operation(spec *openapi3.T, method, path string, item *openapi3.PathItem, op *openapi3.Operation, ids map[string]signedIn) {
	roles := requiredRoles(op)
	secured := isSecured(spec, op)
	role := "admin"
	if len(roles) > 0 {
		role = roles[0]
	}
	params := append(openapi3.Parameters{}, item.Parameters...)
	params = append(params, op.Parameters...)
	target, intQuery := buildTarget(path, params)
	var body any
	var bodySchema *openapi3.Schema
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		if mt := op.RequestBody.Value.Content.Get("application/json"); mt != nil && mt.Schema != nil {
			bodySchema = mt.Schema.Value
			body = sample(bodySchema, 0)
		}
	}
	base := request{route: strings.ToUpper(method) + " " + path, method: strings.ToUpper(method), path: target, body: body}
	if secured {
		base.header = map[string]string{"Authorization": "Bearer " + ids[role].jwt}
	}
	r.send(validRequest(base, op, path, role))
	if secured {
		r.securityProbes(base, roles, ids)
	}
	if bodySchema != nil {
		r.bodyProbes(base, bodySchema, body)
	}
	if intQuery != "" {
		q := base
		sep := "?"
		if strings.Contains(q.path, "?") {
			sep = "&"
		}
		q.path += sep + url.QueryEscape(intQuery) + "=not-a-number"
		q.invalid, q.contractInvalid, q.what, q.want = true, true, "query "+intQuery+" not an integer", []int{400}
		r.send(q)
	}
}

// validRequest is base sent as role, with the statuses a valid sample may
// rightly get.
func validRequest(base request, op *openapi3.Operation, path, role string) request {
	valid := base
	valid.what = "valid, as " + role
	if op.Responses.Status(http.StatusNotFound) != nil {
		// Sample values name accounts, users, groups and requests that do
		// not exist (and a DELETE runs before the POST that would create
		// what it names): the documented 404 is right too, and Prism still
		// judges its body.
		valid.want = []int{200, 404}
	}
	if strings.HasPrefix(path, "/api/v1/orders/") && valid.method == http.MethodPost {
		// Trading bodies: the sample strings ("xx") are schema-valid but not
		// a side (B/S), a decimal price or an account the caller trades, so
		// the documented 400 (a business refusal) and 403 are right too.
		valid.want = []int{200, 400, 403}
	}
	if path == "/api/v1/util/requests" && valid.method == http.MethodPost {
		// The schema's sample is the first payload type's, a CREATE_RISK_RULE
		// with target "xx": valid to the schema, refused by the workflow (a
		// SYSTEM rule targets *, a documented 400). A deposit request for a
		// demo account is valid to both, so the 200 is what is judged.
		valid.body = map[string]any{"request_type": "DEPOSIT", "payload": map[string]any{"account_id": "099C000001", "amount": 1000}}
	}
	if strings.HasPrefix(path, "/api/v1/util/latency/") {
		valid.epochNs = true
	}
	return valid
}

// securityProbes sends base without a bearer token, and as a role the
// operation does not accept.
func (r *run) securityProbes(base request, roles []string, ids map[string]signedIn) {
	q := base
	q.header, q.invalid, q.contractInvalid, q.what, q.want = nil, true, true, "no bearer token", []int{401}
	r.send(q)
	if other := roleOutside(roles); other != "" {
		q := base
		q.header = map[string]string{"Authorization": "Bearer " + ids[other].jwt}
		q.what, q.want = "as "+other+", a role the operation does not accept", []int{403}
		r.send(q) // a valid request: Prism cannot know the roles
	}
}

// bodyProbes sends bodies the contract refuses: a required field missing,
// the wrong type, a field of the wrong type, an integer past int64.
func (r *run) bodyProbes(base request, bodySchema *openapi3.Schema, body any) {
	obj, _ := body.(map[string]any)
	if len(bodySchema.Required) > 0 && obj != nil {
		q := base
		missing := cloneWithout(obj, bodySchema.Required[0])
		q.body, q.invalid, q.contractInvalid, q.what, q.want = missing, true, true, "missing required "+bodySchema.Required[0], []int{400}
		r.send(q)
	}
	q := base
	q.body, q.invalid, q.contractInvalid, q.what, q.want = []byte(`["not","an","object"]`), true, true, "body of the wrong type", []int{400}
	r.send(q)
	if obj == nil {
		return
	}
	if name, wrong := wrongTyped(bodySchema, obj); name != "" {
		q := base
		q.body, q.invalid, q.contractInvalid, q.what, q.want = wrong, true, true, "field "+name+" of the wrong type", []int{400}
		r.send(q)
	}
	if name, huge := hugeInteger(bodySchema, obj); name != "" {
		q := base
		q.body, q.invalid, q.what, q.want = huge, true, "field "+name+" past int64", []int{400}
		r.send(q)
	}
}

func (r *run) logoutFlow(ids map[string]signedIn) {
	lo := func(what, tok string, invalid, contractInvalid bool, want ...int) {
		h := map[string]string{}
		if tok != "" {
			h["X-Session-Token"] = tok
		}
		r.send(request{method: "POST", path: "/api/auth/logout", header: h, what: what,
			invalid: invalid, contractInvalid: contractInvalid, want: want})
	}
	lo("no session token", "", true, true, 400, 401)
	lo("logout", ids["maker"].session, false, false, 204)
	r.send(request{method: "GET", path: "/api/auth/session", what: "session after logout",
		header: map[string]string{"X-Session-Token": ids["maker"].session}, invalid: true, want: []int{401}})
	r.send(request{method: "GET", path: "/api/v1/util/groups", what: "JWT of a logged-out session",
		header: map[string]string{"Authorization": "Bearer " + ids["maker"].jwt}, invalid: true, want: []int{401}})
}

func requiredRoles(op *openapi3.Operation) []string {
	var out []string
	if list, ok := op.Extensions["x-required-roles"].([]any); ok {
		for _, v := range list {
			if s, ok := v.(string); ok {
				out = append(out, s)
			}
		}
	}
	return out
}

func roleOutside(roles []string) string {
	if len(roles) == 0 {
		return ""
	}
	for _, cand := range []string{"trader", "checker", "maker", "admin"} {
		in := false
		for _, r := range roles {
			in = in || r == cand
		}
		if !in {
			return cand
		}
	}
	return ""
}

func isSecured(spec *openapi3.T, op *openapi3.Operation) bool {
	reqs := spec.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	for _, req := range reqs {
		if _, ok := req["bearerAuth"]; ok {
			return true
		}
	}
	return false
}

// buildTarget fills path parameters and the required query parameters with
// sample values, and names an integer query parameter to break, if any.
func buildTarget(path string, params openapi3.Parameters) (string, string) {
	q := url.Values{}
	intQuery := ""
	for _, p := range params {
		v := p.Value
		if v == nil || v.Schema == nil || v.Schema.Value == nil {
			continue
		}
		s := v.Schema.Value
		val := fmt.Sprint(sample(s, 0))
		switch v.In {
		case "path":
			path = strings.ReplaceAll(path, "{"+v.Name+"}", url.PathEscape(val))
		case "query":
			if s.Type.Is("integer") && intQuery == "" {
				intQuery = v.Name
			}
			if v.Required {
				q.Set(v.Name, val)
			}
		}
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return path, intQuery
}

// sample builds a value the schema accepts: required properties only,
// the first enum value, the minimum of a range.
func sample(s *openapi3.Schema, depth int) any {
	if s == nil || depth > 8 {
		return nil
	}
	switch {
	case s.Example != nil:
		return s.Example
	case len(s.Enum) > 0:
		return s.Enum[0]
	case len(s.AllOf) > 0:
		merged := map[string]any{}
		for _, sub := range s.AllOf {
			if m, ok := sample(sub.Value, depth+1).(map[string]any); ok {
				for k, v := range m {
					merged[k] = v
				}
			}
		}
		return merged
	case len(s.OneOf) > 0:
		return sample(s.OneOf[0].Value, depth+1)
	case len(s.AnyOf) > 0:
		return sample(s.AnyOf[0].Value, depth+1)
	case s.Type.Is("object") || (s.Type == nil && len(s.Properties) > 0):
		m := map[string]any{}
		for _, name := range s.Required {
			if p := s.Properties[name]; p != nil {
				m[name] = sample(p.Value, depth+1)
			} else {
				m[name] = "x"
			}
		}
		return m
	case s.Type.Is("array"):
		var items *openapi3.Schema
		if s.Items != nil {
			items = s.Items.Value
		}
		out := make([]any, int(s.MinItems))
		for i := range out {
			out[i] = sample(items, depth+1)
		}
		return out
	}
	return sampleScalar(s)
}

// sampleScalar is a valid value of a scalar schema.
func sampleScalar(s *openapi3.Schema) any {
	switch {
	case s.Type.Is("integer"):
		if s.Min != nil {
			return int64(*s.Min)
		}
		return 1
	case s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min
		}
		return 1.5
	case s.Type.Is("boolean"):
		return true
	case s.Type.Is("string"):
		switch s.Format {
		case "email":
			return "someone@oms.example"
		case "date-time":
			return time.Now().UTC().Format(time.RFC3339)
		case "date":
			return time.Now().UTC().Format("2006-01-02")
		}
		n := max(int(s.MinLength), 2)
		if s.MaxLength != nil && int(*s.MaxLength) < n {
			n = int(*s.MaxLength)
		}
		return strings.Repeat("x", n)
	}
	return "x"
}

func cloneWithout(m map[string]any, field string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	delete(out, field)
	return out
}

// wrongTyped replaces the first (sorted) property of the sample with a value
// of another JSON type.
func wrongTyped(s *openapi3.Schema, m map[string]any) (string, map[string]any) {
	names := make([]string, 0, len(m))
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := s.Properties[k]
		if p == nil || p.Value == nil || p.Value.Type == nil {
			continue
		}
		out := cloneWithout(m, "")
		switch {
		case p.Value.Type.Is("string"):
			out[k] = 12345
		default:
			out[k] = "not-the-right-type"
		}
		return k, out
	}
	return "", nil
}

// hugeInteger sets the first int64 property to 2^63, one past int64.
func hugeInteger(s *openapi3.Schema, m map[string]any) (string, []byte) {
	names := make([]string, 0, len(s.Properties))
	for k := range s.Properties {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		p := s.Properties[k].Value
		if p == nil || !p.Type.Is("integer") {
			continue
		}
		out := cloneWithout(m, k)
		buf, _ := json.Marshal(out)
		field := fmt.Sprintf(`%q:9223372036854775808`, k)
		if len(out) == 0 {
			return k, []byte("{" + field + "}")
		}
		return k, append([]byte("{"+field+","), buf[1:]...)
	}
	return "", nil
}
