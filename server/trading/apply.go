package trading

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// apply writes one venue report to the store in one atomic step: every
// order it touched, and the accounts of both sides of every execution. A
// report is applied once: executions an order already took are skipped,
// so a retried report books nothing twice. It is never refused for a
// business reason (the venue has traded): only a store failure fails it,
// and the backlog retries it.
func (s *Service) apply(ctx context.Context, rep venue.Report) error {
	return s.applyReport(ctx, rep, "")
}

// applyReport is apply where requeue names the order (venue id) whose
// replace in rep loses its time priority ("" for none).
func (s *Service) applyReport(ctx context.Context, rep venue.Report, requeue string) error {
	if len(rep.Events) == 0 {
		return nil
	}
	var w *reportWriter
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		var pf store.Prefetch
		for _, ev := range rep.Events {
			if id, err := strconv.ParseInt(ev.Order.ID, 10, 64); err == nil {
				pf.Orders = append(pf.Orders, id)
			}
			if ev.Kind != venue.EventAccepted && ev.Kind != venue.EventReplaced {
				pf.Accounts = append(pf.Accounts, ev.Order.Account)
			}
		}
		if err := tx.Prefetch(pf); err != nil {
			return err
		}
		w = &reportWriter{tx: tx, orders: map[int64]*store.Order{}, accounts: map[string]*store.Account{}, now: s.now(),
			priority: s.nextPriority, requeue: requeue, settlementDate: s.settlementDate, master: s.master,
			today: s.clock.TradingDate(), days: map[string]*store.MarketDay{}, dues: map[string]string{}}
		for _, ev := range rep.Events {
			if err := w.event(ev); err != nil {
				return err
			}
		}
		return w.flush()
	})
	if err == nil {
		for isin, path := range w.path {
			s.noteTrades(isin, path)
		}
	}
	return err
}

type reportWriter struct {
	tx       store.BackOfficeTx
	orders   map[int64]*store.Order
	order    []int64 // write order
	accounts map[string]*store.Account
	acctKeys []string
	now      time.Time
	priority func() int64 // the next time priority
	requeue  string       // the order whose replace loses priority
	// settlementDate is when a fill of an ISIN made now settles.
	settlementDate func(isin string) (string, error)
	master         *market.Master
	today          string                       // the trading date
	days           map[string]*store.MarketDay  // by ISIN: the day's trading, as the fills add to it
	dues           map[string]string            // by ISIN: the settlement date of the report's fills
	path           map[string][]decimal.Decimal // by ISIN: the report's trade prices in order
}

// due is the settlement date of a fill of isin in this report (computed
// once: both sides of every execution ask).
func (w *reportWriter) due(isin string) (string, error) {
	if d, ok := w.dues[isin]; ok {
		return d, nil
	}
	d, err := w.settlementDate(isin)
	if err == nil {
		w.dues[isin] = d
	}
	return d, err
}

func (w *reportWriter) getOrder(id string) (*store.Order, error) {
	n, err := strconv.ParseInt(id, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("trading: venue order id %q: %w", id, err)
	}
	if o, ok := w.orders[n]; ok {
		return o, nil
	}
	o, ok, err := w.tx.Order(n)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, nil
	}
	w.orders[n] = &o
	w.order = append(w.order, n)
	return &o, nil
}

func (w *reportWriter) getAccount(code string) (*store.Account, error) {
	if a, ok := w.accounts[code]; ok {
		return a, nil
	}
	a, ok, err := w.tx.Account(code)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("trading: account %s of a working order is gone", code)
	}
	w.accounts[code] = &a
	w.acctKeys = append(w.acctKeys, code)
	return &a, nil
}

func (w *reportWriter) flush() error {
	for isin, d := range w.days {
		if err := w.tx.PutMarketDay(isin, *d); err != nil {
			return err
		}
	}
	for _, code := range w.acctKeys {
		if err := w.tx.PutAccount(*w.accounts[code]); err != nil {
			return err
		}
	}
	for _, id := range w.order {
		if err := w.tx.PutOrder(*w.orders[id]); err != nil {
			return err
		}
	}
	return nil
}

