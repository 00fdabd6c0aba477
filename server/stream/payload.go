package stream

import (
	"encoding/json"
	"strconv"

	"github.com/vero-oms/omsd/store"
)

// The payloads of the order and account channels, field for field as the
// docs' Streaming API page names them (../shared/reference/streaming-api.md).
// They carry the same values as the REST Order record and the risk
// account view; docs/streaming.md says what the fields the page leaves
// open mean here.

// ExecutionReport is an OrderExecutionReport: an order's state after a change.
type ExecutionReport struct {
	User                  string  `json:"user"`
	OrderID               string  `json:"orderID"`
	OriginalReqID         string  `json:"originalReqID"`
	InternalOrderID       string  `json:"internalOrderID"`
	RefOrderID            string  `json:"refOrderID"`
	OrigClOrdID           string  `json:"origClOrdID"`
	ExternalOrderID       string  `json:"externalOrderID"`
	ExternalSecondOrderID string  `json:"externalSecondOrderID"`
	AccountID             string  `json:"accountID"`
	Symbol                string  `json:"symbol"`
	MarketID              string  `json:"marketID,omitempty"`
	OrderSide             string  `json:"orderSide"`
	OrderStatus           string  `json:"orderStatus"`
	OrderType             string  `json:"orderType"`
	OriginalPrice         float64 `json:"originalPrice"`
	OriginalQty           int64   `json:"originalQty"`
	OrderCurrentPrice     float64 `json:"orderCurrentPrice"`
	OrderCurrentQty       int64   `json:"orderCurrentQty"`
	FilledQty             int64   `json:"filledQty"`
	AvgFillPrice          float64 `json:"avgFillPrice"`
	CancelledQty          int64   `json:"cancelledQty"`
	OrderText             string  `json:"orderText"`
	UnixUTCTimeMs         int64   `json:"unixUTCTimeMs"`
	CreateUnixUTCTimeMs   int64   `json:"createunixUTCTimeMs"`
	PersisState           string  `json:"persisState"`
	AlgoID                string  `json:"algoID"`
	PositionID            string  `json:"positionID"`
	ParentOrderID         string  `json:"parentOrderId"`
}

// CashReport is an AccountCashReport.
type CashReport struct {
	Type          string  `json:"type"` // "account"
	AccountID     string  `json:"account_id"`
	CashAvailable float64 `json:"cash_available"`
	CashHold      float64 `json:"cash_hold"`
	BypassCash    bool    `json:"bypass_cash"`
	BypassStock   bool    `json:"bypass_stock"`
	TsNs          int64   `json:"ts_ns"`
	// CashPending is omsd's extension (as on the REST AccountView): sale
	// proceeds waiting for settlement (T+2).
	CashPending float64 `json:"omsd_cash_pending"`
}

// HoldingReport is an AccountHoldingReport.
type HoldingReport struct {
	Type        string  `json:"type"` // "holding"
	AccountID   string  `json:"account_id"`
	Symbol      string  `json:"symbol"`
	SellableQty int64   `json:"sellable_qty"`
	HoldQty     int64   `json:"hold_qty"`
	AvgPrice    float64 `json:"avg_price"`
	TsNs        int64   `json:"ts_ns"`
	// PendingQty is omsd's extension (as on the REST HoldingView): shares
	// bought and waiting for settlement (T+2).
	PendingQty int64 `json:"omsd_pending_qty"`
}

// Channel names.
const (
	orderChannelPrefix   = "order:OrderExecutionReport:"
	accountChannelPrefix = "order:Account:"
)

// OrderChannel and AccountChannel name an account's channels.
func OrderChannel(account string) string   { return orderChannelPrefix + account }
func AccountChannel(account string) string { return accountChannelPrefix + account }

func executionReport(o store.Order) ExecutionReport {
	id := strconv.FormatInt(o.ID, 10)
	return ExecutionReport{
		User: o.User, OrderID: id, OriginalReqID: o.OriginalReqID, InternalOrderID: id,
		RefOrderID: o.ClOrdID, OrigClOrdID: o.OrigClOrdID,
		AccountID: o.AccountCode, Symbol: o.Symbol, MarketID: o.MarketID,
		OrderSide: o.Side, OrderStatus: string(o.Status), OrderType: o.Type,
		OriginalPrice: o.OriginalPrice.InexactFloat64(), OriginalQty: o.OriginalQty,
		OrderCurrentPrice: o.Price.InexactFloat64(), OrderCurrentQty: o.Qty,
		FilledQty: o.FilledQty, AvgFillPrice: o.AvgFillPrice().InexactFloat64(), CancelledQty: o.CancelledQty,
		OrderText: o.Text, UnixUTCTimeMs: o.UpdatedAt.UnixMilli(), CreateUnixUTCTimeMs: o.CreatedAt.UnixMilli(),
		PersisState: o.PersisState, AlgoID: o.AlgoID, PositionID: o.PositionID,
	}
}

// publication returns an outbox entry's channel and payload.
func publication(e store.OutboxEntry) (channel string, data []byte, err error) {
	var v any
	switch e.Kind {
	case store.OutboxOrder:
		channel, v = OrderChannel(e.AccountCode), executionReport(e.Order)
	case store.OutboxCash:
		channel, v = AccountChannel(e.AccountCode), CashReport{Type: "account", AccountID: e.AccountCode,
			CashAvailable: e.Cash.Available.InexactFloat64(), CashHold: e.Cash.Hold.InexactFloat64(), CashPending: e.Cash.Pending.InexactFloat64(),
			BypassCash: e.Cash.BypassCash, BypassStock: e.Cash.BypassStock, TsNs: e.At.UnixNano()}
	default:
		h := e.Holding
		channel, v = AccountChannel(e.AccountCode), HoldingReport{Type: "holding", AccountID: e.AccountCode,
			Symbol: h.Symbol, SellableQty: h.SellableQty, HoldQty: h.HoldQty, AvgPrice: h.AvgPrice.InexactFloat64(), PendingQty: h.PendingQty(), TsNs: e.At.UnixNano()}
	}
	data, err = json.Marshal(v)
	return channel, data, err
}
