package fixacceptor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/fix"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/server/trading"
	"github.com/vero-oms/omsd/store"
)

// The application layer: NewOrderSingle, OrderCancelRequest and
// OrderCancelReplaceRequest call the trading service as the REST order
// routes do, acting as the session's identity. A request the service
// takes is answered by the reports its changes queue (see Queue); one it
// refuses before anything is stored is answered here, at once: an
// ExecutionReport rejected (a new order) or an OrderCancelReject.

// isApplication reports whether the acceptor takes msgType (the others
// are refused by the session: unsupported message type).
func isApplication(msgType string) bool {
	return msgType == msgNewOrderSingle || msgType == msgCancelRequest || msgType == msgReplaceRequest
}

// application handles one in-sequence application message, on the
// session's order worker (see conn.orders): one at a time, in order.
func (c *conn) application(m fix.Message) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	switch m.MsgType() {
	case msgNewOrderSingle:
		c.newOrder(ctx, m)
	case msgCancelRequest:
		c.cancelOrder(ctx, m)
	case msgReplaceRequest:
		c.replaceOrder(ctx, m)
	}
}

// unsupported refuses an application message the acceptor does not take.
func (c *conn) unsupported(m fix.Message) {
	c.step(c.sess.Refuse(m, &fix.RejectError{Reason: fix.InvalidMsgType, RefTag: fix.TagMsgType,
		Text: fmt.Sprintf("OMS|-132300|unsupported message type %q", m.MsgType())}))
}

// latencyBody is a message as its latency record shows it
// (message_body_json): an object of its fields by tag, header aside.
func latencyBody(m fix.Message) []byte {
	fields := make(map[string]string, len(m))
	for _, f := range m {
		switch f.Tag {
		case fix.TagMsgSeqNum, fix.TagSenderCompID, fix.TagTargetCompID, fix.TagSendingTime:
		default:
			fields[strconv.Itoa(f.Tag)] = f.Value
		}
	}
	b, _ := json.Marshal(fields) // strings only: cannot fail
	return b
}

// rejectText is {source}|{code}|{message} (reject-codes.mdx).
func rejectText(code int, format string, args ...any) string {
	return "OMS|" + strconv.Itoa(code) + "|" + fmt.Sprintf(format, args...)
}

// errorText maps a trading error to a reject text: the service's own
// {source}|{code}|{message} when it has one.
func errorText(err error) string {
	var e *apperr.Error
	if !errors.As(err, &e) {
		return rejectText(-900000, "the order service is unavailable; check the order's state before sending again")
	}
	if strings.Count(e.Message, "|") >= 2 {
		return e.Message
	}
	switch e.Code {
	case apperr.Forbidden:
		return rejectText(-100007, "the session may not trade this account")
	case apperr.InvalidRequest:
		return rejectText(-100005, "%s", e.Message)
	}
	return rejectText(-913001, "%s", e.Message)
}

// codeOf is the code of a reject text.
func codeOf(text string) int {
	parts := strings.SplitN(text, "|", 3)
	if len(parts) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(parts[1])
	return n
}

// newOrder handles a NewOrderSingle (D).
func (c *conn) newOrder(ctx context.Context, m fix.Message) {
	in, text := decodeNewOrder(m)
	if text != "" {
		c.rejectNew(m, text)
		return
	}
	in.Body = latencyBody(m)
	ack, err := c.a.o.Trading.Submit(ctx, c.cfg.Identity, in)
	switch possDup, _ := m.Get(fix.TagPossDupFlag); {
	case err != nil:
		c.rejectNew(m, errorText(err))
	case ack.Repeated && possDup != "Y":
		// The same ClOrdID and terms again, not marked as a resend: a
		// duplicate (other terms are stored rejected, -100001, and
		// reported as such).
		c.rejectNew(m, rejectText(trading.CodeDuplicateClOrdID, "duplicate ClOrdID %s", in.RefOrderID))
	}
	// A resend of an order taken: its reports are queued already.
}

// decodeNewOrder reads a NewOrderSingle's fields (order-entry.mdx), or
// says why it is refused.
func decodeNewOrder(m fix.Message) (trading.NewOrder, string) {
	get := func(tag int) string { v, _ := m.Get(tag); return v }
	for _, tag := range []int{tagAccount, tagClOrdID, tagSymbol, tagOrdType, tagSide, tagOrderQty} {
		if get(tag) == "" {
			return trading.NewOrder{}, rejectText(-100000, "required tag %d missing", tag)
		}
	}
	typ, ok := omsType(get(tagOrdType), get(tagTimeInForce))
	if get(tagOrdType) == ordTypeConditional && get(tagTimeInForce) == "0" {
		typ, ok = "LO", true // a limit order once its condition is met
	}
	if !ok {
		return trading.NewOrder{}, rejectText(-100003, "OrdType %q with TimeInForce %q is not a supported combination", get(tagOrdType), get(tagTimeInForce))
	}
	side, ok := map[string]string{"1": "B", "2": "S"}[get(tagSide)]
	if !ok {
		return trading.NewOrder{}, rejectText(-100005, "Side must be 1 (buy) or 2 (sell)")
	}
	qty, ok := parseQty(get(tagOrderQty))
	if !ok {
		return trading.NewOrder{}, rejectText(-420045, "OrderQty %q is not a whole positive quantity", get(tagOrderQty))
	}
	in := trading.NewOrder{Account: get(tagAccount), Symbol: get(tagSymbol), Side: side, Type: typ, Qty: qty, RefOrderID: get(tagClOrdID),
		Channel: pretrade.ChannelFIX}
	if typ == "LO" {
		px := get(tagPrice)
		if px == "" {
			return trading.NewOrder{}, rejectText(-100025, "Price (44) is required for a limit order")
		}
		in.Price = &px
	}
	if get(tagOrdType) == ordTypeConditional {
		return decodeStop(m, in)
	}
	return in, ""
}

