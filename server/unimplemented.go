package server

import (
	"context"

	"github.com/vero-oms/omsd/gen"
)

// The OMS domain routes (Trading, Portfolio & Risk, Administration,
// latency diagnostics) are registered through the generated interface so the
// whole contract is served and validated; until their issues land each
// answers 501 in its route's envelope (after the bearer and role checks).

func (s *Server) ListIoiAdvertisements(context.Context, gen.ListIoiAdvertisementsRequestObject) (gen.ListIoiAdvertisementsResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostAPIV1OrdersIoi(context.Context, gen.PostAPIV1OrdersIoiRequestObject) (gen.PostAPIV1OrdersIoiResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostAPIV1OrdersKquote(context.Context, gen.PostAPIV1OrdersKquoteRequestObject) (gen.PostAPIV1OrdersKquoteResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostAPIV1OrdersKquoteCancel(context.Context, gen.PostAPIV1OrdersKquoteCancelRequestObject) (gen.PostAPIV1OrdersKquoteCancelResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostAPIV1OrdersQuote(context.Context, gen.PostAPIV1OrdersQuoteRequestObject) (gen.PostAPIV1OrdersQuoteResponseObject, error) {
	return nil, errNotImplemented
}

func (s *Server) PostAPIV1OrdersQuoteResponse(context.Context, gen.PostAPIV1OrdersQuoteResponseRequestObject) (gen.PostAPIV1OrdersQuoteResponseResponseObject, error) {
	return nil, errNotImplemented
}
