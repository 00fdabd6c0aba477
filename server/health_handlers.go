package server

import (
	"context"

	"github.com/vero-oms/omsd/gen"
)

// storeUp pings the store within the health timeout.
func (s *Server) storeUp(ctx context.Context) bool {
	ctx, cancel := context.WithTimeout(ctx, s.opts.HealthTimeout)
	defer cancel()
	if err := s.svc.Health.Ping(ctx); err != nil {
		s.log.WarnContext(ctx, "health: store unreachable", "err", err)
		return false
	}
	return true
}

// GetApiV1UtilHealth is the REST liveness probe.
func (s *Server) GetApiV1UtilHealth(ctx context.Context, _ gen.GetApiV1UtilHealthRequestObject) (gen.GetApiV1UtilHealthResponseObject, error) {
	if !s.storeUp(ctx) {
		return gen.GetApiV1UtilHealth503JSONResponse{Status: ptr("unavailable")}, nil
	}
	return gen.GetApiV1UtilHealth200JSONResponse{Status: ptr("ok")}, nil
}

// GetApiV1OrdersHealthz is the order-entry health probe.
func (s *Server) GetApiV1OrdersHealthz(ctx context.Context, _ gen.GetApiV1OrdersHealthzRequestObject) (gen.GetApiV1OrdersHealthzResponseObject, error) {
	body := gen.OrderHealthResponse{IsSuccess: ptr(true), Detail: ptr("ok")}
	body.Data = &struct {
		Service *string `json:"service,omitempty"`
	}{Service: ptr("omsd")}
	if !s.storeUp(ctx) {
		body.IsSuccess, body.Detail = ptr(false), ptr("session store unreachable")
		return gen.GetApiV1OrdersHealthz503JSONResponse(body), nil
	}
	return gen.GetApiV1OrdersHealthz200JSONResponse(body), nil
}

// GetApiV1OmsHealth is the OMS health probe.
func (s *Server) GetApiV1OmsHealth(ctx context.Context, _ gen.GetApiV1OmsHealthRequestObject) (gen.GetApiV1OmsHealthResponseObject, error) {
	if !s.storeUp(ctx) {
		return gen.GetApiV1OmsHealth503JSONResponse{Status: ptr("unavailable")}, nil
	}
	return gen.GetApiV1OmsHealth200JSONResponse{Status: ptr("ok")}, nil
}
