package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeVariant writes our upstream contract after edit to a temp file.
func writeVariant(t *testing.T, edit func(paths map[string]any)) string {
	t.Helper()
	raw, err := os.ReadFile("../../openapi/openapi.oms.en.json")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	edit(doc["paths"].(map[string]any))
	out, _ := json.Marshal(doc)
	p := filepath.Join(t.TempDir(), "new.json")
	if err := os.WriteFile(p, out, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestContractCheckExitCodes(t *testing.T) {
	run := func(args ...string) (int, string) {
		var out bytes.Buffer
		code := Main(context.Background(), append([]string{"contract", "check"}, args...), nil, &out, &out)
		return code, out.String()
	}
	same := writeVariant(t, func(map[string]any) {})
	if code, out := run(same); code != 0 || !strings.Contains(out, "breaking changes (0)") || !strings.Contains(out, "result: compatible") {
		t.Fatalf("same contract: exit %d\n%s", code, out)
	}
	added := writeVariant(t, func(p map[string]any) {
		p["/api/v1/oms/risk/limits"] = map[string]any{"get": map[string]any{"operationId": "get_limits",
			"responses": map[string]any{"200": map[string]any{"description": "ok"}}}}
	})
	if code, out := run(added); code != 0 || !strings.Contains(out, "+ GET /api/v1/oms/risk/limits (GetLimits)") {
		t.Fatalf("added operation: exit %d\n%s", code, out)
	}
	removed := writeVariant(t, func(p map[string]any) { delete(p, "/api/v1/oms/risk/rules") })
	if code, out := run(removed); code != 1 || !strings.Contains(out, "GET /api/v1/oms/risk/rules: API path removed without deprecation") ||
		!strings.Contains(out, "- GET /api/v1/oms/risk/rules (GetAPIV1OmsRiskRules)") {
		t.Fatalf("removed operation: exit %d\n%s", code, out)
	}
	renamed := writeVariant(t, func(p map[string]any) {
		p["/api/v1/util/audit-log"] = p["/api/v1/util/audit"]
		delete(p, "/api/v1/util/audit")
	})
	if code, out := run(renamed); code != 1 || !strings.Contains(out, "action ") ||
		!strings.Contains(out, "$.paths['/api/v1/util/audit'].get: target no longer matches anything") {
		t.Fatalf("overlay drift: exit %d\n%s", code, out)
	}
	bad := filepath.Join(t.TempDir(), "bad.json")
	_ = os.WriteFile(bad, []byte(`{"not": "openapi"}`), 0o644)
	for _, args := range [][]string{{bad}, {filepath.Join(t.TempDir(), "missing.json")}, {}, {"--overlay", bad, same}} {
		if code, out := run(args...); code != 2 {
			t.Fatalf("%v: exit %d, want 2\n%s", args, code, out)
		}
	}
}
