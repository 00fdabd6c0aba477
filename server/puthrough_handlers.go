package server

import (
	"context"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/puthrough"
)

// The put-through operations (IOI board, quotes, quote responses, KRX
// quotes): thin ports over the desk in server/puthrough. Every POST answers
// 200 AckResponse; refusals are the desk's errors unchanged.

var errNoBody = apperr.New(apperr.InvalidRequest, "a JSON request body is required")

func parties(in *[]gen.PartyRequest) []puthrough.Party {
	if in == nil {
		return nil
	}
	out := make([]puthrough.Party, len(*in))
	for i, p := range *in {
		out[i] = puthrough.Party{ID: deref(p.PartyID), Source: deref(p.PartyIDSource), Role: p.PartyRole}
	}
	return out
}

// PostAPIV1OrdersIoi posts, replaces or cancels an IOI advertisement.
func (s *Server) PostAPIV1OrdersIoi(ctx context.Context, req gen.PostAPIV1OrdersIoiRequestObject) (gen.PostAPIV1OrdersIoiResponseObject, error) {
	if s.svc.PutThrough == nil {
		return nil, errNotImplemented
	}
	b := req.Body
	if b == nil {
		return nil, errNoBody
	}
	p, _ := PrincipalFrom(ctx)
	ack, err := s.svc.PutThrough.IOI(ctx, p.Email, puthrough.IOIRequest{
		IoiID: b.IoiID, IoiRefID: deref(b.IoiRefID), TransType: deref(b.IoiTransType), Symbol: deref(b.Symbol), Side: deref(b.Side),
		Qty: b.IoiQty, Price: b.Price, ContactNo: deref(b.ContactNo),
		RepoHaircutRatioMantissa: b.RepoHaircutRatioMantissa, CollateralValueMantissa: b.CollateralValueMantissa,
		Body: body(b),
	})
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1OrdersIoi200JSONResponse(ackResponse(ack)), nil
}

// PostAPIV1OrdersQuote posts a put-through quote.
func (s *Server) PostAPIV1OrdersQuote(ctx context.Context, req gen.PostAPIV1OrdersQuoteRequestObject) (gen.PostAPIV1OrdersQuoteResponseObject, error) {
	if s.svc.PutThrough == nil {
		return nil, errNotImplemented
	}
	b := req.Body
	if b == nil {
		return nil, errNoBody
	}
	p, _ := PrincipalFrom(ctx)
	ack, err := s.svc.PutThrough.Quote(ctx, p.Email, puthrough.QuoteRequest{
		QuoteMsgID: b.QuoteMsgID, QuoteID: deref(b.QuoteID), Account: deref(b.Account), Symbol: deref(b.Symbol), Side: deref(b.Side),
		BidPrice: b.BidPrice, OfferPrice: b.OfferPrice, BidSize: b.BidSize, OfferSize: b.OfferSize,
		QuoteType: b.QuoteType, Private: deref(b.PrivateQuote), Parties: parties(b.Parties),
		OrderType: deref(b.OrderType), TradeDate: deref(b.TradeDate), IoiID: deref(b.IoiID),
		Body: body(b),
	})
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1OrdersQuote200JSONResponse(ackResponse(ack)), nil
}

// PostAPIV1OrdersQuoteResponse accepts, counters or passes a quote.
func (s *Server) PostAPIV1OrdersQuoteResponse(ctx context.Context, req gen.PostAPIV1OrdersQuoteResponseRequestObject) (gen.PostAPIV1OrdersQuoteResponseResponseObject, error) {
	if s.svc.PutThrough == nil {
		return nil, errNotImplemented
	}
	b := req.Body
	if b == nil {
		return nil, errNoBody
	}
	p, _ := PrincipalFrom(ctx)
	ack, err := s.svc.PutThrough.RespondQuote(ctx, p.Email, puthrough.QuoteResponseRequest{
		QuoteMsgID: b.QuoteMsgID, QuoteRespID: deref(b.QuoteRespID), QuoteID: deref(b.QuoteID), RespType: b.QuoteRespType,
		Parties: parties(b.Parties), Account: deref(b.Account), Symbol: deref(b.Symbol), Side: deref(b.Side),
		OrderQty: b.OrderQty, BidPrice: b.BidPrice, OfferPrice: b.OfferPrice, BidSize: b.BidSize, OfferSize: b.OfferSize,
		TradeDate: deref(b.TradeDate), IoiID: deref(b.IoiID),
		Body: body(b),
	})
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1OrdersQuoteResponse200JSONResponse(ackResponse(ack)), nil
}

