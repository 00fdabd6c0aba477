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
	spec, err := gen.GetSwagger()
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Validate(context.Background(), openapi3.EnableExamplesValidation()); err != nil {
		t.Fatalf("the overlaid contract is not valid OpenAPI: %v", err)
	}
	if _, err := newContract(nil, 1); err != nil {
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
