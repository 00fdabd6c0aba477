package puthrough

import (
	"context"
	"slices"
	"sort"

	"github.com/vero-oms/omsd/server/trading"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/store"
)

// ---- end of day ------------------------------------------------------------

// sweep runs ExpireQuotes for a desk message; a failure is logged and
// retried with the next message.
func (s *Desk) sweep(ctx context.Context) {
	if err := s.ExpireQuotes(ctx); err != nil {
		s.log.Error("expiring put-through quotes failed", "err", err)
	}
}

// ExpireQuotes ends the open put-through quotes of past trading dates and
// of markets now Closed: their orders become EXPIRED and their holds are
// released. It then forgets the desk's records of past trading dates (the
// board starts empty each trading date). Quotes are not in a venue book,
// so the book's end-of-day expiry does not reach them: every desk message
// runs this first, and the session driver should run it when a market
// closes.
func (s *Desk) ExpireQuotes(ctx context.Context) error {
	date := s.clock.TradingDate()
	d := &s.desk
	d.mu.Lock()
	var due []*ptQuote
	for _, q := range d.quotes {
		if !q.closed && q.OrderID != 0 && (q.TradingDate != date || s.clock.Session(q.Market) == market.Closed) {
			due = append(due, q)
		}
	}
	d.mu.Unlock()
	sort.Slice(due, func(i, j int) bool { return due[i].OrderID < due[j].OrderID })
	for _, q := range due {
		bctx, unlock, err := s.t.OpenBook(ctx, q.ISIN)
		if err != nil {
			return err
		}
		_, err = s.st.UpdateBackOffice(bctx, func(tx store.BackOfficeTx) error {
			o, ok, err := tx.Order(q.OrderID)
			if err != nil || !ok || o.Status.Done() || o.Status.Pending() {
				return err
			}
			return trading.CancelInStore(tx, o, "the put-through quote expired at the end of the trading day", store.OrderExpired)
		})
		unlock()
		if err != nil {
			return err
		}
		d.mu.Lock()
		q.closed = true
		d.mu.Unlock()
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	for id, q := range d.quotes {
		if q.TradingDate != date && (q.closed || q.OrderID == 0) {
			delete(d.quotes, id)
			if d.quoteMsg[q.MsgID] == q {
				delete(d.quoteMsg, q.MsgID)
			}
		}
	}
	for id, k := range d.kquotes {
		if k.TradingDate != date && k.Status != kqPending {
			delete(d.kquotes, id)
		}
	}
	if len(d.ads) > 0 && d.ads[0].TradingDate != date {
		keep := d.ads[:0]
		for _, a := range d.ads {
			if a.TradingDate == date {
				keep = append(keep, a)
			} else if d.adByIOI[a.IoiID] == a {
				delete(d.adByIOI, a.IoiID)
			}
		}
		clear(d.ads[len(keep):])
		d.ads = keep
	}
	return nil
}

// QuoteResponses returns the answers quote id received (tests, demos).
func (s *Desk) QuoteResponses(id string) []QuoteResponseRecord {
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	q, ok := d.quotes[id]
	if !ok {
		return nil
	}
	return slices.Clone(q.Responses)
}
