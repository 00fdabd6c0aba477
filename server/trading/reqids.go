package trading

import (
	"context"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/vero-oms/omsd/store"
)

// orderRef is what never changes about the order a user entered under a
// ClOrdID on a trading date: its id and instrument.
type orderRef struct {
	id   int64
	isin string
	date string
}

// reqIDCacheSize bounds the ClOrdIDs remembered: a busy day's orders.
const reqIDCacheSize = 1 << 16

// The orders this service entered, by the user's ClOrdID: a cancel or
// replace names its order by ClOrdID, and finding it in the store is an
// index read and an order read, several times per request (its book, the
// FIX session's checks, the change's transaction). Only the venue's owner
// enters orders, and a ClOrdID names one order per trading date, so an
// entry of today is exact; one of another date is read again (the ClOrdID
// may have been used again since).
func newReqIDCache() *lru.Cache[store.OrderKey, orderRef] {
	c, err := lru.New[store.OrderKey, orderRef](reqIDCacheSize)
	if err != nil {
		panic(err) // a positive constant
	}
	return c
}

// remember records the order o was indexed under.
func (s *Service) remember(o store.Order) {
	s.reqIDs.Add(store.OrderKey{User: o.User, ReqID: o.OriginalReqID}, orderRef{id: o.ID, isin: o.ISIN, date: o.TradingDate})
}

// refOf returns the order user entered today under reqID, if remembered.
func (s *Service) refOf(user, reqID string) (orderRef, bool) {
	r, ok := s.reqIDs.Get(store.OrderKey{User: user, ReqID: reqID})
	return r, ok && r.date == s.clock.TradingDate()
}

// OrderByReqID returns the order user entered under the ClOrdID reqID (the
// newest trading date's), as store.Trading.OrderByReqID does, reading
// only the order when this service entered it today.
func (s *Service) OrderByReqID(ctx context.Context, user, reqID string) (store.Order, error) {
	if r, ok := s.refOf(user, reqID); ok {
		return s.st.Order(ctx, r.id)
	}
	o, err := s.st.OrderByReqID(ctx, user, reqID)
	if err == nil && o.User == user {
		s.remember(o)
	}
	return o, err
}

// orderIn is working's read: the order user entered under reqID, in tx.
func (s *Service) orderIn(tx store.BackOfficeTx, user, reqID string) (store.Order, bool, error) {
	if r, ok := s.refOf(user, reqID); ok {
		return tx.Order(r.id)
	}
	return tx.OrderByReqID(user, reqID)
}
