package server

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// TestEmptyQueryValidationIsRemembered: a request with no query string to
// an operation whose only input is query parameters gets exactly what
// kin-openapi gave the first such request (the defaults filled in), and
// anything sent is still validated.
func TestEmptyQueryValidationIsRemembered(t *testing.T) {
	c, err := newContract(nil, 1<<16, false)
	if err != nil {
		t.Fatal(err)
	}
	const path = "/api/v1/util/latency/raw" // query parameters only; time_field defaults to complete_time
	op := c.ops["GET "+path]
	op.secured = false // the bearer check is not what this test is about
	e := echo.New()
	e.HTTPErrorHandler = func(err error, ec echo.Context) {
		var ae *apiError
		if errors.As(err, &ae) {
			_ = ec.String(ae.status, ae.message)
			return
		}
		e.DefaultHTTPErrorHandler(err, ec)
	}
	var seen string
	e.GET(path, func(ec echo.Context) error {
		seen = ec.Request().URL.RawQuery
		return ec.NoContent(http.StatusNoContent)
	}, c.middleware)
	get := func(target string) int {
		rec := httptest.NewRecorder()
		seen = "<not reached>"
		e.ServeHTTP(rec, httptest.NewRequest("GET", target, nil))
		return rec.Code
	}

	if op.emptyQuery.Load() != nil {
		t.Fatal("remembered before any request")
	}
	if code := get(path); code != 204 || seen != "time_field=complete_time" {
		t.Fatalf("first: %d, handler saw %q", code, seen)
	}
	if q := op.emptyQuery.Load(); q == nil || *q != "time_field=complete_time" {
		t.Fatalf("remembered %v", q)
	}
	if code := get(path); code != 204 || seen != "time_field=complete_time" {
		t.Fatalf("second: %d, handler saw %q", code, seen)
	}
	for target, want := range map[string]int{
		path + "?limit=0":                        400,
		path + "?time_field=nope":                400,
		path + "?limit=5":                        204,
		path + "?offset=x":                       400,
		path + "?limit=5&time_field=nope":        400,
		path + "?time_field=create_time&limit=2": 204,
	} {
		if code := get(target); code != want {
			t.Errorf("%s: %d, want %d", target, code, want)
		}
	}
	if get(path); seen != "time_field=complete_time" {
		t.Fatalf("after queries: handler saw %q", seen)
	}

	// An operation with a body is never answered from memory.
	if c.ops["POST /api/auth/login"].emptyQuery.Load() != nil || queryOnly(c.ops["POST /api/auth/login"].route) {
		t.Fatal("login qualifies for remembered validation")
	}
}
