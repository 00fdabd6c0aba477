package puthrough

import (
	"cmp"
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

// IOI posts, replaces or cancels an advertisement (POST /orders/ioi):
// decode → the caller must trade some account → under the board's lock,
// find what it replaces or cancels → post it, checked.
func (s *Desk) IOI(ctx context.Context, user string, in IOIRequest) (trading.Ack, error) {
	if err := s.t.Ready(); err != nil {
		return trading.Ack{}, err
	}
	ad, err := decodeIOI(in)
	if err != nil {
		return trading.Ack{}, err
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
	ad.CreatedAt, ad.TradingDate, ad.owner = s.now(), s.clock.TradingDate(), user

	d := &s.desk
	d.mu.Lock()
	defer d.mu.Unlock()
	old, err := d.ioiTarget(ad)
	if err == nil && ad.TransType != "C" && len(d.ads) >= maxBoard {
		err = reject(&market.Reject{Code: 1003, Message: fmt.Sprintf("the IOI board holds its maximum of %d advertisements for today", maxBoard)})
	}
	if err != nil {
		s.failed(trace, err)
		return trading.Ack{}, err
	}
	ack := trading.Ack{MsgType: latency.MsgIOI, RequestID: in.IoiID, OrigRequestID: in.IoiRefID, ClientID: user}
	if ad.TransType == "C" {
		old.Status = IOICancelled
		old.SourceSeq++
		ack.SourceSequence = d.next()
		s.completed(trace)
		return ack, nil
	}
	if old != nil {
		ad.inherit(old)
	}
	s.post(ad, old)
	ack.SourceSequence = d.next()
	if ad.Status == IOIRejected {
		s.t.End(trace, latency.RiskCompleted, latency.StatusRejected)
	} else {
		s.completed(trace)
	}
	return ack, nil
}

// decodeIOI checks an IOI message's form and returns the advertisement it
// describes (TransType N, R or C; what a replace leaves out is empty).
func decodeIOI(in IOIRequest) (*Advertisement, error) {
	if err := requiredID("ioi_id", in.IoiID); err != nil {
		return nil, err
	}
	trans := in.TransType
	if trans == "" {
		trans = "N"
	}
	if err := checkIOITrans(trans, in); err != nil {
		return nil, err
	}
	if in.Side != "" {
		if _, err := trading.ParseSide(in.Side); err != nil {
			return nil, err
		}
	}
	if in.Qty != nil {
		if err := trading.CheckQty("ioi_qty", *in.Qty); err != nil {
			return nil, err
		}
	}
	if len(in.ContactNo) > 64 {
		return nil, invalid("contact_no must be at most 64 characters")
	}
	ad := &Advertisement{IoiID: in.IoiID, IoiRefID: in.IoiRefID, Broker: FirmID, Symbol: strings.TrimSpace(in.Symbol), Side: in.Side,
		TransType: trans, ContactNo: in.ContactNo, Status: IOIActive, SourceSeq: 1}
	if in.Qty != nil {
		ad.Qty = *in.Qty
	}
	var err error
	if ad.Price, err = trading.ParsePrice("price", in.Price); err != nil {
		return nil, err
	}
	if ad.RepoHaircutRatio, err = mantissa("repo_haircut_ratio_mantissa", in.RepoHaircutRatioMantissa); err != nil {
		return nil, err
	}
	if ad.CollateralValue, err = mantissa("collateral_value_mantissa", in.CollateralValueMantissa); err != nil {
		return nil, err
	}
	return ad, nil
}

// checkIOITrans checks the fields each transaction type needs.
func checkIOITrans(trans string, in IOIRequest) error {
	switch trans {
	case "N":
		switch {
		case in.IoiRefID != "":
			return invalid("ioi_ref_id applies to ioi_trans_type R and C only")
		case strings.TrimSpace(in.Symbol) == "":
			return invalid("symbol is required for a new IOI")
		case in.Side == "":
			return invalid("side is required for a new IOI: B or S")
		case in.Qty == nil:
			return invalid("ioi_qty is required for a new IOI")
		}
	case "R", "C":
		if err := requiredID("ioi_ref_id", in.IoiRefID); err != nil {
			return invalid("ioi_ref_id is required with ioi_trans_type %s: it names the IOI to %s", trans, map[string]string{"R": "replace", "C": "cancel"}[trans])
		}
	default:
		return invalid("ioi_trans_type must be N (new), R (replace) or C (cancel), got %q", in.TransType)
	}
	return nil
}

// ioiTarget checks ad's id is new on the board and returns the active IOI
// of the same user it replaces or cancels (nil for a new one); d.mu held.
func (d *desk) ioiTarget(ad *Advertisement) (*Advertisement, error) {
	if prev, ok := d.adByIOI[ad.IoiID]; ok && prev.TradingDate == ad.TradingDate && ad.TransType != "C" {
		return nil, reject(&market.Reject{Code: trading.CodeDuplicateClOrdID, Message: fmt.Sprintf("ioi_id %s is already on the board", ad.IoiID)})
	}
	if ad.TransType == "N" {
		return nil, nil
	}
	o, ok := d.adByIOI[ad.IoiRefID]
	switch {
	case !ok || o.TradingDate != ad.TradingDate:
		return nil, reject(&market.Reject{Code: trading.CodeUnknownOrder, Message: fmt.Sprintf("unknown IOI %s", ad.IoiRefID)})
	case o.owner != ad.owner:
		return nil, apperr.New(apperr.Forbidden, fmt.Sprintf("IOI %s was posted by another user", ad.IoiRefID))
	case o.Status != IOIActive:
		return nil, reject(&market.Reject{Code: trading.CodeCompleted, Message: fmt.Sprintf("IOI %s is %s and can no longer be changed", ad.IoiRefID, o.Status)})
	}
	return o, nil
}

// inherit fills what a replace leaves out from the IOI it replaces.
func (ad *Advertisement) inherit(old *Advertisement) {
	ad.Symbol = cmp.Or(ad.Symbol, old.Symbol)
	ad.Side = cmp.Or(ad.Side, old.Side)
	ad.Qty = cmp.Or(ad.Qty, old.Qty)
	ad.ContactNo = cmp.Or(ad.ContactNo, old.ContactNo)
	if ad.Price == nil {
		ad.Price = old.Price
	}
	if ad.RepoHaircutRatio == nil {
		ad.RepoHaircutRatio = old.RepoHaircutRatio
	}
	if ad.CollateralValue == nil {
		ad.CollateralValue = old.CollateralValue
	}
}

// post checks ad and puts it on the board (REJECTED with the code when a
// check fails; a posted replace retires old); s.desk.mu held.
func (s *Desk) post(ad, old *Advertisement) {
	d := &s.desk
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
	price := ad.Price
	if price == nil {
		// An IOI may leave the price open: check the size alone.
		price = &inst.ReferencePrice
	}
	return inst.CheckPutThrough(ad.Qty, price)
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
	// Only the venue's owner holds the board.
	if err := s.t.Ready(); err != nil {
		return nil, err
	}
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
