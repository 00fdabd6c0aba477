package backoffice

import (
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// Seeding the memos: a record this process just encoded is decoded next
// (the commit's outbox entries read what it wrote, and the next request
// on the order or account reads it again), and that first decoding was
// the largest share of the JSON decoding left. So encodeOrder and
// encodeAccount put into the memo, under the text they wrote, what
// decoding that text gives: the record with every value as the decoder
// would produce it from its own text (decodedDec), converted as
// decoding converts it (orderOf, accountOf). A record with a string that
// is not valid UTF-8 is not seeded: encoding/json writes such a string
// with replacement characters, so the text decodes to something else.
// The store suites check every memo hit against a fresh decoding
// (CheckMemoHits), seeded ones included.

func seedOrder(text string, r orderRecord) {
	if !validUTF8(r.OriginalReqID, r.ClOrdID, r.OrigClOrdID, r.TradingDate, r.AccountCode, r.User,
		r.Symbol, r.ISIN, r.MarketID, r.Board, r.Side, r.Type, r.Status, r.Text, r.Channel,
		r.AlgoID, r.PositionID, r.PersisState, r.QuoteID, r.QuoteRespID, r.PartyID, r.PartyTraderID) {
		return
	}
	r.Price, r.OriginalPrice, r.FilledValue = decodedDec(r.Price, false), decodedDec(r.OriginalPrice, false), decodedDec(r.FilledValue, false)
	r.HoldUnitPrice, r.HoldCash = decodedDec(r.HoldUnitPrice, false), decodedDec(r.HoldCash, false)
	r.StopPx, r.StopOffset = decodedPtr(r.StopPx), decodedPtr(r.StopOffset)
	orderMemo.c.Add(text, orderOf(r))
}

// seedAccount changes r.Holdings' elements: encodeAccount's own copy,
// which it no longer needs.
func seedAccount(text string, r accountRecord) {
	if !validUTF8(r.AccountCode, r.Name, r.InternalClientCode, r.ClientCode, r.CompID, r.InvestCode,
		r.FornInvestTypeCode, r.SenderSubID, r.Email, r.Phone) {
		return
	}
	r.CashAvailable, r.CashHold = decodedDec(r.CashAvailable, false), decodedDec(r.CashHold, false)
	var due []store.DueCash // omitempty: an empty list is left out and decodes as nil
	for _, d := range r.CashPending {
		if !utf8.ValidString(d.Date) {
			return
		}
		due = append(due, store.DueCash{Date: d.Date, Amount: decodedDec(d.Amount, false)})
	}
	r.CashPending = due
	hs := r.Holdings
	for i, h := range hs {
		if !validUTF8(h.Symbol, h.MarkedOn) {
			return
		}
		h.AvgPrice, h.Margin, h.Basis = decodedDec(h.AvgPrice, false), decodedDec(h.Margin, true), decodedDec(h.Basis, true)
		var pending []store.DueShares // omitempty, as above
		for _, p := range h.Pending {
			if !utf8.ValidString(p.Date) {
				return
			}
			pending = append(pending, p)
		}
		h.Pending = pending
		hs[i] = h
	}
	accountMemo.c.Add(text, accountOf(r))
}

func validUTF8(ss ...string) bool {
	for _, s := range ss {
		if !utf8.ValidString(s) {
			return false
		}
	}
	return true
}

// decodedPtr is decodedDec for an omitempty pointer (nil stays nil).
func decodedPtr(d *decimal.Decimal) *decimal.Decimal {
	if d == nil {
		return nil
	}
	v := decodedDec(*d, false)
	return &v
}
