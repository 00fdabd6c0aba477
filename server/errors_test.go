package server

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/vero-oms/omsd/store"
)

// A store outage is 503 upstream_unavailable in the OmsError envelope on
// /api/v1/oms/*, and 502 in the group's own envelope everywhere else.
func TestStoreUnavailableStatusPerRouteGroup(t *testing.T) {
	s := &Server{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	e := echo.New()
	for _, tc := range []struct {
		path       string
		status     int
		statusProp bool // the util envelope repeats the status in the body
	}{
		{"/api/v1/oms/risk/accounts", http.StatusServiceUnavailable, false},
		{"/api/v1/oms/admin/mappings/ACC1", http.StatusServiceUnavailable, false},
		{"/api/v1/util/requests", http.StatusBadGateway, true},
		{"/api/v1/orders/new", http.StatusBadGateway, false},
		{"/api/auth/login", http.StatusBadGateway, true},
	} {
		rec := httptest.NewRecorder()
		c := e.NewContext(httptest.NewRequest(http.MethodGet, tc.path, nil), rec)
		s.handleError(fmt.Errorf("reading: %w", store.ErrUnavailable), c)
		if rec.Code != tc.status {
			t.Errorf("%s: status %d, want %d", tc.path, rec.Code, tc.status)
			continue
		}
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("%s: %v: %s", tc.path, err, rec.Body)
		}
		if body["error"] != "upstream_unavailable" {
			t.Errorf("%s: body %v, want error upstream_unavailable", tc.path, body)
		}
		if got, ok := body["status"]; ok != tc.statusProp || (ok && got != float64(tc.status)) {
			t.Errorf("%s: body %v not in its route group's envelope", tc.path, body)
		}
		if _, ok := body["isSuccess"]; ok != (tc.path == "/api/v1/orders/new") {
			t.Errorf("%s: body %v not in its route group's envelope", tc.path, body)
		}
	}
}
