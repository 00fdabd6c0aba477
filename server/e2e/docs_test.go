package e2e

import (
	"context"
	"html"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/vero-oms/omsd/server"
)

// TestServedContract: /openapi.json is the effective contract (upstream +
// overlay) the server validates with, servers cleared as the validator
// uses them, cacheable by ETag, outside the contract gate.
func TestServedContract(t *testing.T) {
	t.Parallel()
	e := start(t, "memory")
	r := e.do(nil, "GET", "/openapi.json", nil)
	if r.status != 200 || !strings.HasPrefix(r.header.Get("Content-Type"), "application/json") {
		t.Fatalf("status %d, type %q", r.status, r.header.Get("Content-Type"))
	}
	if r.header.Get("Cache-Control") != "no-cache" || r.header.Get("ETag") == "" ||
		!strings.Contains(r.header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatalf("headers: %v", r.header)
	}
	served, err := openapi3.NewLoader().LoadFromData(r.body)
	if err != nil {
		t.Fatalf("served contract does not load: %v", err)
	}
	if err := served.Validate(context.Background()); err != nil {
		t.Fatalf("served contract is not valid OpenAPI: %v", err)
	}
	want, err := server.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	if served.Paths.Len() != want.Paths.Len() || len(served.Servers) != 0 {
		t.Fatalf("paths %d, want %d; servers %v", served.Paths.Len(), want.Paths.Len(), served.Servers)
	}
	// The overlay is applied: our own operations and role lists are there.
	jwks := served.Paths.Find("/.well-known/jwks.json")
	raw := served.Paths.Find("/api/v1/util/latency/raw")
	if jwks == nil || jwks.Get == nil || raw == nil || raw.Get.Extensions[server.RolesExtension] == nil {
		t.Fatal("served contract lacks the overlay's additions")
	}
	if r := e.do(nil, "GET", "/openapi.json", nil, "If-None-Match", r.header.Get("ETag")); r.status != http.StatusNotModified {
		t.Fatalf("revalidation: status %d", r.status)
	}
	if r := e.do(nil, "HEAD", "/openapi.json", nil); r.status != 200 || len(r.body) != 0 {
		t.Fatalf("HEAD: %d %q", r.status, r.body)
	}
}

func TestDocsAssetsAndHeaders(t *testing.T) {
	t.Parallel()
	e := start(t, "memory")
	page := e.do(nil, "GET", "/docs", nil)
	if page.status != 200 || !strings.HasPrefix(page.header.Get("Content-Type"), "text/html") {
		t.Fatalf("/docs: %d %q", page.status, page.header.Get("Content-Type"))
	}
	csp := page.header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "connect-src 'self'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("CSP lacks %q: %s", want, csp)
		}
	}
	if strings.Contains(csp, "unsafe-eval") || strings.Contains(csp, "script-src 'self' 'unsafe-inline'") || page.header.Get("Cache-Control") != "no-cache" {
		t.Errorf("headers: %v", page.header)
	}
	if strings.Contains(string(page.body), "<script>") {
		t.Error("inline script in the docs page (the CSP forbids it)")
	}
	for path, want := range map[string]string{
		"/docs/swagger-ui-bundle.js": "SwaggerUIBundle",
		"/docs/swagger-ui.css":       ".swagger-ui",
		"/docs/init.js":              "openapi.json",
		"/docs/LICENSE":              "Apache License",
		"/docs/NOTICE":               "SmartBear",
	} {
		r := e.do(nil, "GET", path, nil)
		if r.status != 200 || !strings.Contains(string(r.body), want) || r.header.Get("Cache-Control") != "public, max-age=3600" {
			t.Errorf("%s: status %d, cache %q, body has %q: %v", path, r.status, r.header.Get("Cache-Control"), want, strings.Contains(string(r.body), want))
		}
	}
	// Still the API's own 404 in its envelope around it.
	expect(t, e.do(nil, "GET", "/docs/nothing", nil), 404, "not_found")
}

// TestDocsRenderInChromium loads /docs from the real program in headless
// Chromium (Debian's chromium package) and checks that Swagger UI rendered
// every operation of the contract, under the page's CSP, offline.
func TestDocsRenderInChromium(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	e := start(t, "memory")
	spec, err := server.LoadSpec()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := os.MkdirTemp("", "omsd-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir="+dir, "--virtual-time-budget=20000", "--dump-dom", e.base+"/docs")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	dom := string(out)

	ops, want := 0, 0
	var missing []string
	for path, item := range spec.Paths.Map() {
		for method, op := range item.Operations() {
			ops++
			want += max(1, len(op.Tags)) // Swagger UI shows an operation under each of its tags
			if !strings.Contains(dom, `>`+html.EscapeString(op.Summary)+`<`) {
				missing = append(missing, method+" "+path+" ("+op.Summary+")")
			}
		}
	}
	got := strings.Count(dom, `class="opblock-summary-path"`)
	if got != want || len(missing) > 0 {
		t.Fatalf("rendered %d operation blocks, want %d (%d operations); summaries not rendered: %v\nDOM starts: %.2000s",
			got, want, ops, missing, dom)
	}
	if !strings.Contains(dom, "Vero OMS") {
		t.Fatal("the contract title is not rendered")
	}
	t.Logf("chromium rendered %d operations", got)
}

// chromium finds the browser; without it the test skips loudly, and fails
// under CI=true (where .ci/run installs it).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	msg := "e2e: NO CHROMIUM AVAILABLE; install Debian's chromium package (apt-get install chromium) to check /docs in a real browser"
	if os.Getenv("CI") == "true" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}
