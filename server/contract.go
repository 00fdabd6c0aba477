package server

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"unicode/utf8"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/go-json-experiment/json/jsontext"
	"github.com/labstack/echo/v4"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/auth"
)

// RolesExtension is the overlay field that lists the roles an operation
// accepts ("any of"). Operations without it accept any authenticated caller.
const RolesExtension = "x-required-roles"

// PayloadExtension on an operation names the body property (a JSON
// object validated by the handler against the schema of its type, unknown
// keys refused) whose anyOf the gate leaves to the handler, so that a bad
// payload gets a message naming its field rather than "matches no schema
// of anyOf". Everything else of the body is still checked here.
const PayloadExtension = "x-payload-checked-by-type"

// OpenOperations are the only operations that may be served without a
// bearer token (by the contract's own operation ids). Any other operation whose effective security lacks
// bearerAuth stops the server from starting: a contract change that drops
// or moves a security requirement must fail closed, never open a route.
var OpenOperations = map[string]bool{
	"post_api_auth_login":                   true,
	"post_api_auth_recovery_start":          true,
	"post_api_auth_recovery_verify":         true,
	"post_api_auth_recovery_reset_password": true,
	"get_api_auth_session":                  true, // X-Session-Token instead
	"post_api_auth_logout":                  true, // X-Session-Token instead
	"get_jwks":                              true,
	"get_api_v1_util_health":                true,
	"get_api_v1_orders_healthz":             true,
	"get_api_v1_oms_health":                 true,
}

// operation is what the middleware knows about one contract operation.
type operation struct {
	route   *routers.Route
	secured bool     // has a bearerAuth requirement
	roles   []string // any of; empty = any authenticated caller
	// strictJSON: the body is checked for duplicate keys, trailing data and
	// invalid UTF-8 before validation (kin-openapi and encoding/json would
	// silently take the last duplicate or stop at the first value).
	strictJSON bool
	// typedPayload names a body property whose anyOf the handler checks
	// more strictly, against the schema its type names (PayloadExtension).
	typedPayload string
	// emptyQuery is the query string validation leaves on a request with
	// none (defaults filled in), once one has passed; see validated.
	emptyQuery atomic.Pointer[string]
}

// contract validates requests against the overlaid spec embedded in gen.
type contract struct {
	ops     map[string]*operation // "METHOD /echo/:path"
	auth    *auth.Service
	maxBody int64
	options *openapi3filter.Options
	// names of the cookies read into requestInfo
	recoveryCookie, deviceCookie string
}

// LoadSpec returns the overlaid contract as the server uses it: servers
// cleared (the contract's absolute hosts would make every request "no
// matching operation") and a real validator for `format: email`.
func LoadSpec() (*openapi3.T, error) {
	spec, err := gen.GetSpec()
	if err != nil {
		return nil, fmt.Errorf("loading embedded contract: %w", err)
	}
	spec.Servers = nil
	for _, p := range spec.Paths.Map() {
		p.Servers = nil
		for _, op := range p.Operations() {
			op.Servers = nil
		}
	}
	spec.SetStringFormatValidator("email", openapi3.NewCallbackValidator(validEmail))
	return spec, nil
}

func validEmail(s string) error {
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || !strings.Contains(s[strings.LastIndexByte(s, '@'):], ".") {
		return errors.New("must be an email address such as name@example.com")
	}
	return nil
}

// servedSpec is the contract the server validates against and serves,
// loaded once per process: loading it is most of a server's start-up, and
// the server only reads it (a test that wants its own copy calls LoadSpec).
var servedSpec = sync.OnceValues(LoadSpec)

func newContract(a *auth.Service, maxBody int64, secureCookies bool) (*contract, error) {
	spec, err := servedSpec()
	if err != nil {
		return nil, err
	}
	c, err := newContractFor(spec, a, maxBody)
	if err != nil {
		return nil, err
	}
	c.recoveryCookie = cookieName(RecoveryCookieName, secureCookies)
	c.deviceCookie = cookieName(DeviceCookieName, secureCookies)
	return c, nil
}

