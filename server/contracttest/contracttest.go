// Package contracttest checks, in tests, that every response the server
// sends is one the overlaid contract documents: status code included.
package contracttest

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/vero-oms/omsd/server"
)

var (
	once   sync.Once
	spec   *openapi3.T
	router routers.Router
	err    error
)

func load() (*openapi3.T, routers.Router, error) {
	once.Do(func() {
		if spec, err = server.LoadSpec(); err == nil {
			router, err = gorillamux.NewRouter(spec)
		}
	})
	return spec, router, err
}

// Transport validates every response against the contract and reports a
// violation as a test error. Requests to paths outside the contract are
// passed through unchecked (there is nothing to check them against), but
// are counted in Unmatched.
type Transport struct {
	TB        testing.TB
	Base      http.RoundTripper
	mu        sync.Mutex
	Checked   int
	Unmatched int
}

// Client returns an http.Client whose responses are all checked.
func Client(tb testing.TB, jar http.CookieJar) (*http.Client, *Transport) {
	t := &Transport{TB: tb, Base: http.DefaultTransport}
	return &http.Client{Transport: t, Jar: jar}, t
}

// RoundTrip implements http.RoundTripper.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	res, rerr := t.Base.RoundTrip(req)
	if rerr != nil {
		return res, rerr
	}
	if verr := t.Validate(req, res); verr != nil {
		t.TB.Errorf("contract violation: %s %s -> %d: %v", req.Method, req.URL.Path, res.StatusCode, verr)
	}
	return res, nil
}

// Validate checks one response (its body is read and restored).
func (t *Transport) Validate(req *http.Request, res *http.Response) error {
	_, r, err := load()
	if err != nil {
		return err
	}
	route, params, ferr := r.FindRoute(req)
	if ferr != nil {
		t.mu.Lock()
		t.Unmatched++
		t.mu.Unlock()
		return nil
	}
	body, err := io.ReadAll(res.Body)
	_ = res.Body.Close()
	res.Body = io.NopCloser(bytes.NewReader(body))
	if err != nil {
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 res.StatusCode,
		Header:                 res.Header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus:   true,
			SchemaValidationOptions: route.Spec.GetSchemaValidationOptions(),
		},
	}
	in.SetBodyBytes(body)
	t.mu.Lock()
	t.Checked++
	t.mu.Unlock()
	return openapi3filter.ValidateResponse(context.Background(), in)
}
