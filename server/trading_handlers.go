package server

import (
	"context"
	"encoding/json"
	"strconv"

	"github.com/vero-oms/omsd/gen"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/trading"
	"github.com/vero-oms/omsd/store"
)

// The Trading operations: thin ports over server/trading. Prices travel
// as decimal strings in requests and become the contract's doubles in
// order records here.

func ackResponse(a trading.Ack) gen.AckResponse {
	data := gen.Ack{MsgType: ptr(a.MsgType), RequestID: ptr(a.RequestID), ClientID: ptr(a.ClientID),
		HftGateway: ptr(trading.GatewayName), SourceService: ptr(trading.ServiceName), SourceSequence: ptr(a.SourceSequence)}
	if a.OrigRequestID != "" {
		data.OrigRequestID = ptr(a.OrigRequestID)
	}
	return gen.AckResponse{IsSuccess: ptr(true), Detail: ptr("accepted"), Data: &data}
}

// body is the request as received, for the latency record.
func body(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// PostAPIV1OrdersNew enters an order.
func (s *Server) PostAPIV1OrdersNew(ctx context.Context, req gen.PostAPIV1OrdersNewRequestObject) (gen.PostAPIV1OrdersNewResponseObject, error) {
	if s.svc.Trading == nil {
		return nil, errNotImplemented
	}
	p, _ := PrincipalFrom(ctx)
	b := req.Body
	ack, err := s.svc.Trading.Submit(ctx, p.Email, trading.NewOrder{
		Account: b.AccountID, Symbol: b.Symbol, Side: b.Side, Type: b.OrderType, Price: b.Price, Qty: b.Qty,
		RefOrderID: deref(b.RefOrderID), AlgoID: deref(b.AlgoID), PositionID: deref(b.PositionID), PersisState: deref(b.PersisState),
		Body: body(b),
	})
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1OrdersNew200JSONResponse(ackResponse(ack)), nil
}

// PostAPIV1OrdersCancel cancels a working order.
func (s *Server) PostAPIV1OrdersCancel(ctx context.Context, req gen.PostAPIV1OrdersCancelRequestObject) (gen.PostAPIV1OrdersCancelResponseObject, error) {
	if s.svc.Trading == nil {
		return nil, errNotImplemented
	}
	p, _ := PrincipalFrom(ctx)
	ack, err := s.svc.Trading.Cancel(ctx, p.Email, trading.CancelRequest{OrderID: req.Body.OrderID, RequestID: deref(req.Body.RequestID), Body: body(req.Body)})
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1OrdersCancel200JSONResponse(ackResponse(ack)), nil
}

// PostAPIV1OrdersReplace amends a working order.
func (s *Server) PostAPIV1OrdersReplace(ctx context.Context, req gen.PostAPIV1OrdersReplaceRequestObject) (gen.PostAPIV1OrdersReplaceResponseObject, error) {
	if s.svc.Trading == nil {
		return nil, errNotImplemented
	}
	p, _ := PrincipalFrom(ctx)
	b := req.Body
	ack, err := s.svc.Trading.Replace(ctx, p.Email, trading.ReplaceRequest{OrderID: b.OrderID, RequestID: deref(b.RequestID), Price: b.Price, Qty: b.Qty, Body: body(b)})
	if err != nil {
		return nil, err
	}
	return gen.PostAPIV1OrdersReplace200JSONResponse(ackResponse(ack)), nil
}

// GetAPIV1UtilOrders lists the caller's orders, newest first.
func (s *Server) GetAPIV1UtilOrders(ctx context.Context, req gen.GetAPIV1UtilOrdersRequestObject) (gen.GetAPIV1UtilOrdersResponseObject, error) {
	if s.svc.Trading == nil {
		return nil, errNotImplemented
	}
	p, _ := PrincipalFrom(ctx)
	q := req.Params
	f := store.OrderFilter{OrderID: deref(q.OrderID), OriginalReqID: deref(q.OriginalReqID), OrigClOrdID: deref(q.OrigClOrdID),
		AccountCode: deref(q.AccountID), Symbol: deref(q.Symbol), Status: store.OrderStatus(deref(q.OrderStatus))}
	if q.Limit != nil {
		f.Limit = *q.Limit
	}
	if q.Offset != nil {
		f.Offset = *q.Offset
	}
	orders, err := s.svc.Trading.Orders(ctx, p.Email, trading.OrdersQuery{OrderFilter: f, FromNs: q.FromNs, ToNs: q.ToNs})
	if err != nil {
		return nil, err
	}
	limit, offset := f.Page()
	out := gen.OrdersResult{OrderID: q.OrderID, AccountID: q.AccountID, Symbol: q.Symbol, OrderStatus: q.OrderStatus,
		Limit: ptr(limit), Offset: ptr(offset), Count: ptr(len(orders)), Orders: ptr(make([]gen.Order, 0, len(orders)))}
	for _, o := range orders {
		*out.Orders = append(*out.Orders, orderView(o))
	}
	return gen.GetAPIV1UtilOrders200JSONResponse(out), nil
}

// FIX OrdType (40) and TimeInForce (59) of each order type.
var fixOrdType = map[string][2]string{
	"LO": {"2", "0"}, "MTL": {"K", "0"}, "MAK": {"1", "3"}, "MOK": {"1", "4"}, "ATO": {"1", "2"}, "ATC": {"5", "7"},
	"PLO": {"2", "0"}, "BUYIN": {"2", "0"},
}

func orderView(o store.Order) gen.Order {
	f64 := func(v int64) *float64 { x := float64(v); return &x }
	ms := func(t interface{ UnixMilli() int64 }) *float64 { return f64(t.UnixMilli()) }
	v := gen.Order{
		OrderID: ptr(strconv.FormatInt(o.ID, 10)), OriginalReqID: ptr(o.OriginalReqID), ClOrdID: ptr(o.ClOrdID),
		AccountID: ptr(o.AccountCode), User: ptr(o.User), Symbol: ptr(o.Symbol), OrderSide: ptr(o.Side), OrderType: ptr(o.Type),
		OrderStatus: ptr(gen.OrderOrderStatus(o.Status)), OriginalQty: ptr(o.OriginalQty), OrderCurrentQty: ptr(o.Qty),
		OriginalPrice: ptr(o.OriginalPrice.InexactFloat64()), OrderCurrentPrice: ptr(o.Price.InexactFloat64()),
		FilledQty: f64(o.FilledQty), CancelledQty: f64(o.CancelledQty), AvgFillPrice: ptr(o.AvgFillPrice().InexactFloat64()),
		SourceSeq: ptr(o.Seq), ReceivedAt: ptr(o.CreatedAt), CreateunixUTCTimeMs: ms(o.CreatedAt), UnixUTCTimeMs: ms(o.UpdatedAt),
	}
	set := func(dst **string, s string) {
		if s != "" {
			*dst = ptr(s)
		}
	}
	set(&v.ISIN, o.ISIN)
	set(&v.MarketID, o.MarketID)
	set(&v.Board, o.Board)
	set(&v.OrigClOrdID, o.OrigClOrdID)
	set(&v.OrderText, o.Text)
	set(&v.AlgoID, o.AlgoID)
	set(&v.PositionID, o.PositionID)
	set(&v.PersisState, o.PersisState)
	set(&v.QuoteID, o.QuoteID)
	set(&v.QuoteRespID, o.QuoteRespID)
	set(&v.PartyID, o.PartyID)
	set(&v.PartyTraderID, o.PartyTraderID)
	if o.MarketID != "" {
		set(&v.Exchange, market.MarketID(o.MarketID).Name())
	}
	if side := map[string]string{"B": "1", "S": "2"}[o.Side]; side != "" {
		v.FixOrderSide = ptr(side)
	}
	if t, ok := fixOrdType[o.Type]; ok {
		v.FixOrdType, v.TimeInForce = ptr(t[0]), ptr(t[1])
	}
	return v
}