// decodeStop reads a conditional order's StopPx (99) and, for a trailing
// stop, DiscretionOffset (389); their rules are the trading service's.
func decodeStop(m fix.Message, in trading.NewOrder) (trading.NewOrder, string) {
	px, ok := m.Get(tagStopPx)
	if !ok || px == "" {
		return trading.NewOrder{}, rejectText(trading.CodeStopPx, "StopPx (99) is required for a conditional order (OrdType 4)")
	}
	in.StopPx = &px
	if off, ok := m.Get(tagDiscretionOffset); ok {
		in.StopOffset = &off
	}
	return in, ""
}

// parseQty reads a Qty: a whole number, "10" or "10.0".
func parseQty(s string) (int64, bool) {
	d, err := decimal.NewFromString(s)
	if err != nil || !d.IsInteger() || !d.IsPositive() || !d.LessThan(decimal.NewFromInt(1<<53)) {
		return 0, false
	}
	return d.IntPart(), true
}

// rejectNew answers a NewOrderSingle refused before it was stored.
func (c *conn) rejectNew(m fix.Message, text string) {
	get := func(tag int) string { v, _ := m.Get(tag); return v }
	seq, _ := m.Get(fix.TagMsgSeqNum)
	body := []fix.Field{{Tag: fix.TagMsgType, Value: msgExecutionReport}, {Tag: tagOrderID, Value: "NONE"},
		{Tag: tagClOrdID, Value: or(get(tagClOrdID), "NONE")}, {Tag: tagExecID, Value: "R-" + c.day + "-" + seq},
		{Tag: tagExecTransType, Value: "0"}, {Tag: tagExecType, Value: execRejected}, {Tag: tagOrdStatus, Value: execRejected}}
	if v := get(tagAccount); v != "" {
		body = append(body, fix.Field{Tag: tagAccount, Value: v})
	}
	body = append(body, fix.Field{Tag: tagSymbol, Value: or(get(tagSymbol), "NONE")}, fix.Field{Tag: tagSide, Value: or(get(tagSide), "1")})
	if _, ok := parseQty(get(tagOrderQty)); ok {
		body = append(body, fix.Field{Tag: tagOrderQty, Value: get(tagOrderQty)})
	}
	body = append(body, fix.Field{Tag: tagLeavesQty, Value: "0"}, fix.Field{Tag: tagCumQty, Value: "0"}, fix.Field{Tag: tagAvgPx, Value: "0"},
		fix.Field{Tag: tagTransactTime, Value: c.a.o.Now().UTC().Format(fix.TimeFormat)}, fix.Field{Tag: fix.TagText, Value: text})
	c.reply(body)
}

// target finds the order a cancel or replace names by OrigClOrdID (41):
// its entry ClOrdID, or the ClOrdID of the last request on it.
func (c *conn) target(ctx context.Context, orig string) (store.Order, bool) {
	if o, err := c.a.o.Trading.OrderByReqID(ctx, c.cfg.Identity, orig); err == nil && o.ID != 0 {
		return o, true
	}
	os, err := c.a.o.Trading.Orders(ctx, c.cfg.Identity, trading.OrdersQuery{OrderFilter: store.OrderFilter{Limit: store.MaxOrderLimit}})
	if err != nil {
		return store.Order{}, false
	}
	for _, o := range os {
		if o.ClOrdID == orig {
			return o, true
		}
	}
	return store.Order{}, false
}

// changeRequest is the part of a cancel or replace both check.
type changeRequest struct {
	clOrdID, orig, responseTo string
	order                     store.Order
}

