package server

import (
	"context"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/store"
)

// GetAPIV1UtilReference lists one reference list.
func (s *Server) GetAPIV1UtilReference(ctx context.Context, req gen.GetAPIV1UtilReferenceRequestObject) (gen.GetAPIV1UtilReferenceResponseObject, error) {
	vs, err := s.svc.Reference.Values(ctx, string(req.Params.Kind))
	if err != nil {
		return nil, err
	}
	out := make([]gen.ReferenceValue, 0, len(vs))
	for _, v := range vs {
		out = append(out, referenceValueView(v))
	}
	return gen.GetAPIV1UtilReference200JSONResponse{Kind: ptr(string(req.Params.Kind)), Values: &out}, nil
}

// PostAPIV1UtilReference adds a value (or keeps the existing one).
func (s *Server) PostAPIV1UtilReference(ctx context.Context, req gen.PostAPIV1UtilReferenceRequestObject) (gen.PostAPIV1UtilReferenceResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	v, err := s.svc.Reference.AddValue(ctx, p.Email, string(req.Body.Kind), req.Body.Value)
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1UtilReference200JSONResponse(referenceValueView(v)), nil
}

// DeleteAPIV1UtilReference removes a value; 404 when absent.
func (s *Server) DeleteAPIV1UtilReference(ctx context.Context, req gen.DeleteAPIV1UtilReferenceRequestObject) (gen.DeleteAPIV1UtilReferenceResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	kind := string(req.Body.Kind)
	if err := s.svc.Reference.RemoveValue(ctx, p.Email, kind, req.Body.Value); err != nil {
		return nil, err
	}
	return gen.DeleteAPIV1UtilReference200JSONResponse{Kind: &kind, Value: ptr(req.Body.Value), Status: ptr("removed")}, nil
}

// GetAPIV1UtilFirmsTraders lists firm -> trader mappings.
func (s *Server) GetAPIV1UtilFirmsTraders(ctx context.Context, req gen.GetAPIV1UtilFirmsTradersRequestObject) (gen.GetAPIV1UtilFirmsTradersResponseObject, error) {
	firm := ""
	if req.Params.FirmID != nil {
		firm = *req.Params.FirmID
	}
	ts, err := s.svc.Reference.FirmTraders(ctx, firm)
	if err != nil {
		return nil, err
	}
	out := make([]gen.FirmTrader, 0, len(ts))
	for _, t := range ts {
		out = append(out, firmTraderView(t))
	}
	return gen.GetAPIV1UtilFirmsTraders200JSONResponse{FirmID: req.Params.FirmID, Traders: &out}, nil
}

// PostAPIV1UtilFirmsTraders maps a trader to a firm (or keeps the existing mapping).
func (s *Server) PostAPIV1UtilFirmsTraders(ctx context.Context, req gen.PostAPIV1UtilFirmsTradersRequestObject) (gen.PostAPIV1UtilFirmsTradersResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	t, err := s.svc.Reference.AddFirmTrader(ctx, p.Email, req.Body.FirmID, req.Body.TraderID)
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1UtilFirmsTraders200JSONResponse(firmTraderView(t)), nil
}

// DeleteAPIV1UtilFirmsTraders removes a mapping; 404 when absent.
func (s *Server) DeleteAPIV1UtilFirmsTraders(ctx context.Context, req gen.DeleteAPIV1UtilFirmsTradersRequestObject) (gen.DeleteAPIV1UtilFirmsTradersResponseObject, error) {
	p, _ := PrincipalFrom(ctx)
	if err := s.svc.Reference.RemoveFirmTrader(ctx, p.Email, req.Body.FirmID, req.Body.TraderID); err != nil {
		return nil, err
	}
	return gen.DeleteAPIV1UtilFirmsTraders200JSONResponse{FirmID: ptr(req.Body.FirmID), TraderID: ptr(req.Body.TraderID), Status: ptr("removed")}, nil
}

func referenceValueView(v store.ReferenceValue) gen.ReferenceValue {
	return gen.ReferenceValue{
		Kind:      ptr(gen.ReferenceValueKind(v.Kind)),
		Value:     ptr(v.Value),
		CreatedBy: ptr(v.CreatedBy),
		CreatedAt: ptr(v.CreatedAt.UTC()),
	}
}

func firmTraderView(t store.FirmTrader) gen.FirmTrader {
	return gen.FirmTrader{
		FirmID:    ptr(t.FirmID),
		TraderID:  ptr(t.TraderID),
		CreatedBy: ptr(t.CreatedBy),
		CreatedAt: ptr(t.CreatedAt.UTC()),
	}
}
