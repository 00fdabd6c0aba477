package server

import (
	"context"

	"github.com/vero-oms/omsd/gen"
)

// The OMS domain routes (Trading, Portfolio & Risk, Administration,
// latency diagnostics) are registered through the generated interface so the
// whole contract is served and validated; until their issues land each
// answers 501 in its route's envelope (after the bearer and role checks).

func (s *Server) GetAPIV1UtilLatencyMetrics(context.Context, gen.GetAPIV1UtilLatencyMetricsRequestObject) (gen.GetAPIV1UtilLatencyMetricsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetAPIV1UtilLatencyRaw(context.Context, gen.GetAPIV1UtilLatencyRawRequestObject) (gen.GetAPIV1UtilLatencyRawResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) GetAPIV1UtilLatencyStages(context.Context, gen.GetAPIV1UtilLatencyStagesRequestObject) (gen.GetAPIV1UtilLatencyStagesResponseObject, error) {
	return nil, errNotImplemented
}
