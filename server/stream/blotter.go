package stream

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"net/http"
	"path"
	"time"
)

// The live blotter: GET /stream is one page, a small real user of the
// Streaming API. It signs in with the REST API, loads the caller's
// accounts (GET /api/v1/oms/risk/accounts) and orders (GET /api/v1/util/orders),
// subscribes to each account's order and account channels with the
// vendored centrifuge-js client (blotter/VERSION names its version and
// source) and keeps the orders and balances tables up to date. Everything
// is embedded, so the page works offline and without any CDN.
//
//go:embed blotter
var blotterFS embed.FS

// BlotterCSP is the page's Content-Security-Policy: scripts, styles and
// images only from this origin (no inline script or style), connections
// to this origin and WebSockets, no forms posting anywhere (the sign-in
// form is sent by script), no framing.
const BlotterCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; " +
	"img-src 'self'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'"

// blotterFiles maps the blotter's paths to its embedded files. The page
// revalidates every time; the assets change only with the binary (an hour,
// then revalidate by ETag), as /docs does.
var blotterFiles = []struct{ path, file, cache string }{
	{"/stream", "blotter/index.html", "no-cache"},
	{"/stream/blotter.js", "blotter/blotter.js", "public, max-age=3600"},
	{"/stream/blotter.css", "blotter/blotter.css", "public, max-age=3600"},
	{"/stream/centrifuge.js", "blotter/centrifuge.js", "public, max-age=3600"},
	{"/stream/icon.svg", "blotter/icon.svg", "public, max-age=3600"},
	{"/stream/centrifuge.LICENSE", "blotter/centrifuge.LICENSE", "public, max-age=3600"},
	{"/stream/VERSION", "blotter/VERSION", "public, max-age=3600"},
}

// blotterPaths lists the blotter's paths (all exact: any other path under
// /stream/ is the REST API's 404).
func blotterPaths() []string {
	out := make([]string, 0, len(blotterFiles))
	for _, f := range blotterFiles {
		out = append(out, f.path)
	}
	return out
}

// registerBlotter adds the blotter's page and assets to mux (GET and HEAD;
// other methods get 405 from the mux).
func registerBlotter(mux *http.ServeMux) {
	for _, f := range blotterFiles {
		body, err := fs.ReadFile(blotterFS, f.file)
		if err != nil {
			panic("stream: embedded blotter file missing: " + f.file) // a build mistake, caught by any test
		}
		mux.Handle("GET "+f.path, newBlotterFile(f.file, body, f.cache))
	}
}

// blotterFile is one embedded response, served with an ETag so browsers
// revalidate cheaply.
type blotterFile struct {
	name  string // for the Content-Type, by extension
	body  []byte
	etag  string
	cache string
}

func newBlotterFile(name string, body []byte, cache string) *blotterFile {
	switch path.Ext(name) {
	case ".html", ".js", ".css", ".svg":
	default: // LICENSE, VERSION: plain text
		name += ".txt"
	}
	sum := sha256.Sum256(body)
	return &blotterFile{name: name, body: body, etag: `"` + hex.EncodeToString(sum[:12]) + `"`, cache: cache}
}

func (f *blotterFile) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("ETag", f.etag)
	h.Set("Cache-Control", f.cache)
	h.Set("Content-Security-Policy", BlotterCSP)
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	http.ServeContent(w, r, f.name, time.Time{}, bytes.NewReader(f.body))
}
