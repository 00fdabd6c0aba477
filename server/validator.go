package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/labstack/echo/v4"
	"github.com/vero-oms/omsd/server/apperr"
)

// validateRequest is the contract check of one request against its
// operation: kin-openapi's ValidateRequest, answered as a 400 whose message
// describeValidation words for people. The middleware and the Validator
// both use it, so recorded traffic is judged exactly as the server judges it.
func (c *contract) validateRequest(op *operation, req *http.Request, body []byte, params map[string]string) error {
	if op.strictJSON && len(body) > 0 && isJSON(req.Header.Get(echo.HeaderContentType)) {
		if msg := strictJSONProblem(body); msg != "" {
			return &apiError{status: http.StatusBadRequest, code: apperr.InvalidRequest, message: msg}
		}
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: op.route, Options: c.options}
	if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
		if !anyOfLeftToHandler(op, err) {
			return &apiError{status: http.StatusBadRequest, code: apperr.InvalidRequest, message: describeValidation(err)}
		}
		// Hand the handler the decoded body as a passing validation would
		// (KeepValidatedValue), so it binds what was checked, whatever the
		// spelling of the JSON media type.
		if err := keepDecodedBody(req, body); err != nil {
			return &apiError{status: http.StatusBadRequest, code: apperr.InvalidRequest, message: "request body: " + err.Error()}
		}
	}
	if msg := integerProblem(op, req.Header.Get(echo.HeaderContentType), body); msg != "" {
		return &apiError{status: http.StatusBadRequest, code: apperr.InvalidRequest, message: msg}
	}
	return nil
}

// anyOfLeftToHandler reports whether err is only the anyOf failure of the
// operation's typed payload (PayloadExtension), which the handler answers
// with a message naming the field.
func anyOfLeftToHandler(op *operation, err error) bool {
	if op.typedPayload == "" {
		return false
	}
	var re *openapi3filter.RequestError
	var se *openapi3.SchemaError
	if !errors.As(err, &re) || re.RequestBody == nil || !errors.As(err, &se) {
		return false
	}
	ptr := se.JSONPointer()
	return se.SchemaField == "anyOf" && len(ptr) == 1 && ptr[0] == op.typedPayload
}

// decodedBody is a request body with the value decoded from it, as
// kin-openapi leaves a validated body under KeepValidatedValue.
type decodedBody struct {
	io.ReadCloser
	value any
}

func (b decodedBody) ValidatedValue() any { return b.value }

// keepDecodedBody decodes body (numbers kept exact) and leaves it on req
// for the generated binder.
func keepDecodedBody(req *http.Request, body []byte) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return err
	}
	req.Body = decodedBody{ReadCloser: io.NopCloser(bytes.NewReader(body)), value: v}
	return nil
}

// Exchange is one recorded request and, when Status is not 0, its response.
type Exchange struct {
	Method string
	// Target is the request target: a path with an optional query, or an
	// absolute URL (its scheme and host are ignored).
	Target         string
	Header         http.Header
	Body           []byte
	Status         int
	ResponseHeader http.Header
	ResponseBody   []byte
}

// Verdict is what the Validator found in one Exchange.
type Verdict struct {
	// Route is "METHOD /template" of the matched operation, or the method
	// and path as sent when no operation matches (OperationID is then "").
	Route       string
	OperationID string
	Problems    []string
}

// Validator checks recorded traffic against the contract the server
// enforces, with the server's own code: echo's router over the same routes,
// the same operation table (body cap, bearer requirement), the same
// kin-openapi options and the same messages. Responses are checked with
// kin-openapi's ValidateResponse (status documented, body and headers).
//
// Bearer tokens are not verified: traffic from another environment carries
// tokens this process cannot check. Only their presence on secured
// operations is.
type Validator struct {
	c      *contract
	router *echo.Echo
}

// NewValidator builds a Validator over the embedded contract; maxBody is the
// server's body cap (0: the default 64 KiB).
func NewValidator(maxBody int64) (*Validator, error) {
	if maxBody <= 0 {
		maxBody = 64 << 10
	}
	c, err := newContract(nil, maxBody, false)
	if err != nil {
		return nil, err
	}
	e := echo.New()
	noop := func(echo.Context) error { return nil }
	for key := range c.ops {
		method, path, _ := strings.Cut(key, " ")
		e.Add(method, path, noop)
	}
	return &Validator{c: c, router: e}, nil
}