// openChange checks a cancel's or replace's identifiers and immutable
// fields; false when it was answered with an OrderCancelReject.
func (c *conn) openChange(ctx context.Context, m fix.Message, responseTo string) (changeRequest, bool) {
	get := func(tag int) string { v, _ := m.Get(tag); return v }
	r := changeRequest{clOrdID: get(tagClOrdID), orig: get(tagOrigClOrdID), responseTo: responseTo}
	if r.clOrdID == "" || r.orig == "" {
		c.cancelReject(r, rejectText(-100009, "ClOrdID (11) and OrigClOrdID (41) are required"))
		return r, false
	}
	if v, _ := m.Get(fix.TagPossDupFlag); v == "Y" {
		if o, ok := c.target(ctx, r.clOrdID); ok && o.ClOrdID == r.clOrdID {
			return r, false // a resend of a request taken: its reports are queued
		}
	}
	o, ok := c.target(ctx, r.orig)
	if !ok {
		c.cancelReject(r, rejectText(trading.CodeUnknownOrder, "no order %s of this session's identity", r.orig))
		return r, false
	}
	r.order = o
	if get(tagSymbol) != o.Symbol || fixSide(o.Side) != get(tagSide) {
		c.cancelReject(r, rejectText(trading.CodeImmutable, "Symbol (55) and Side (54) must be the order's (%s, %s)", o.Symbol, fixSide(o.Side)))
		return r, false
	}
	return r, true
}

// cancelOrder handles an OrderCancelRequest (F).
func (c *conn) cancelOrder(ctx context.Context, m fix.Message) {
	r, ok := c.openChange(ctx, m, "1")
	if !ok {
		return
	}
	_, err := c.a.o.Trading.Cancel(ctx, c.cfg.Identity, trading.CancelRequest{OrderID: r.order.OriginalReqID, RequestID: r.clOrdID, Body: latencyBody(m)})
	if err != nil {
		c.cancelReject(c.current(ctx, r), errorText(err))
	}
}

// replaceOrder handles an OrderCancelReplaceRequest (G).
func (c *conn) replaceOrder(ctx context.Context, m fix.Message) {
	r, ok := c.openChange(ctx, m, "2")
	if !ok {
		return
	}
	get := func(tag int) string { v, _ := m.Get(tag); return v }
	qty, qok := parseQty(get(tagOrderQty))
	px := get(tagPrice)
	if !qok || px == "" {
		c.cancelReject(r, rejectText(trading.CodeReplaceMissing, "OrderQty (38) and Price (44) are required"))
		return
	}
	tif := get(tagTimeInForce)
	if tif == "" {
		_, tif = orderType(r.order)
	}
	if typ, wantTIF := orderType(r.order); get(tagOrdType) != typ || tif != wantTIF {
		c.cancelReject(r, rejectText(trading.CodeImmutable, "OrdType (40) and TimeInForce (59) cannot change the order's type %s", r.order.Type))
		return
	}
	in := trading.ReplaceRequest{OrderID: r.order.OriginalReqID, RequestID: r.clOrdID, Price: px, Qty: qty, Body: latencyBody(m)}
	if v, ok := m.Get(tagStopPx); ok {
		in.StopPx = &v
	}
	if v, ok := m.Get(tagDiscretionOffset); ok {
		in.StopOffset = &v
	}
	_, err := c.a.o.Trading.Replace(ctx, c.cfg.Identity, in)
	if err != nil {
		c.cancelReject(c.current(ctx, r), errorText(err))
	}
}

// current re-reads the target so a reject carries its status now.
func (c *conn) current(ctx context.Context, r changeRequest) changeRequest {
	if o, ok := c.target(ctx, r.order.OriginalReqID); ok {
		r.order = o
	}
	return r
}

// cancelReject sends an OrderCancelReject (9) for request r.
func (c *conn) cancelReject(r changeRequest, text string) {
	o := r.order
	orderID, status := "NONE", execRejected
	if o.ID != 0 {
		orderID, status = strconv.FormatInt(o.ID, 10), ordStatus(o.Status)
	}
	body := []fix.Field{{Tag: fix.TagMsgType, Value: msgOrderCancelReject}, {Tag: tagOrderID, Value: orderID},
		{Tag: tagClOrdID, Value: or(r.clOrdID, "NONE")}, {Tag: tagOrigClOrdID, Value: or(r.orig, "NONE")}, {Tag: tagOrdStatus, Value: status}}
	if o.AccountCode != "" {
		body = append(body, fix.Field{Tag: tagAccount, Value: o.AccountCode})
	}
	body = append(body, fix.Field{Tag: tagCxlRejResponseTo, Value: r.responseTo})
	if reason := cxlRejReason(codeOf(text)); reason != "" {
		body = append(body, fix.Field{Tag: tagCxlRejReason, Value: reason})
	}
	c.reply(append(body, fix.Field{Tag: fix.TagText, Value: text}))
}

// cxlRejReason is CxlRejReason (102) for a reject code: 0 too late, 1
// unknown order, 3 a cancel or replace is pending, else none.
func cxlRejReason(code int) string {
	switch code {
	case trading.CodeUnknownOrder:
		return "1"
	case trading.CodeCancelPending, trading.CodeReplacePending:
		return "3"
	case trading.CodeCompleted, trading.CodeQtyNotAboveFilled:
		return "0"
	}
	return ""
}
