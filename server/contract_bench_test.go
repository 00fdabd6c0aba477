package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// BenchmarkValidatorOverhead isolates what contract validation adds to a
// POST: the same echo route with and without the contract middleware.
func BenchmarkValidatorOverhead(b *testing.B) {
	c, err := newContract(nil, 64<<10, false)
	if err != nil {
		b.Fatal(err)
	}
	noop := func(ec echo.Context) error { return ec.NoContent(http.StatusNoContent) }
	body := `{"identifier":"someone@oms.example","password":"a-password-of-some-length"}`
	for _, tc := range []struct {
		name string
		mw   []echo.MiddlewareFunc
	}{{"without", nil}, {"with", []echo.MiddlewareFunc{c.middleware}}} {
		e := echo.New()
		e.Use(tc.mw...)
		e.POST("/api/auth/login", noop)
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("POST", "/api/auth/login", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				if rec.Code != http.StatusNoContent {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
		})
	}
}