// Check judges one exchange.
func (v *Validator) Check(ctx context.Context, x Exchange) Verdict {
	u, err := url.Parse(x.Target)
	if err != nil || u.Path == "" && u.RawPath == "" {
		return Verdict{Route: x.Method + " " + x.Target, Problems: []string{"the request target is not a valid URL or path"}}
	}
	target := &url.URL{Path: u.Path, RawPath: u.RawPath, RawQuery: u.RawQuery}
	req, err := http.NewRequestWithContext(ctx, x.Method, target.String(), bytes.NewReader(x.Body))
	if err != nil {
		return Verdict{Route: x.Method + " " + u.Path, Problems: []string{"the request cannot be rebuilt: " + err.Error()}}
	}
	req.Header = x.Header.Clone()
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.ContentLength = int64(len(x.Body))
	if len(x.Body) == 0 {
		req.Body = http.NoBody
	}

	ec := v.router.NewContext(req, nil)
	v.router.Router().Find(req.Method, echo.GetPath(req), ec)
	op := v.c.ops[req.Method+" "+ec.Path()]
	if op == nil {
		return Verdict{Route: req.Method + " " + u.Path,
			Problems: []string{"no operation of the contract has this method and path (the server answers 404 or 405)"}}
	}
	verdict := Verdict{Route: op.route.Method + " " + op.route.Path, OperationID: op.route.Operation.OperationID}
	problem := func(err error) {
		var ae *apiError
		if errors.As(err, &ae) {
			verdict.Problems = append(verdict.Problems, ae.message)
		} else {
			verdict.Problems = append(verdict.Problems, err.Error())
		}
	}
	params := make(map[string]string, len(ec.ParamNames()))
	for i, n := range ec.ParamNames() {
		params[n] = ec.ParamValues()[i]
	}

	bodyOK := true
	body, err := v.c.capBody(req)
	if err != nil {
		problem(err)
		bodyOK = false
	}
	if op.secured && !hasBearer(req) {
		verdict.Problems = append(verdict.Problems, "send Authorization: Bearer <jwt> from POST /api/auth/login")
	}
	if bodyOK {
		if err := v.c.validateRequest(op, req, body, params); err != nil {
			problem(err)
		}
	}
	if x.Status != 0 {
		if msg := v.checkResponse(ctx, op, x, target, params); msg != "" {
			verdict.Problems = append(verdict.Problems, msg)
		}
	}
	return verdict
}

// hasBearer mirrors the shape check of contract.authenticate; the token
// itself cannot be verified here.
func hasBearer(req *http.Request) bool {
	scheme, tok, ok := strings.Cut(req.Header.Get(echo.HeaderAuthorization), " ")
	return ok && strings.EqualFold(scheme, "Bearer") && strings.TrimSpace(tok) != ""
}

func (v *Validator) checkResponse(ctx context.Context, op *operation, x Exchange, target *url.URL, params map[string]string) string {
	req, err := http.NewRequestWithContext(ctx, x.Method, target.String(), bytes.NewReader(x.Body))
	if err != nil {
		return "the request cannot be rebuilt: " + err.Error()
	}
	req.Header = x.Header.Clone()
	header := x.ResponseHeader
	if header == nil {
		header = http.Header{}
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: op.route, Options: v.c.options},
		Status:                 x.Status,
		Header:                 header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			SchemaValidationOptions: v.c.options.SchemaValidationOptions,
		},
	}
	in.SetBodyBytes(x.ResponseBody)
	if err := openapi3filter.ValidateResponse(ctx, in); err != nil {
		return describeResponse(x.Status, err)
	}
	return ""
}

// describeResponse words a response violation like describeValidation
// words a request one.
func describeResponse(status int, err error) string {
	var re *openapi3filter.ResponseError
	if !errors.As(err, &re) {
		return fmt.Sprintf("response %d does not match the API contract", status)
	}
	where := fmt.Sprintf("response %d", status)
	switch {
	case re.Reason == "status is not supported":
		return fmt.Sprintf("response status %d is not documented for this operation", status)
	case strings.HasPrefix(re.Reason, "response header"):
		where += " header" + strings.TrimPrefix(strings.SplitN(re.Reason, " doesn't", 2)[0], "response header")
	case strings.Contains(re.Reason, "failed to decode"):
		return where + ": body is not valid JSON"
	case strings.Contains(re.Reason, "Content-Type") || strings.Contains(re.Reason, "content type"):
		return where + ": " + trimReason(re.Reason)
	default:
		where += " body"
	}
	var se *openapi3.SchemaError
	if errors.As(re.Err, &se) {
		field := strings.Join(se.JSONPointer(), ".")
		reason := strings.Replace(se.Reason, "is unsupported", "is not allowed", 1)
		if se.SchemaField == "format" {
			reason = "must be a valid " + se.Schema.Format
		}
		if field != "" {
			return fmt.Sprintf("%s: field %q %s", where, field, trimReason(reason))
		}
		return where + ": " + trimReason(reason)
	}
	return where + ": " + trimReason(re.Reason)
}
