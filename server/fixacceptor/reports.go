package fixacceptor

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/fix"
	"github.com/vero-oms/omsd/store"
)

// Application tags (execution-reports.mdx, order-entry.mdx).
const (
	tagAccount          = 1
	tagAvgPx            = 6
	tagClOrdID          = 11
	tagCumQty           = 14
	tagExecID           = 17
	tagExecTransType    = 20
	tagLastPx           = 31
	tagLastShares       = 32
	tagOrderID          = 37
	tagOrderQty         = 38
	tagOrdStatus        = 39
	tagOrdType          = 40
	tagOrigClOrdID      = 41
	tagPrice            = 44
	tagSide             = 54
	tagSymbol           = 55
	tagTimeInForce      = 59
	tagTransactTime     = 60
	tagStopPx           = 99
	tagCxlRejReason     = 102
	tagExecType         = 150
	tagLeavesQty        = 151
	tagDiscretionOffset = 389
	tagCxlRejResponseTo = 434
)

// Application message types.
const (
	msgExecutionReport   = "8"
	msgOrderCancelReject = "9"
	msgNewOrderSingle    = "D"
	msgCancelRequest     = "F"
	msgReplaceRequest    = "G"
)

// ExecType and OrdStatus values (FIX 4.2).
const (
	execNew            = "0"
	execPartialFill    = "1"
	execFill           = "2"
	execCanceled       = "4"
	execReplaced       = "5"
	execPendingCancel  = "6"
	execRejected       = "8"
	execPendingNew     = "A"
	execExpired        = "C"
	execPendingReplace = "E"
)

// ordStatus is an order status as OrdStatus (39).
func ordStatus(s store.OrderStatus) string {
	switch s {
	case store.OrderPendingNew:
		return execPendingNew
	case store.OrderNew:
		return execNew
	case store.OrderPartiallyFill:
		return execPartialFill
	case store.OrderFilled:
		return execFill
	case store.OrderPendingCancel:
		return execPendingCancel
	case store.OrderCanceled:
		return execCanceled
	case store.OrderPendingReplace:
		return execPendingReplace
	case store.OrderExpired:
		return execExpired
	}
	return execRejected
}

// reportsOf turns one outbox order entry into what a FIX session is sent:
// usually one ExecutionReport; a fill and the end of the order in one
// commit (an IOC remainder) are two; a change nobody sees (a hold
// resized) none; a cancel or replace the venue refused after acceptance
// an OrderCancelReject (order-management.mdx, response flows).
func reportsOf(e store.OutboxEntry) [][]fix.Field {
	o, p := e.Order, e.Prior
	if p == nil {
		p = &store.OrderPrior{Status: store.OrderPendingNew, Qty: o.Qty, Price: o.Price}
		if o.Status == store.OrderPendingNew {
			return [][]fix.Field{execReport(o, e.ID, 0, execPendingNew, nil)}
		}
	}
	var out [][]fix.Field
	t := transition(o, p)
	if p.Status == store.OrderPendingNew && o.Status != store.OrderPendingNew && o.Status != store.OrderRejected && !neverActive(o, p) {
		// Accepted, perhaps filled or ended in the same step: New first,
		// as the order stood before (the docs' MTL sequences), then the
		// rest.
		before := o
		before.Status, before.FilledQty, before.FilledValue, before.CancelledQty = store.OrderNew, p.FilledQty, p.FilledValue, 0
		out = append(out, execReport(before, e.ID, 0, execNew, nil))
		if t == execNew {
			t = ""
		}
	}
	if n := o.FilledQty - p.FilledQty; n > 0 {
		px := o.FilledValue.Sub(p.FilledValue).Div(decimal.NewFromInt(n))
		fill := execPartialFill
		if o.Status == store.OrderFilled {
			fill = execFill
		}
		status := fill
		if !o.Status.Done() {
			status = ordStatus(o.Status)
		}
		out = append(out, execReport(o, e.ID, len(out), fill, &lastFill{qty: n, px: px, status: status}))
	}
	if t != "" {
		out = append(out, execReport(o, e.ID, len(out), t, nil))
	} else if rr := refusedAfterAcceptance(o, p); rr != "" {
		out = append(out, cancelReject(o, rr, o.Text))
	}
	return out
}

