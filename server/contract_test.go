package server

import (
	"context"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vero-oms/omsd/gen"
)

// The contract lint: the overlaid document is valid OpenAPI, and every
// project rule the middleware relies on holds.
func TestContractIsValidOpenAPI(t *testing.T) {
	spec, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("the overlaid contract is not valid OpenAPI: %v", err)
	}
	if _, err := newContract(nil, 1, false); err != nil {
		t.Fatal(err)
	}
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			if op.OperationID == "" {
				t.Errorf("%s %s has no operationId", method, path)
			}
			secured := op.Security != nil && len(*op.Security) > 0
			for _, code := range []string{"401", "403", "501", "502"} {
				if secured && op.Responses.Value(code) == nil {
					t.Errorf("%s %s: bearer route without a documented %s", method, path, code)
				}
			}
			if strings.HasPrefix(path, "/api/auth/") && method == "POST" && op.Responses.Value("429") == nil {
				t.Errorf("%s %s: throttled route without 429", method, path)
			}
		}
	}
}

func TestEchoPath(t *testing.T) {
	for in, want := range map[string]string{
		"/a":                  "/a",
		"/a/{b}":              "/a/:b",
		"/a/{b}/c/{d_e}/f":    "/a/:b/c/:d_e/f",
		"/.well-known/x.json": "/.well-known/x.json",
	} {
		if got := echoPath(in); got != want {
			t.Errorf("echoPath(%q) = %q, want %q", in, got, want)
		}
	}
}

// The set of operations served without a bearer token is exactly the
// allowlist; nothing else can be open.
func TestOpenOperationsAreExactlyTheAllowlist(t *testing.T) {
	c, err := newContract(nil, 1, false)
	if err != nil {
		t.Fatal(err)
	}
	open := map[string]bool{}
	for _, op := range c.ops {
		if !op.secured {
			open[op.route.Operation.OperationID] = true
		}
	}
	if len(open) != len(OpenOperations) || len(open) != 10 {
		t.Errorf("open operations %v, allowlist %v (want the same 10)", open, OpenOperations)
	}
	for id := range OpenOperations {
		if !open[id] {
			t.Errorf("allowlisted %s is not open in the contract", id)
		}
	}
}

// If an upstream contract moves bearerAuth to the document level, every
// route that lost its own requirement stays secured; an operation that
// ends up with no requirement and is not allowlisted stops the server.
func TestSecurityFallsBackToTheDocumentAndFailsClosed(t *testing.T) {
	spec, err := LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	bearer := openapi3.SecurityRequirements{{"bearerAuth": []string{}}}
	spec.Security = bearer
	moved := 0
	for _, item := range spec.Paths.Map() {
		for _, op := range item.Operations() {
			if op.Security != nil && len(*op.Security) > 0 {
				op.Security = nil // inherits the document's
				moved++
			} else if OpenOperations[op.OperationID] {
				op.Security = &openapi3.SecurityRequirements{} // explicitly open
			}
		}
	}
	c, err := newContractFor(spec, nil, 1)
	if err != nil {
		t.Fatal(err)
	}
	secured := 0
	for _, op := range c.ops {
		if op.secured {
			secured++
		}
	}
	if moved < 40 || secured != moved {
		t.Fatalf("%d operations moved to document-level security, %d secured", moved, secured)
	}

	// Fail closed: one bearer operation declares itself open.
	op := spec.Paths.Find("/api/v1/oms/risk/rules").Get
	op.Security = &openapi3.SecurityRequirements{}
	if _, err := newContractFor(spec, nil, 1); err == nil || !strings.Contains(err.Error(), "get_api_v1_oms_risk_rules") {
		t.Fatalf("an operation left without bearerAuth must stop the server: %v", err)
	}
}

func TestStrictJSONProblem(t *testing.T) {
	for body, want := range map[string]string{
		`{"a":1}`:                       "",
		`{"a":{"b":1,"c":[1,{"b":2}]}}`: "",
		`[{"a":1},{"a":2}]`:             "",
		`{"a":1,"a":2}`:                 `"a" appears twice`,
		`{"a":{"b":1,"b":2}}`:           `"b" appears twice`,
		`{"a":[{"b":1,"b":2}]}`:         `"b" appears twice`,
		`{"a":1,"\u0061":2}`:            `"a" appears twice`,
		`{"x/y~":1,"x/y~":2}`:           `"x/y~" appears twice`,
		`{"a":{"b":1},"c":{"b":1}}`:     "",
		`{"a":1}` + " \n\t":             "",
		`{"a":1} x`:                     "after the JSON value",
		`{"a":1}{"a":2}`:                "after the JSON value",
		`{"a":1}}`:                      "after the JSON value",
		"{\"a\":\"\xff\"}":              "UTF-8",
		`{"a":`:                         "", // syntax: left to validation
	} {
		got := strictJSONProblem([]byte(body))
		if (want == "") != (got == "") || !strings.Contains(got, want) {
			t.Errorf("%q: %q, want %q", body, got, want)
		}
	}
}
