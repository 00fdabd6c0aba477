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

// GetAPIV1UtilHealth is the REST liveness probe.
func (s *Server) GetAPIV1UtilHealth(ctx context.Context, _ gen.GetAPIV1UtilHealthRequestObject) (gen.GetAPIV1UtilHealthResponseObject, error) {
	if !s.storeUp(ctx) {
		return gen.GetAPIV1UtilHealth503JSONResponse{Status: ptr("unavailable")}, nil
	}
	return gen.GetAPIV1UtilHealth200JSONResponse{Status: ptr("ok")}, nil
}

// GetAPIV1OrdersHealthz is the order-entry health probe.
func (s *Server) GetAPIV1OrdersHealthz(ctx context.Context, _ gen.GetAPIV1OrdersHealthzRequestObject) (gen.GetAPIV1OrdersHealthzResponseObject, error) {
	body := gen.OrderHealthResponse{IsSuccess: ptr(true), Detail: ptr("ok")}
	body.Data = &struct {
		Service *string `json:"service,omitempty"`
	}{Service: ptr("omsd")}
	if !s.storeUp(ctx) {
		body.IsSuccess, body.Detail = ptr(false), ptr("session store unreachable")
		return gen.GetAPIV1OrdersHealthz503JSONResponse(body), nil
	}
	return gen.GetAPIV1OrdersHealthz200JSONResponse(body), nil
}

// GetAPIV1OmsHealth is the OMS health probe.
func (s *Server) GetAPIV1OmsHealth(ctx context.Context, _ gen.GetAPIV1OmsHealthRequestObject) (gen.GetAPIV1OmsHealthResponseObject, error) {
	if !s.storeUp(ctx) {
		return gen.GetAPIV1OmsHealth503JSONResponse{Status: ptr("unavailable")}, nil
	}
	return gen.GetAPIV1OmsHealth200JSONResponse{Status: ptr("ok")}, nil
}
