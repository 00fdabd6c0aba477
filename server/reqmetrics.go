package server

import (
	"time"

	"github.com/labstack/echo/v4"
)

// RequestMetrics records every request once its answer is written (see
// Options.Metrics; server/metrics implements it with Prometheus).
type RequestMetrics interface {
	// Operation returns the recorder of one operation. It is called once
	// per operation when the server is built (never per request), with an
	// operation id of the contract, StaticOperation or UnmatchedOperation;
	// the recorder is then called once per request with the status sent
	// and the time taken, and must be cheap and safe for concurrent use.
	Operation(id string) func(status int, elapsed time.Duration)
}

// Operation names of requests that are not contract operations.
const (
	// UnmatchedOperation: no route matched the method and path (404, 405).
	UnmatchedOperation = "<unmatched>"
	// StaticOperation: a route outside the contract (/openapi.json, /docs).
	StaticOperation = "<static>"
)

// requestMetrics resolves every route to its recorder once, so the request
// path costs a map lookup by route template and a short scan by method: no
// allocation, no formatting, and no middleware of its own (echo allocates
// a closure per middleware per request): requestLog, which already times
// the request and knows its final status, calls observe.
type requestMetrics struct {
	m         RequestMetrics
	routes    map[string][]methodRecorder // by echo route template
	unmatched func(int, time.Duration)
}

type methodRecorder struct {
	method string
	rec    func(int, time.Duration)
}

// newRequestMetrics resolves the recorder of every route registered on e;
// call it after the last route is added, before serving.
func newRequestMetrics(m RequestMetrics, e *echo.Echo, c *contract) *requestMetrics {
	r := &requestMetrics{m: m, routes: map[string][]methodRecorder{}, unmatched: m.Operation(UnmatchedOperation)}
	byID := map[string]func(int, time.Duration){}
	for _, rt := range e.Routes() {
		id := StaticOperation
		if op := c.ops[rt.Method+" "+rt.Path]; op != nil {
			id = op.route.Operation.OperationID
		}
		rec, ok := byID[id]
		if !ok {
			rec = r.m.Operation(id)
			byID[id] = rec
		}
		r.routes[rt.Path] = append(r.routes[rt.Path], methodRecorder{rt.Method, rec})
	}
	return r
}

// observe records one answered request; requestLog calls it with the
// final status written (the envelope of an error included).
func (r *requestMetrics) observe(c echo.Context, elapsed time.Duration) {
	rec := r.unmatched
	method := c.Request().Method
	for _, mr := range r.routes[c.Path()] {
		if mr.method == method {
			rec = mr.rec
			break
		}
	}
	rec(c.Response().Status, elapsed)
}