// traded adds one execution to its instrument's market day (rolled to
// today first if the day's roll has not run yet).
func (w *reportWriter) traded(inst market.Instrument, px decimal.Decimal, qty int64) error {
	if inst.ISIN == "" {
		return nil // not in the master
	}
	d, ok := w.days[inst.ISIN]
	if !ok {
		cur, found, err := w.tx.MarketDay(inst.ISIN)
		if err != nil {
			return err
		}
		if !found || cur.Date < w.today {
			cur = rollDay(cur, found, inst, w.today)
		}
		d = &cur
		w.days[inst.ISIN] = d
	}
	d.Last, d.Volume = px, d.Volume+qty
	if w.path == nil {
		w.path = map[string][]decimal.Decimal{}
	}
	w.path[inst.ISIN] = append(w.path[inst.ISIN], px)
	d.Value = d.Value.Add(px.Mul(decimal.NewFromInt(qty)))
	return nil
}

// release gives back what the order still holds.
func (w *reportWriter) release(o *store.Order) error {
	if o.Hold.Cash.IsZero() && o.Hold.Stock == 0 {
		return nil
	}
	a, err := w.getAccount(o.AccountCode)
	if err != nil {
		return err
	}
	na, err := pretrade.Release(*a, holdOf(*o))
	if err != nil {
		return err
	}
	*a = na
	o.Hold.Cash, o.Hold.Stock = o.Hold.Cash.Sub(o.Hold.Cash), 0
	return nil
}

// workingStatus is NEW or PARTIALLY_FILLED by what has filled.
func workingStatus(o *store.Order) store.OrderStatus {
	if o.FilledQty > 0 {
		return store.OrderPartiallyFill
	}
	return store.OrderNew
}

func reasonText(r venue.Reason) string {
	switch r {
	case venue.ReasonUser:
		return "cancelled on request"
	case venue.ReasonIOCRemainder:
		return "MAK: the unfilled rest is cancelled"
	case venue.ReasonFOKNotFillable:
		return "MOK: the whole quantity could not be filled at once"
	case venue.ReasonNoLiquidity:
		return "MTL: no opposite order to match"
	case venue.ReasonAuctionEnd:
		return "unfilled at the end of its call auction"
	case venue.ReasonExpired:
		return "cancelled at the end of the trading day"
	case venue.ReasonSelfTrade:
		return "self-trade prevention: the order met a resting order of its own account; the rest is cancelled"
	}
	return r.String()
}

// event books one venue event on the order it names.
func (w *reportWriter) event(ev venue.Event) error {
	o, err := w.getOrder(ev.Order.ID)
	if err != nil {
		return err
	}
	if o == nil {
		// Orders reach the venue only once stored, so this is a bug. An
		// execution cannot be booked on one side only; anything else
		// concerns no money and is skipped.
		if ev.Kind == venue.EventPartiallyFilled || ev.Kind == venue.EventFilled {
			return fmt.Errorf("trading: the venue reported an execution of order %s the store does not have", ev.Order.ID)
		}
		return nil
	}
	if o.Status.Done() && ev.Kind != venue.EventRejected {
		return nil // already applied
	}
	o.UpdatedAt = w.now
	switch ev.Kind {
	case venue.EventAccepted:
		if o.Status == store.OrderPendingNew {
			o.Status, o.Priority = store.OrderNew, w.priority()
		}
	case venue.EventPartiallyFilled, venue.EventFilled:
		return w.fill(o, ev)
	case venue.EventCancelled:
		return w.cancelled(o, ev)
	case venue.EventReplaced:
		w.replaced(o, ev)
	case venue.EventRejected:
		return w.rejected(o, ev)
	}
	return nil
}