// bearerSecured reports whether an operation's effective security (its own,
// else the document's) requires bearerAuth.
func bearerSecured(spec *openapi3.T, op *openapi3.Operation) bool {
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

func newContractFor(spec *openapi3.T, a *auth.Service, maxBody int64) (*contract, error) {
	c := &contract{ops: map[string]*operation{}, auth: a, maxBody: maxBody,
		options: &openapi3filter.Options{
			AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, // checked before validation, below
			KeepValidatedValue: true,
			// The document-scoped validators (format: email) only apply when passed along.
			SchemaValidationOptions: spec.GetSchemaValidationOptions(),
		}}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			o := &operation{
				route:      &routers.Route{Spec: spec, Path: path, PathItem: item, Method: method, Operation: op},
				secured:    bearerSecured(spec, op),
				strictJSON: op.RequestBody != nil,
			}
			if raw, ok := op.Extensions[PayloadExtension]; ok {
				name, ok := raw.(string)
				if !ok || name == "" {
					return nil, fmt.Errorf("%s %s: %s must name a body property", method, path, PayloadExtension)
				}
				o.typedPayload = name
			}
			if !o.secured && !OpenOperations[op.OperationID] {
				return nil, fmt.Errorf("%s %s (%s) has no bearerAuth requirement and is not one of the open operations; refusing to serve it anonymously", method, path, op.OperationID)
			}
			if raw, ok := op.Extensions[RolesExtension]; ok {
				list, ok := raw.([]any)
				if !ok {
					return nil, fmt.Errorf("%s %s: %s must be a list", method, path, RolesExtension)
				}
				for _, r := range list {
					s, ok := r.(string)
					if !ok {
						return nil, fmt.Errorf("%s %s: %s must list strings", method, path, RolesExtension)
					}
					o.roles = append(o.roles, s)
				}
				if !o.secured {
					return nil, fmt.Errorf("%s %s: roles without bearerAuth", method, path)
				}
			}
			c.ops[method+" "+echoPath(path)] = o
		}
	}
	return c, nil
}

// echoPath turns /a/{b} into /a/:b, the form echo reports as c.Path().
func echoPath(p string) string {
	var b strings.Builder
	for {
		i := strings.IndexByte(p, '{')
		if i < 0 {
			b.WriteString(p)
			return b.String()
		}
		j := strings.IndexByte(p[i:], '}')
		b.WriteString(p[:i])
		b.WriteString(":")
		b.WriteString(p[i+1 : i+j])
		p = p[i+j+1:]
	}
}

// middleware runs, in order: body cap, bearer check and roles (so anonymous
// callers learn nothing about the schema), then contract validation.
func (c *contract) middleware(next echo.HandlerFunc) echo.HandlerFunc {
	return func(ec echo.Context) error {
		req := ec.Request()
		op := c.ops[req.Method+" "+ec.Path()]
		info := &requestInfo{
			client: auth.Client{IP: ec.RealIP(), UserAgent: req.UserAgent()},
			header: ec.Response().Header(),
		}
		if ck, err := req.Cookie(c.recoveryCookie); err == nil {
			info.recoveryCookie = ck.Value
		}
		if ck, err := req.Cookie(c.deviceCookie); err == nil {
			info.client.DeviceCookie = ck.Value
		}
		ec.SetRequest(req.WithContext(context.WithValue(req.Context(), infoKey{}, info)))
		if op == nil {
			return next(ec) // echo answers 404/405 through the error handler
		}
		req = ec.Request()
		body, err := c.capBody(req)
		if err != nil {
			return err
		}
		if op.secured {
			p, err := c.authenticate(req)
			if err != nil {
				return err
			}
			if !p.HasAnyRole(op.roles) {
				return &apiError{status: http.StatusForbidden, code: apperr.Forbidden,
					message: "this operation requires one of the roles: " + strings.Join(op.roles, ", ")}
			}
			info.principal = &p
		}
		if c.validated(op, req) {
			return next(ec)
		}
		noQuery := req.URL.RawQuery == ""
		params := make(map[string]string, len(ec.ParamNames()))
		for i, n := range ec.ParamNames() {
			params[n] = ec.ParamValues()[i]
		}
		if err := c.validateRequest(op, req, body, params); err != nil {
			return err
		}
		if noQuery {
			c.remember(op, req)
		}
		return next(ec)
	}
}

// validated answers, without kin-openapi, requests whose validation cannot
// depend on the request: no query string, on an operation whose only input
// is query parameters (no body, no path, header or cookie parameter). Such
// a request validates exactly like the first one did, so it gets the query
// string that one was left with (defaults filled in). kin-openapi spends
// some 20 allocations reaching the same answer each time.
func (c *contract) validated(op *operation, req *http.Request) bool {
	if req.URL.RawQuery != "" {
		return false
	}
	q := op.emptyQuery.Load()
	if q == nil {
		return false
	}
	req.URL.RawQuery = *q
	return true
}

// remember records what a request that came with no query string was
// validated into, when the operation qualifies for validated.
func (c *contract) remember(op *operation, req *http.Request) {
	if op.emptyQuery.Load() != nil || !queryOnly(op.route) {
		return
	}
	q := req.URL.RawQuery
	op.emptyQuery.Store(&q)
}