// neverActive reports whether o ends without ever having been active: a
// conditional order cancelled or expired while it waited for its stop.
func neverActive(o store.Order, p *store.OrderPrior) bool {
	return o.Stop.Conditional() && !o.Stop.Triggered && o.FilledQty == p.FilledQty
}

// transition is the ExecType of a change other than a fill ("" when the
// change is not reported as one).
func transition(o store.Order, p *store.OrderPrior) string {
	if o.Status == store.OrderPendingNew && p.Status == store.OrderPendingNew {
		// An order not yet active amended (a modify, a trailing stop's
		// move): Replaced with its new terms, still pending (order-entry.mdx).
		if !o.Price.Equal(p.Price) || o.Qty != p.Qty || !o.Stop.Px.Equal(p.StopPx) {
			return execReplaced
		}
		return ""
	}
	if o.Status == p.Status && o.Status != store.OrderNew && o.Status != store.OrderPartiallyFill {
		return ""
	}
	switch o.Status {
	case store.OrderPendingNew:
		return ""
	case store.OrderRejected:
		return execRejected
	case store.OrderCanceled:
		return execCanceled
	case store.OrderExpired:
		return execExpired
	case store.OrderPendingCancel:
		return execPendingCancel
	case store.OrderPendingReplace:
		return execPendingReplace
	case store.OrderFilled:
		return ""
	}
	// Working now (NEW or PARTIALLY_FILLED).
	switch {
	case p.Status == store.OrderPendingNew:
		return execNew
	case p.Status == store.OrderPendingReplace && o.Text == p.Text,
		p.Status != store.OrderPendingCancel && (!o.Price.Equal(p.Price) || o.Qty != p.Qty):
		// The replace took effect, or the terms changed without one (an
		// MTL's remainder resting as a limit order).
		return execReplaced
	}
	return ""
}

// refusedAfterAcceptance names the request ("1" cancel, "2" replace) the
// venue refused after it was accepted, when o reports that.
func refusedAfterAcceptance(o store.Order, p *store.OrderPrior) string {
	if o.Status.Done() || o.Text == p.Text {
		return ""
	}
	switch p.Status {
	case store.OrderPendingCancel:
		return "1"
	case store.OrderPendingReplace:
		return "2"
	}
	return ""
}

type lastFill struct {
	qty    int64
	px     decimal.Decimal
	status string
}

// execReport is an ExecutionReport's body for order o as the outbox entry
// id reports it (n numbers the reports of one entry: ExecIDs are unique).
func execReport(o store.Order, id int64, n int, execType string, fill *lastFill) []fix.Field {
	status := ordStatus(o.Status)
	if fill != nil {
		status = fill.status
	}
	leaves := o.LeavesQty()
	if fill != nil && status == execPartialFill {
		leaves = max(o.Qty-o.FilledQty, 0)
	}
	f := []fix.Field{{Tag: fix.TagMsgType, Value: msgExecutionReport},
		{Tag: tagOrderID, Value: strconv.FormatInt(o.ID, 10)}, {Tag: tagClOrdID, Value: o.ClOrdID}}
	if o.OrigClOrdID != "" {
		f = append(f, fix.Field{Tag: tagOrigClOrdID, Value: o.OrigClOrdID})
	}
	f = append(f, fix.Field{Tag: tagExecID, Value: strconv.FormatInt(id, 10) + "-" + strconv.Itoa(n)},
		fix.Field{Tag: tagExecTransType, Value: "0"}, fix.Field{Tag: tagExecType, Value: execType},
		fix.Field{Tag: tagOrdStatus, Value: status}, fix.Field{Tag: tagAccount, Value: o.AccountCode},
		fix.Field{Tag: tagSymbol, Value: o.Symbol}, fix.Field{Tag: tagSide, Value: fixSide(o.Side)},
		fix.Field{Tag: tagOrderQty, Value: strconv.FormatInt(o.Qty, 10)})
	if typ, tif := orderType(o); typ != "" {
		f = append(f, fix.Field{Tag: tagOrdType, Value: typ}, fix.Field{Tag: tagTimeInForce, Value: tif})
	}
	if o.Price.IsPositive() {
		f = append(f, fix.Field{Tag: tagPrice, Value: o.Price.String()})
	}
	if o.Stop.Conditional() {
		f = append(f, fix.Field{Tag: tagStopPx, Value: o.Stop.Px.String()})
		if o.Stop.Trailing {
			f = append(f, fix.Field{Tag: tagDiscretionOffset, Value: o.Stop.Offset.String()})
		}
	}
	if fill != nil {
		f = append(f, fix.Field{Tag: tagLastShares, Value: strconv.FormatInt(fill.qty, 10)}, fix.Field{Tag: tagLastPx, Value: fill.px.String()})
	}
	f = append(f, fix.Field{Tag: tagLeavesQty, Value: strconv.FormatInt(leaves, 10)},
		fix.Field{Tag: tagCumQty, Value: strconv.FormatInt(o.FilledQty, 10)},
		fix.Field{Tag: tagAvgPx, Value: o.AvgFillPrice().String()},
		fix.Field{Tag: tagTransactTime, Value: o.UpdatedAt.UTC().Format(fix.TimeFormat)})
	if o.Text != "" && (execType == execRejected || execType == execCanceled || execType == execExpired) {
		f = append(f, fix.Field{Tag: fix.TagText, Value: o.Text})
	}
	return f
}