// fill books one execution (once: ExecIDs increase) on the order and its
// account. It is never refused for a business reason: the venue traded.
func (w *reportWriter) fill(o *store.Order, ev venue.Event) error {
	if ev.ExecID <= o.LastExecID {
		return nil
	}
	a, err := w.getAccount(o.AccountCode)
	if err != nil {
		return err
	}
	px := ev.LastPx.Decimal()
	due, err := w.due(o.ISIN)
	if err != nil {
		return fmt.Errorf("trading: settlement date of fill %d of order %d: %w", ev.ExecID, o.ID, err)
	}
	inst, _ := w.master.ByISIN(o.ISIN) // not in the master: traded as a stock
	na, rest, err := pretrade.FillAny(*a, holdOf(*o), inst, px, ev.LastQty, due)
	if err != nil {
		return fmt.Errorf("trading: fill %d of order %d: %w", ev.ExecID, o.ID, err)
	}
	*a = na
	if o.Side == "B" { // each execution once: on its buy side
		if err := w.traded(inst, px, ev.LastQty); err != nil {
			return err
		}
	}
	o.Hold = orderHold(rest)
	o.FilledQty += ev.LastQty
	o.FilledValue = o.FilledValue.Add(px.Mul(decimal.NewFromInt(ev.LastQty)))
	o.LastExecID = ev.ExecID
	if ev.Kind == venue.EventFilled || o.FilledQty >= o.Qty {
		o.Status = store.OrderFilled
		return w.release(o)
	}
	if !o.Status.Pending() {
		o.Status = store.OrderPartiallyFill
	}
	return nil
}

// cancelled ends an order the venue cancelled or expired.
func (w *reportWriter) cancelled(o *store.Order, ev venue.Event) error {
	// The end of the day cancels what is still working, reported as
	// CANCELED (39=4) like the Vero docs say ("cancelled after the
	// close"; their status table has no Expired), with the reason as text.
	o.Status = store.OrderCanceled
	o.CancelledQty = max(o.Qty-o.FilledQty, 0)
	if ev.Reason != venue.ReasonUser {
		o.Text = (&market.Reject{Code: 0, Message: reasonText(ev.Reason)}).Text(SourceVenue)
	}
	return w.release(o)
}

// replaced takes the terms the book now holds.
func (w *reportWriter) replaced(o *store.Order, ev venue.Event) {
	if ev.Reason == venue.ReasonMTLToLimit {
		o.Price, o.Priority = ev.Order.Price.Decimal(), w.priority() // the remainder rests now
	} else {
		o.Price, o.Qty = ev.Order.Price.Decimal(), ev.Order.Qty
		if ev.Order.ID == w.requeue {
			o.Priority = w.priority()
		}
	}
	if o.Status == store.OrderPendingReplace || o.Status == store.OrderPendingNew {
		o.Status = workingStatus(o)
	}
}

// rejected books the venue's refusal of a new order, a cancel or a replace.
func (w *reportWriter) rejected(o *store.Order, ev venue.Event) error {
	refusal := func(what string) string {
		return (&market.Reject{Code: CodeVenueReject, Message: what + ev.Reason.String()}).Text(SourceVenue)
	}
	switch ev.Op {
	case venue.OpNew:
		if o.Status.Done() {
			return nil
		}
		o.Status, o.Text = store.OrderRejected, refusal("venue reject: ")
		if ev.Reason == venue.ReasonSelfTrade {
			o.Text = (&market.Reject{Code: CodeSelfTrade, Message: "an order of this account rests on the other side of this call auction; one account may not enter both sides"}).Text(SourceVenue)
		}
		return w.release(o)
	case venue.OpCancel:
		if o.Status != store.OrderPendingCancel {
			return nil
		}
		if ev.Reason == venue.ReasonUnknownOrder {
			// The book no longer holds it: nothing left to cancel there.
			o.Status, o.CancelledQty = store.OrderCanceled, max(o.Qty-o.FilledQty, 0)
			return w.release(o)
		}
		o.Status, o.Text = workingStatus(o), refusal("cancel refused: ")
	case venue.OpReplace:
		if o.Status != store.OrderPendingReplace {
			return nil
		}
		// Keep the book's terms; the hold reserved for the new terms
		// stays until the order ends (it can only be released then).
		if lo := ev.Order; lo.Qty > 0 {
			o.Price, o.Qty = lo.Price.Decimal(), lo.Qty
		}
		o.Status, o.Text = workingStatus(o), refusal("replace refused: ")
	}
	return nil
}