func queryOnly(route *routers.Route) bool {
	if route.Operation.RequestBody != nil {
		return false
	}
	for _, list := range []openapi3.Parameters{route.PathItem.Parameters, route.Operation.Parameters} {
		for _, ref := range list {
			if ref.Value == nil || ref.Value.In != openapi3.ParameterInQuery {
				return false
			}
		}
	}
	return true
}

// capBody reads at most maxBody bytes so an oversized body is refused
// before anything parses it, and returns what it read.
func (c *contract) capBody(req *http.Request) ([]byte, error) {
	if req.Body == nil || req.Body == http.NoBody {
		return nil, nil
	}
	tooLarge := &apiError{status: http.StatusRequestEntityTooLarge, code: "payload_too_large",
		message: fmt.Sprintf("the request body is larger than %d bytes", c.maxBody)}
	if req.ContentLength > c.maxBody {
		return nil, tooLarge
	}
	body, err := io.ReadAll(io.LimitReader(req.Body, c.maxBody+1))
	_ = req.Body.Close()
	if err != nil {
		return nil, &apiError{status: http.StatusBadRequest, code: apperr.InvalidRequest, message: "the request body could not be read"}
	}
	if int64(len(body)) > c.maxBody {
		return nil, tooLarge
	}
	req.Body = io.NopCloser(bytes.NewReader(body))
	req.ContentLength = int64(len(body))
	return body, nil
}

func isJSON(contentType string) bool {
	mt, _, _ := strings.Cut(contentType, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// strictJSONProblem describes what makes body ambiguous JSON: invalid
// UTF-8, a key given twice in one object, or anything after the value.
// Plain syntax errors are left to validation, which reports them.
//
// jsontext (go-json-experiment, the encoding/json/v2 work) rejects
// duplicate names and invalid UTF-8 by default while it scans, without
// building the value: a fraction of encoding/json's Token walk.
func strictJSONProblem(body []byte) string {
	if !utf8.Valid(body) {
		return "request body is not valid UTF-8"
	}
	dec := jsontext.NewDecoder(bytes.NewReader(body))
	if err := dec.SkipValue(); err != nil {
		var se *jsontext.SyntacticError
		if errors.Is(err, jsontext.ErrDuplicateName) && errors.As(err, &se) {
			return fmt.Sprintf("request body: the key %q appears twice in one object", se.JSONPointer.LastToken())
		}
		return "" // a syntax error: validation describes it
	}
	if _, err := dec.ReadToken(); !errors.Is(err, io.EOF) {
		return "request body: unexpected data after the JSON value"
	}
	return ""
}

func (c *contract) authenticate(req *http.Request) (auth.Principal, error) {
	h := req.Header.Get(echo.HeaderAuthorization)
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return auth.Principal{}, &apiError{status: http.StatusUnauthorized, code: apperr.Unauthorized,
			message: "send Authorization: Bearer <jwt> from POST /api/auth/login"}
	}
	return c.auth.Authenticate(req.Context(), strings.TrimSpace(tok))
}

// describeValidation turns a kin-openapi error into a sentence for people,
// without echoing internals such as regular expressions or Go types.
func describeValidation(err error) string {
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return "the request does not match the API contract"
	}
	var where string
	switch {
	case re.Parameter != nil:
		where = fmt.Sprintf("%s parameter %q", re.Parameter.In, re.Parameter.Name)
	case re.RequestBody != nil:
		where = "request body"
	default:
		where = "request"
	}
	var pe *openapi3filter.ParseError
	if errors.As(re.Err, &pe) {
		if re.RequestBody != nil {
			return "request body is not valid JSON"
		}
		return where + " has an invalid value"
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		field := strings.Join(se.JSONPointer(), ".")
		reason := se.Reason
		if se.SchemaField == "format" { // "required": Reason already names the missing property
			reason = "must be a valid " + se.Schema.Format
			if se.Schema.Format == "email" {
				reason = "must be an email address such as name@example.com"
			}
		}
		reason = strings.Replace(reason, "is unsupported", "is not allowed", 1)
		if field != "" {
			return fmt.Sprintf("%s: field %q %s", where, field, trimReason(reason))
		}
		return where + ": " + trimReason(reason)
	}
	switch {
	case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
		return where + " is required"
	case errors.Is(re.Err, openapi3filter.ErrInvalidEmptyValue):
		return where + " must not be empty"
	}
	if re.Reason != "" {
		if strings.Contains(re.Reason, "Content-Type") || strings.Contains(re.Reason, "content type") {
			return "Content-Type must be application/json"
		}
		return where + ": " + trimReason(re.Reason)
	}
	return where + " does not match the API contract"
}

// trimReason drops kin-openapi's appended details (regexps, values).
func trimReason(r string) string {
	if i := strings.Index(r, " (regular expression"); i > 0 {
		r = r[:i]
	}
	return r
}
