package puthrough

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/vero-oms/omsd/server/trading"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
)

// ---- IOI (T8) and the board (T10) -------------------------------------------

// IOI posts, replaces or cancels an advertisement (POST /orders/ioi).
func (s *Desk) IOI(ctx context.Context, user string, in IOIRequest) (trading.Ack, error) {
	if err := requiredID("ioi_id", in.IoiID); err != nil {
		return trading.Ack{}, err
	}
	trans := in.TransType
	if trans == "" {
		trans = "N"
	}
	switch trans {
	case "N":
		if in.IoiRefID != "" {
			return trading.Ack{}, invalid("ioi_ref_id applies to ioi_trans_type R and C only")
		}
	case "R", "C":
		if err := requiredID("ioi_ref_id", in.IoiRefID); err != nil {
			return trading.Ack{}, invalid("ioi_ref_id is required with ioi_trans_type %s: it names the IOI to %s", trans, map[string]string{"R": "replace", "C": "cancel"}[trans])
		}
	default:
		return trading.Ack{}, invalid("ioi_trans_type must be N (new), R (replace) or C (cancel), got %q", in.TransType)
	}
	if in.Side != "" {
		if _, err := trading.ParseSide(in.Side); err != nil {
			return trading.Ack{}, err
		}
	}
	if in.Qty != nil && *in.Qty <= 0 {
		return trading.Ack{}, invalid("ioi_qty must be greater than 0, got %d", *in.Qty)
	}
	price, err := trading.ParsePrice("price", in.Price)
	if err != nil {
		return trading.Ack{}, err
	}
	if len(in.ContactNo) > 64 {
		return trading.Ack{}, invalid("contact_no must be at most 64 characters")
	}
	haircut, err := mantissa("repo_haircut_ratio_mantissa", in.RepoHaircutRatioMantissa)
	if err != nil {
		return trading.Ack{}, err
	}
	collateral, err := mantissa("collateral_value_mantissa", in.CollateralValueMantissa)
	if err != nil {
		return trading.Ack{}, err
	}
	if trans == "N" {
		switch {
		case strings.TrimSpace(in.Symbol) == "":
			return trading.Ack{}, invalid("symbol is required for a new IOI")
		case in.Side == "":
			return trading.Ack{}, invalid("side is required for a new IOI: B or S")
		case in.Qty == nil:
			return trading.Ack{}, invalid("ioi_qty is required for a new IOI")
		}
	}
	trade, _, err := s.tradeAccounts(ctx, user)
	if err != nil {
		return trading.Ack{}, err
	}
	if len(trade) == 0 {
		return trading.Ack{}, apperr.New(apperr.Forbidden, "you hold no TRADE grant on any account: only traders post IOIs")
	}
	trace := s.t.Begin(in.IoiID, latency.MsgIOI, in.Body, user)
	s.sweep(ctx)
	now, date := s.now(), s.clock.TradingDate()

	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	fail := func(err error) (trading.Ack, error) {
		s.failed(trace, err)
		return trading.Ack{}, err
	}
	if prev, ok := d.adByIOI[in.IoiID]; ok && prev.TradingDate == date && trans != "C" {
		return fail(reject(&market.Reject{Code: trading.CodeDuplicateClOrdID, Message: fmt.Sprintf("ioi_id %s is already on the board", in.IoiID)}))
	}
	var old *Advertisement
	if trans != "N" {
		o, ok := d.adByIOI[in.IoiRefID]
		switch {
		case !ok || o.TradingDate != date:
			return fail(reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown IOI %s", in.IoiRefID)}))
		case o.owner != user:
			s.t.Abandon(trace)
			return trading.Ack{}, apperr.New(apperr.Forbidden, fmt.Sprintf("IOI %s was posted by another user", in.IoiRefID))
		case o.Status != IOIActive:
			return fail(reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("IOI %s is %s and can no longer be changed", in.IoiRefID, o.Status)}))
		}
		old = o
	}
	ack := trading.Ack{MsgType: latency.MsgIOI, RequestID: in.IoiID, OrigRequestID: in.IoiRefID, ClientID: user}
	if trans == "C" {
		old.Status = IOICancelled
		old.SourceSeq++
		ack.SourceSequence = d.next()
		s.completed(trace)
		return ack, nil
	}
	if len(d.ads) >= maxBoard {
		return fail(reject(&market.Reject{Code: 1003, Message: fmt.Sprintf("the IOI board holds its maximum of %d advertisements for today", maxBoard)}))
	}
	ad := &Advertisement{IoiID: in.IoiID, IoiRefID: in.IoiRefID, Broker: FirmID, Symbol: strings.TrimSpace(in.Symbol), Side: in.Side,
		Price: price, TransType: trans, RepoHaircutRatio: haircut, CollateralValue: collateral, ContactNo: in.ContactNo,
		Status: IOIActive, SourceSeq: 1, CreatedAt: now, TradingDate: date, owner: user}
	if in.Qty != nil {
		ad.Qty = *in.Qty
	}
	if old != nil { // a replace keeps what it does not change
		if ad.Symbol == "" {
			ad.Symbol = old.Symbol
		}
		if ad.Side == "" {
			ad.Side = old.Side
		}
		if ad.Qty == 0 {
			ad.Qty = old.Qty
		}
		if ad.Price == nil {
			ad.Price = old.Price
		}
		if ad.ContactNo == "" {
			ad.ContactNo = old.ContactNo
		}
		if ad.RepoHaircutRatio == nil {
			ad.RepoHaircutRatio = old.RepoHaircutRatio
		}
		if ad.CollateralValue == nil {
			ad.CollateralValue = old.CollateralValue
		}
	}
	if r := s.checkIOI(ad); r != nil {
		ad.Status, ad.RejReason = IOIRejected, r.Code
	} else if old != nil {
		old.Status = IOIReplaced
		old.SourceSeq++
	}
	d.lastAd++
	ad.ID = d.lastAd
	d.ads = append(d.ads, ad)
	d.adByIOI[ad.IoiID] = ad
	ack.SourceSequence = d.next()
	if ad.Status == IOIRejected {
		s.t.End(trace, latency.RiskCompleted, latency.StatusRejected)
	} else {
		s.completed(trace)
	}
	return ack, nil
}

