package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func validate(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := Main(context.Background(), append([]string{"validate"}, args...), nil, &out, &out)
	return code, out.String()
}

// testdata/bad.har holds twelve hand-written exchanges: ten with one known
// violation each (requests and responses), two clean. Every violation is
// reported, on its entry, with the server's own wording; nothing else is.
func TestValidateFlagsEveryKnownViolation(t *testing.T) {
	code, out := validate(t, "testdata/bad.har")
	if code != 1 {
		t.Fatalf("exit %d, want 1\n%s", code, out)
	}
	want := []string{
		`entry 1: POST /api/auth/login (post_api_auth_login): request body: field "password" property "password" is missing`,
		`entry 2: POST /api/auth/login (post_api_auth_login): request body: property "remember" is not allowed`,
		`entry 4: GET /api/v1/util/groups (get_api_v1_util_groups): send Authorization: Bearer <jwt> from POST /api/auth/login`,
		`entry 5: GET /api/v1/util/nothing-here: no operation of the contract has this method and path`,
		`entry 6: POST /api/auth/login (post_api_auth_login): response 200 body: field "jwt" property "jwt" is missing`,
		`entry 7: GET /.well-known/jwks.json (get_jwks): response status 418 is not documented for this operation`,
		`entry 8: POST /api/auth/recovery/start (post_api_auth_recovery_start): Content-Type must be application/json`,
		`entry 9: POST /api/auth/recovery/verify (post_api_auth_recovery_verify): request body is not valid JSON`,
		`entry 11: POST /api/auth/recovery/start (post_api_auth_recovery_start): request body: field "email" must be an email address such as name@example.com`,
		`entry 12: GET /api/v1/util/health (get_api_v1_util_health): response 200 body: field "status" value must be a string`,
	}
	var problems []string
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "entry ") {
			problems = append(problems, l)
		}
	}
	if len(problems) != len(want) {
		t.Fatalf("%d problems reported, want %d:\n%s", len(problems), len(want), out)
	}
	for i, w := range want {
		if !strings.HasPrefix(problems[i], w) {
			t.Errorf("line %d:\n got %s\nwant %s", i+1, problems[i], w)
		}
	}
	rows := map[string]bool{}
	for _, l := range strings.Split(out, "\n") {
		rows[strings.Join(strings.Fields(l), " ")] = true
	}
	for _, s := range []string{
		"GET /api/v1/util/health (get_api_v1_util_health) 2 1",
		"GET /.well-known/jwks.json (get_jwks) 2 1",
		"POST /api/auth/login (post_api_auth_login) 3 3",
		"(no operation) 1 1",
	} {
		if !rows[s] {
			t.Errorf("summary lacks the row %q:\n%s", s, out)
		}
	}
	if !strings.Contains(out, "12 exchanges checked, 10 with violations") {
		t.Errorf("no total:\n%s", out)
	}
	if code, out := validate(t, "--ignore-unmatched", "testdata/bad.har"); code != 1 || strings.Contains(out, "nothing-here") ||
		!strings.Contains(out, "11 exchanges checked, 9 with violations, 1 skipped") {
		t.Fatalf("--ignore-unmatched: exit %d\n%s", code, out)
	}
}

// testdata/e2e-valid.har was recorded from the end-to-end tests
// (TestRecordedTrafficValidates, OMSD_UPDATE_TESTDATA=1): real traffic of the
// real server, which must pass.
func TestValidatePassesRecordedTraffic(t *testing.T) {
	code, out := validate(t, "testdata/e2e-valid.har")
	if code != 0 || !strings.Contains(out, "13 exchanges checked, 0 with violations") {
		t.Fatalf("exit %d\n%s", code, out)
	}
}

func TestValidateJSONLines(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.jsonl")
	// body as a JSON value and as a string; headers as a string and a list.
	_ = os.WriteFile(good, []byte(strings.Join([]string{
		`{"method":"POST","path":"/api/auth/login","body":{"identifier":"a@oms.example","password":"pw"},"status":401,"response_body":{"error":"invalid_credentials","message":"wrong","status":401}}`,
		`{"method":"post","path":"/api/auth/recovery/start","headers":{"Content-Type":"application/json"},"body":"{\"email\":\"a@oms.example\"}","status":200,"response_body":"{\"status\":\"code_sent\"}"}`,
		``,
		`{"method":"GET","path":"/api/v1/util/groups?limit=5","headers":{"Authorization":["Bearer x.y.z"]}}`,
	}, "\n")), 0o644)
	if code, out := validate(t, good); code != 0 || !strings.Contains(out, "3 exchanges checked, 0 with violations") {
		t.Fatalf("good lines: exit %d\n%s", code, out)
	}
	bad := filepath.Join(dir, "bad.jsonl")
	_ = os.WriteFile(bad, []byte(`{"method":"POST","path":"/api/auth/login","body":{"identifier":"a@oms.example"}}
{"method":"GET","path":"/api/v1/util/latency/raw?limit=0","headers":{"Authorization":"Bearer x"},"status":501,"response_body":{"nope":true}}
`), 0o644)
	code, out := validate(t, good, bad)
	if code != 1 ||
		!strings.Contains(out, bad+`: entry 1: POST /api/auth/login (post_api_auth_login): request body: field "password"`) ||
		!strings.Contains(out, bad+`: entry 2: GET /api/v1/util/latency/raw (get_api_v1_util_latency_raw): query parameter "limit"`) ||
		!strings.Contains(out, "5 exchanges checked, 2 with violations") {
		t.Fatalf("bad lines: exit %d\n%s", code, out)
	}
}

func TestValidateUnusableInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, s string) string {
		p := filepath.Join(dir, name)
		_ = os.WriteFile(p, []byte(s), 0o644)
		return p
	}
	for name, args := range map[string][]string{
		"no file":       {},
		"missing file":  {filepath.Join(dir, "nope.har")},
		"empty file":    {write("empty", "")},
		"not json":      {write("text", "GET /api/v1/util/health\n")},
		"no method":     {write("nomethod.jsonl", `{"path":"/x"}`)},
		"unknown field": {write("typo.jsonl", `{"method":"GET","path":"/x","stauts":200}`)},
		"broken har":    {write("broken.har", `{"log":{"entries":[{"request":{}}]}}`)},
		"empty har":     {write("none.har", `{"log":{"version":"1.2","entries":[]}}`)},
	} {
		if code, out := validate(t, args...); code != 2 {
			t.Errorf("%s: exit %d, want 2\n%s", name, code, out)
		}
	}
}
