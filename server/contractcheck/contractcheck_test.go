package contractcheck_test

import (
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/openapi"
	"github.com/vero-oms/omsd/server/contractcheck"
)

// upstream returns our vendored contract as generic JSON, to edit.
func upstream(t *testing.T) map[string]any {
	t.Helper()
	raw, err := os.ReadFile("../../openapi/openapi.oms.en.json")
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func obj(m map[string]any, keys ...string) map[string]any {
	for _, k := range keys {
		m = m[k].(map[string]any)
	}
	return m
}

func check(t *testing.T, doc map[string]any) *contractcheck.Report {
	t.Helper()
	raw, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	cur, err := gen.GetSpec()
	if err != nil {
		t.Fatal(err)
	}
	r, err := contractcheck.Check(cur, raw, "new.json", openapi.Overlay)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// The vendored file plus the overlay is the embedded contract: nothing to
// report. This also proves the overlay is applied as `make generate` does.
func TestSameContractHasNoChanges(t *testing.T) {
	r := check(t, upstream(t))
	if r.Fails() || len(r.Added)+len(r.Removed)+len(r.Warnings) > 0 {
		t.Fatalf("identical contract reported: %+v", r)
	}
	if r.Current != r.New || r.Current < 49 {
		t.Fatalf("operations %d -> %d", r.Current, r.New)
	}
}

func TestBreakingChanges(t *testing.T) {
	t.Run("removed operation", func(t *testing.T) {
		doc := upstream(t)
		delete(obj(doc, "paths"), "/api/v1/oms/risk/rules")
		r := check(t, doc)
		if !r.Fails() || !has(r.Breaking, "GET /api/v1/oms/risk/rules", "api-path-removed") {
			t.Fatalf("removal not breaking: %+v", r.Breaking)
		}
		if len(r.Removed) != 1 || r.Removed[0].Path != "/api/v1/oms/risk/rules" || len(r.Added) != 0 {
			t.Fatalf("removed = %v, added = %v", r.Removed, r.Added)
		}
	})
	t.Run("new required request field", func(t *testing.T) {
		doc := upstream(t)
		s := obj(doc, "components", "schemas", "AuthLoginRequest")
		obj(s, "properties")["otp"] = map[string]any{"type": "string"}
		s["required"] = append(s["required"].([]any), "otp")
		r := check(t, doc)
		if !r.Fails() || !has(r.Breaking, "POST /api/auth/login", "new-required-request-property") {
			t.Fatalf("new required field not breaking: %+v", r.Breaking)
		}
		if len(r.Overlay) != 0 || len(r.Added)+len(r.Removed) != 0 {
			t.Fatalf("unexpected: %+v", r)
		}
	})
}

func TestCompatibleChanges(t *testing.T) {
	doc := upstream(t)
	// A new optional request field and a new operation.
	obj(doc, "components", "schemas", "AuthLoginRequest", "properties")["deviceName"] = map[string]any{"type": "string"}
	obj(doc, "paths")["/api/v1/oms/risk/limits"] = map[string]any{"get": map[string]any{
		"operationId": "get_api_v1_oms_risk_limits",
		"summary":     "Risk limits",
		"responses": map[string]any{"200": map[string]any{"description": "limits",
			"content": map[string]any{"application/json": map[string]any{"schema": map[string]any{"type": "object"}}}}},
	}}
	r := check(t, doc)
	if r.Fails() {
		t.Fatalf("compatible change judged breaking: %+v", r.Breaking)
	}
	if len(r.Added) != 1 || r.Added[0].Handler != "GetAPIV1OmsRiskLimits" || r.New != r.Current+1 {
		t.Fatalf("added = %v (%d -> %d)", r.Added, r.Current, r.New)
	}
}

func TestOverlayTargetNoLongerMatches(t *testing.T) {
	doc := upstream(t)
	paths := obj(doc, "paths")
	// Upstream renames a path the overlay corrects.
	paths["/api/v1/util/latency/stage-breakdown"] = paths["/api/v1/util/latency/stages"]
	delete(paths, "/api/v1/util/latency/stages")
	r := check(t, doc)
	if len(r.Overlay) != 1 || r.Overlay[0].Target != "$.paths['/api/v1/util/latency/stages'].get" || r.Overlay[0].Kind != "update" {
		t.Fatalf("overlay problems = %v", r.Overlay)
	}
	if !r.Fails() || len(r.Removed) != 1 || len(r.Added) != 1 {
		t.Fatalf("report: %+v", r)
	}
}

func TestUnusableInput(t *testing.T) {
	for name, data := range map[string]string{
		"not json":    "this is not a contract",
		"not openapi": `{"hello": "world"}`,
		"no paths":    `{"openapi": "3.0.3", "info": {"title": "t", "version": "1"}, "paths": {}}`,
	} {
		t.Run(name, func(t *testing.T) {
			cur, _ := gen.GetSpec()
			_, err := contractcheck.Check(cur, []byte(data), "x.json", openapi.Overlay)
			if !errors.Is(err, contractcheck.ErrUnusable) {
				t.Fatalf("err = %v, want ErrUnusable", err)
			}
		})
	}
	cur, _ := gen.GetSpec()
	raw, _ := os.ReadFile("../../openapi/openapi.oms.en.json")
	if _, err := contractcheck.Check(cur, raw, "x.json", []byte("overlay: [")); !errors.Is(err, contractcheck.ErrUnusable) {
		t.Fatalf("bad overlay: err = %v", err)
	}
}

func has(cs []contractcheck.Change, op, idPrefix string) bool {
	for _, c := range cs {
		if c.Operation == op && strings.HasPrefix(c.ID, idPrefix) {
			return true
		}
	}
	return false
}