// checkIOI runs the instrument checks on an advertisement and fills in
// its ticker and ISIN.
func (s *Desk) checkIOI(ad *Advertisement) *market.Reject {
	inst, r := s.tradable(ad.Symbol)
	if inst.ISIN != "" {
		ad.Symbol, ad.ISIN = inst.Ticker, inst.ISIN
	}
	if r != nil {
		return r
	}
	if r := s.ptOpen(inst); r != nil {
		return r
	}
	if r := inst.CheckQty(market.LO, ad.Qty); r != nil {
		return r
	}
	if ad.Price != nil {
		return inst.CheckPrice(market.LO, ad.Price)
	}
	return nil
}

// AdFilter selects advertisements; empty fields match everything.
type AdFilter struct {
	Symbol, Status, Side string
	// Limit <= 0 means DefaultIOILimit, capped at MaxIOILimit.
	Limit, Offset int
}

// Page returns the effective limit and offset.
func (f AdFilter) Page() (limit, offset int) {
	limit = f.Limit
	if limit <= 0 {
		limit = DefaultIOILimit
	}
	return min(limit, MaxIOILimit), max(f.Offset, 0)
}

// Advertisements lists the trading date's IOI board, newest first (GET
// /util/ioi/advertisements): public to every signed-in user.
func (s *Desk) Advertisements(ctx context.Context, f AdFilter) ([]Advertisement, error) {
	if f.Limit < 0 || f.Offset < 0 {
		return nil, invalid("limit must be at least 1 and offset at least 0")
	}
	if f.Status != "" && !slices.Contains(IOIStatuses, IOIStatus(f.Status)) {
		names := make([]string, len(IOIStatuses))
		for i, st := range IOIStatuses {
			names[i] = string(st)
		}
		return nil, invalid("status must be one of %s, got %q", strings.Join(names, ", "), f.Status)
	}
	if f.Side != "" && f.Side != "B" && f.Side != "S" {
		return nil, invalid("side must be B or S, got %q", f.Side)
	}
	limit, offset := f.Page()
	date := s.clock.TradingDate()
	sym := strings.TrimSpace(f.Symbol)
	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	out := []Advertisement{}
	skipped := 0
	for i := len(d.ads) - 1; i >= 0 && len(out) < limit; i-- {
		a := d.ads[i]
		if a.TradingDate != date ||
			(f.Status != "" && string(a.Status) != f.Status) ||
			(f.Side != "" && a.Side != f.Side) ||
			(sym != "" && !strings.EqualFold(a.Symbol, sym) && a.ISIN != sym) {
			continue
		}
		if skipped < offset {
			skipped++
			continue
		}
		out = append(out, *a)
	}
	return out, nil
}