// cancelReject is an OrderCancelReject's body about order o (responseTo
// "1" a cancel, "2" a replace).
func cancelReject(o store.Order, responseTo, text string) []fix.Field {
	return []fix.Field{{Tag: fix.TagMsgType, Value: msgOrderCancelReject},
		{Tag: tagOrderID, Value: strconv.FormatInt(o.ID, 10)}, {Tag: tagClOrdID, Value: o.ClOrdID},
		{Tag: tagOrigClOrdID, Value: or(o.OrigClOrdID, o.OriginalReqID)}, {Tag: tagOrdStatus, Value: ordStatus(o.Status)},
		{Tag: tagAccount, Value: o.AccountCode}, {Tag: tagCxlRejResponseTo, Value: responseTo}, {Tag: fix.TagText, Value: text}}
}

func or(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func fixSide(s string) string {
	if s == "S" {
		return "2"
	}
	return "1"
}

// The OrdType × TimeInForce mapping of order-entry.mdx, both ways.
var fixTypes = map[string][2]string{
	"MAK": {"1", "3"}, "MOK": {"1", "4"}, "MTL": {"1", "0"}, "ATO": {"1", "2"},
	"LO": {"2", "0"}, "ATC": {"5", "0"},
}

// ordTypeConditional is OrdType 4, a stop-limit or trailing stop order:
// a day order whose limit goes to the market once its stop is reached.
const ordTypeConditional = "4"

// orderType is an order's OrdType and TimeInForce ("" when it has none
// on FIX: PLO, BUYIN).
func orderType(o store.Order) (ordType, tif string) {
	if o.Stop.Conditional() {
		return ordTypeConditional, "0"
	}
	ordType, tif, _ = fixType(o.Type)
	return ordType, tif
}

func fixType(omsType string) (ordType, tif string, ok bool) {
	t, ok := fixTypes[omsType]
	return t[0], t[1], ok
}

func omsType(ordType, tif string) (string, bool) {
	for k, v := range fixTypes {
		if v[0] == ordType && v[1] == tif {
			return k, true
		}
	}
	return "", false
}

// encodeBody and decodeBody keep a report's fields in the store queue as
// tag=value<SOH>… (the wire's own form, without header and trailer).
func encodeBody(fs []fix.Field) []byte {
	var b bytes.Buffer
	for _, f := range fs {
		b.WriteString(strconv.Itoa(f.Tag))
		b.WriteByte('=')
		b.WriteString(f.Value)
		b.WriteByte(fix.SOH)
	}
	return b.Bytes()
}

func decodeBody(b []byte) []fix.Field {
	// One string for the whole body: every value is a slice of it.
	rest := strings.TrimSuffix(string(b), "\x01")
	fs := make([]fix.Field, 0, strings.Count(rest, "\x01")+1)
	for rest != "" {
		part, after, _ := strings.Cut(rest, "\x01")
		k, v, _ := strings.Cut(part, "=")
		tag, _ := strconv.Atoi(k)
		fs = append(fs, fix.Field{Tag: tag, Value: v})
		rest = after
	}
	return fs
}
