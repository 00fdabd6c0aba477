package server

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// The API reference: Swagger UI (swagger-ui-dist, pinned in
// server/webdocs/swagger-ui/VERSION, re-fetched by `make docs-assets`),
// vendored and embedded so /docs works offline, next to its LICENSE.
//
//go:embed webdocs
var webdocs embed.FS

// Content-Security-Policy of the reference page: everything from this
// origin, no inline or foreign scripts, no framing. Swagger UI sets inline
// styles and shows data: images, hence those two allowances.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
	"font-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

var getHead = []string{http.MethodGet, http.MethodHead}

// staticFile is one response of the docs routes, served with an ETag so
// browsers revalidate cheaply.
type staticFile struct {
	name  string // for the Content-Type (by extension)
	body  []byte
	etag  string
	cache string
	csp   string
}

func newStatic(name string, body []byte, cache, csp string) *staticFile {
	sum := sha256.Sum256(body)
	return &staticFile{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, cache: cache, csp: csp}
}

func (f *staticFile) serve(c echo.Context) error {
	h := c.Response().Header()
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", f.cache)
	h.Set("Content-Security-Policy", f.csp)
	h.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(c.Response(), c.Request(), f.name, time.Time{}, bytes.NewReader(f.body))
	return nil
}

// documentRoute reports whether an echo route is one of the public
// documents registerDocs serves (static, no body, no credentials): the only
// routes allowed outside the contract gate.
func documentRoute(path string) bool {
	return path == "/openapi.json" || path == "/docs" || strings.HasPrefix(path, "/docs/")
}

// registerDocs adds GET /openapi.json (the effective contract: upstream +
// overlay, servers cleared as the validator uses it, so "try it out" calls
// this host) and GET /docs (the reference rendered from it). They are not
// contract operations: the contract middleware lets them through.
// servedSpecJSON is GET /openapi.json's body, encoded once per process.
var servedSpecJSON = sync.OnceValues(func() ([]byte, error) {
	spec, err := servedSpec()
	if err != nil {
		return nil, err
	}
	b, err := json.MarshalIndent(spec, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("server: encoding the contract: %w", err)
	}
	return b, nil
})

func registerDocs(e *echo.Echo) error {
	specJSON, err := servedSpecJSON()
	if err != nil {
		return err
	}
	const revalidate = "no-cache"
	jsonCSP := "default-src 'none'; frame-ancestors 'none'"
	e.Match(getHead, "/openapi.json", newStatic("openapi.json", specJSON, revalidate, jsonCSP).serve)

	index, err := webdocs.ReadFile("webdocs/index.html")
	if err != nil {
		return err
	}
	e.Match(getHead, "/docs", newStatic("index.html", index, revalidate, docsCSP).serve)
	assets := map[string]string{
		"swagger-ui.css":                   "webdocs/swagger-ui/swagger-ui.css",
		"swagger-ui-bundle.js":             "webdocs/swagger-ui/swagger-ui-bundle.js",
		"swagger-ui-bundle.js.LICENSE.txt": "webdocs/swagger-ui/swagger-ui-bundle.js.LICENSE.txt",
		"LICENSE":                          "webdocs/swagger-ui/LICENSE",
		"NOTICE":                           "webdocs/swagger-ui/NOTICE",
		"init.js":                          "webdocs/init.js",
		"omsd.css":                         "webdocs/omsd.css",
	}
	for name, file := range assets {
		b, err := fs.ReadFile(webdocs, file)
		if err != nil {
			return err
		}
		ext := path.Ext(name)
		if name == "LICENSE" || name == "NOTICE" {
			ext = ".txt"
		}
		// The assets change only with the binary; an hour, then revalidate by ETag.
		e.Match(getHead, "/docs/"+name, newStatic("asset"+ext, b, "public, max-age=3600", docsCSP).serve)
	}
	return nil
}