// PostAPIV1OrdersKquote places or replaces a KRX standing quote.
func (s *Server) PostAPIV1OrdersKquote(ctx context.Context, req gen.PostAPIV1OrdersKquoteRequestObject) (gen.PostAPIV1OrdersKquoteResponseObject, error) {
	if s.svc.PutThrough == nil {
		return nil, errNotImplemented
	}
	b := req.Body
	if b == nil {
		return nil, errNoBody
	}
	p, _ := PrincipalFrom(ctx)
	ack, err := s.svc.PutThrough.KQuote(ctx, p.Email, puthrough.KQuoteRequest{
		QuoteMsgID: b.QuoteMsgID, OrigQuoteMsgID: deref(b.OrigQuoteMsgID), Account: deref(b.Account), Symbol: deref(b.Symbol), Side: deref(b.Side),
		BidPrice: b.BidPrice, OfferPrice: b.OfferPrice, BidSize: b.BidSize, OfferSize: b.OfferSize, TradeDate: deref(b.TradeDate),
		Body: body(b),
	})
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1OrdersKquote200JSONResponse(ackResponse(ack)), nil
}

// PostAPIV1OrdersKquoteCancel cancels KRX standing quotes.
func (s *Server) PostAPIV1OrdersKquoteCancel(ctx context.Context, req gen.PostAPIV1OrdersKquoteCancelRequestObject) (gen.PostAPIV1OrdersKquoteCancelResponseObject, error) {
	if s.svc.PutThrough == nil {
		return nil, errNotImplemented
	}
	b := req.Body
	if b == nil {
		return nil, errNoBody
	}
	p, _ := PrincipalFrom(ctx)
	ack, err := s.svc.PutThrough.KQuoteCancel(ctx, p.Email, puthrough.KQuoteCancelRequest{
		QuoteMsgID: b.QuoteMsgID, OrigQuoteMsgID: deref(b.OrigQuoteMsgID), Symbol: deref(b.Symbol), CancelType: b.QuoteCancelType,
		Body: body(b),
	})
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1OrdersKquoteCancel200JSONResponse(ackResponse(ack)), nil
}

// ListIoiAdvertisements reads the public IOI board, newest first.
func (s *Server) ListIoiAdvertisements(ctx context.Context, req gen.ListIoiAdvertisementsRequestObject) (gen.ListIoiAdvertisementsResponseObject, error) {
	if s.svc.PutThrough == nil {
		return nil, errNotImplemented
	}
	q := req.Params
	f := puthrough.AdFilter{Symbol: deref(q.Symbol), Status: string(deref(q.Status)), Side: deref(q.Side)}
	if q.Limit != nil {
		f.Limit = *q.Limit
	}
	if q.Offset != nil {
		f.Offset = *q.Offset
	}
	ads, err := s.svc.PutThrough.Advertisements(ctx, f)
	if err != nil {
		return nil, err
	}
	limit, offset := f.Page()
	out := gen.IOIResult{Symbol: q.Symbol, Side: q.Side, Limit: ptr(limit), Offset: ptr(offset),
		Count: ptr(len(ads)), Advertisements: ptr(make([]gen.Advertisement, 0, len(ads)))}
	if q.Status != nil {
		out.Status = ptr(string(*q.Status))
	}
	for _, a := range ads {
		*out.Advertisements = append(*out.Advertisements, advertisementView(a))
	}
	return gen.ListIoiAdvertisements200JSONResponse(out), nil
}

func advertisementView(a puthrough.Advertisement) gen.Advertisement {
	v := gen.Advertisement{
		ID: ptr(a.ID), IoiID: ptr(a.IoiID), Broker: ptr(a.Broker), Symbol: ptr(a.Symbol), Side: ptr(a.Side), Qty: ptr(a.Qty),
		TransType: ptr(a.TransType), Status: ptr(gen.AdvertisementStatus(a.Status)), SourceSeq: ptr(a.SourceSeq),
		ReceivedAt: ptr(a.CreatedAt), CreatedAtNs: ptr(a.CreatedAt.UnixNano()),
	}
	if a.IoiRefID != "" {
		v.IoiRefID = ptr(a.IoiRefID)
	}
	if a.ContactNo != "" {
		v.ContactNo = ptr(a.ContactNo)
	}
	if a.Price != nil {
		v.Price = ptr(a.Price.InexactFloat64())
	}
	if a.RepoHaircutRatio != nil {
		v.RepoHaircutRatio = ptr(a.RepoHaircutRatio.InexactFloat64())
	}
	if a.CollateralValue != nil {
		v.CollateralValue = ptr(a.CollateralValue.InexactFloat64())
	}
	if a.Status == puthrough.IOIRejected {
		v.RejReason = ptr(a.RejReason)
	}
	return v
}
