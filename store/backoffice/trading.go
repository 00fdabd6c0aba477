package backoffice

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// Orders live in KeyOrders by ID; KeyOrderReqIDs maps (user, entry
// ClOrdID) to the ID of the order that user entered under it (the newest
// trading date's).
const (
	KeyMeta        = "meta"          // small values: the rules' version
	FieldRulesVer  = "rules-version" // changes with every rule change
	KeyOrders      = "orders"        // id -> order
	KeyOrderReqIDs = "order-req-ids" // user NUL entry ClOrdID -> id
	// KeyOpenOrders indexes the orders not yet done (id -> ""): NewOrder
	// adds an order, the PutOrder that makes it done removes it, in the
	// same commit.
	KeyOpenOrders = "open-orders"
	SeqOrders     = "order-seq"
	// KeyMarketDays keeps each instrument's trading day (ISIN ->
	// store.MarketDay), written with the fills that trade it.
	KeyMarketDays = "market-days"
)

type marketDayRecord struct {
	Date      string          `json:"date"`
	Reference decimal.Decimal `json:"reference"`
	Last      decimal.Decimal `json:"last"`
	Value     decimal.Decimal `json:"value"`
	Volume    int64           `json:"volume"`
}

func (t *tx) MarketDay(isin string) (store.MarketDay, bool, error) {
	return getRecord(t, KeyMarketDays, isin, func(s string) (store.MarketDay, error) {
		return decode("market day", s, func(r marketDayRecord) store.MarketDay { return store.MarketDay(r) })
	})
}

func (t *tx) PutMarketDay(isin string, d store.MarketDay) error {
	if err := store.ValidateKeyPart("market day ISIN", isin); err != nil {
		return err
	}
	if _, err := time.Parse(time.DateOnly, d.Date); err != nil {
		return fmt.Errorf("market day of %s: date %q: %w", isin, d.Date, store.ErrInvalid)
	}
	if d.Volume < 0 || !d.Reference.IsPositive() {
		return fmt.Errorf("market day of %s: reference %s, volume %d: %w", isin, d.Reference, d.Volume, store.ErrInvalid)
	}
	v, err := encode(marketDayRecord(d))
	if err != nil {
		return err
	}
	t.set(KeyMarketDays, isin, v, false)
	return nil
}

type orderRecord struct {
	ID            int64            `json:"id"`
	OriginalReqID string           `json:"original_req_id"`
	ClOrdID       string           `json:"cl_ord_id"`
	OrigClOrdID   string           `json:"orig_cl_ord_id,omitempty"`
	TradingDate   string           `json:"trading_date"`
	AccountCode   string           `json:"account"`
	User          string           `json:"user,omitempty"`
	Symbol        string           `json:"symbol"`
	ISIN          string           `json:"isin"`
	MarketID      string           `json:"market_id"`
	Board         string           `json:"board,omitempty"`
	Side          string           `json:"side"`
	Type          string           `json:"type"`
	Price         decimal.Decimal  `json:"price"`
	Qty           int64            `json:"qty"`
	OriginalPrice decimal.Decimal  `json:"original_price"`
	OriginalQty   int64            `json:"original_qty"`
	FilledQty     int64            `json:"filled_qty"`
	FilledValue   decimal.Decimal  `json:"filled_value"`
	CancelledQty  int64            `json:"cancelled_qty"`
	Status        string           `json:"status"`
	Text          string           `json:"text,omitempty"`
	HoldUnitPrice decimal.Decimal  `json:"hold_unit_price"`
	HoldCash      decimal.Decimal  `json:"hold_cash"`
	HoldStock     int64            `json:"hold_stock"`
	LastExecID    uint64           `json:"last_exec_id,omitempty"`
	Seq           int64            `json:"seq"`
	Priority      int64            `json:"priority,omitempty"`
	OffBook       bool             `json:"off_book,omitempty"`
	StopPx        *decimal.Decimal `json:"stop_px,omitempty"`
	StopTrailing  bool             `json:"stop_trailing,omitempty"`
	StopOffset    *decimal.Decimal `json:"stop_offset,omitempty"`
	StopTriggered bool             `json:"stop_triggered,omitempty"`
	Channel       string           `json:"channel,omitempty"`
	AlgoID        string           `json:"algo_id,omitempty"`
	PositionID    string           `json:"position_id,omitempty"`
	PersisState   string           `json:"persis_state,omitempty"`
	QuoteID       string           `json:"quote_id,omitempty"`
	QuoteRespID   string           `json:"quote_resp_id,omitempty"`
	PartyID       string           `json:"party_id,omitempty"`
	PartyTraderID string           `json:"party_trader_id,omitempty"`
	CreatedAt     int64            `json:"created_at"`
	UpdatedAt     int64            `json:"updated_at"`
}

func encodeOrder(o store.Order) (string, error) {
	if err := o.Validate(); err != nil {
		return "", err
	}
	// The record is pooled: passed to encode (an interface), a new one
	// would be a heap copy of some 600 bytes per order written. A pointer
	// to it encodes to the same text.
	r := orderRecords.Get().(*orderRecord)
	defer putOrderRecord(r)
	*r = orderRecord{
		ID: o.ID, OriginalReqID: o.OriginalReqID, ClOrdID: o.ClOrdID, OrigClOrdID: o.OrigClOrdID,
		TradingDate: o.TradingDate, AccountCode: o.AccountCode, User: o.User,
		Symbol: o.Symbol, ISIN: o.ISIN, MarketID: o.MarketID, Board: o.Board, Side: o.Side, Type: o.Type,
		Price: o.Price, Qty: o.Qty, OriginalPrice: o.OriginalPrice, OriginalQty: o.OriginalQty,
		FilledQty: o.FilledQty, FilledValue: o.FilledValue, CancelledQty: o.CancelledQty,
		Status: string(o.Status), Text: o.Text,
		HoldUnitPrice: o.Hold.UnitPrice, HoldCash: o.Hold.Cash, HoldStock: o.Hold.Stock,
		LastExecID: o.LastExecID, Seq: o.Seq, Priority: o.Priority, OffBook: o.OffBook,
		StopPx: optDec(o.Stop.Px), StopTrailing: o.Stop.Trailing, StopOffset: optDec(o.Stop.Offset), StopTriggered: o.Stop.Triggered,
		Channel: o.Channel, AlgoID: o.AlgoID, PositionID: o.PositionID, PersisState: o.PersisState,
		QuoteID: o.QuoteID, QuoteRespID: o.QuoteRespID, PartyID: o.PartyID, PartyTraderID: o.PartyTraderID,
		CreatedAt: ms(o.CreatedAt), UpdatedAt: ms(o.UpdatedAt),
	}
	s, err := encode(r)
	if err == nil {
		seedOrder(s, *r)
	}
	return s, err
}

var orderRecords = sync.Pool{New: func() any { return new(orderRecord) }}

// putOrderRecord returns r to the pool, holding no strings or decimals.
func putOrderRecord(r *orderRecord) {
	*r = orderRecord{}
	orderRecords.Put(r)
}

// optDec leaves a zero out of a record (most orders have no stop terms).
func optDec(d decimal.Decimal) *decimal.Decimal {
	if d.IsZero() {
		return nil
	}
	return &d
}

func decOr0(d *decimal.Decimal) decimal.Decimal {
	if d == nil {
		return decimal.Zero
	}
	return *d
}

func decodeOrder(s string) (store.Order, error) { return orderMemo.decode(s, decodeOrderJSON) }

func decodeOrderJSON(s string) (store.Order, error) { return decode("order", s, orderOf) }

// orderOf is the order a decoded record holds.
func orderOf(r orderRecord) store.Order {
	return store.Order{
		ID: r.ID, OriginalReqID: r.OriginalReqID, ClOrdID: r.ClOrdID, OrigClOrdID: r.OrigClOrdID,
		TradingDate: r.TradingDate, AccountCode: r.AccountCode, User: r.User,
		Symbol: r.Symbol, ISIN: r.ISIN, MarketID: r.MarketID, Board: r.Board, Side: r.Side, Type: r.Type,
		Price: r.Price, Qty: r.Qty, OriginalPrice: r.OriginalPrice, OriginalQty: r.OriginalQty,
		FilledQty: r.FilledQty, FilledValue: r.FilledValue, CancelledQty: r.CancelledQty,
		Status: store.OrderStatus(r.Status), Text: r.Text,
		Hold:       store.OrderHold{UnitPrice: r.HoldUnitPrice, Cash: r.HoldCash, Stock: r.HoldStock},
		LastExecID: r.LastExecID, Seq: r.Seq, Priority: r.Priority, OffBook: r.OffBook,
		Stop:    store.StopTerms{Px: decOr0(r.StopPx), Trailing: r.StopTrailing, Offset: decOr0(r.StopOffset), Triggered: r.StopTriggered},
		Channel: r.Channel, AlgoID: r.AlgoID, PositionID: r.PositionID, PersisState: r.PersisState,
		QuoteID: r.QuoteID, QuoteRespID: r.QuoteRespID, PartyID: r.PartyID, PartyTraderID: r.PartyTraderID,
		CreatedAt: fromMS(r.CreatedAt), UpdatedAt: fromMS(r.UpdatedAt),
	}
}

// ---- reads ----

var _ store.Trading = (*Records)(nil)

func (r *Records) Order(ctx context.Context, id int64) (store.Order, error) {
	v, err := r.b.Get(ctx, Cell{KeyOrders, idField(id)})
	if err != nil {
		return store.Order{}, err
	}
	if !v.OK {
		return store.Order{}, fmt.Errorf("order %d: %w", id, store.ErrNotFound)
	}
	return decodeOrder(v.S)
}

// reqField is the index field of a ClOrdID in its user's namespace.
func reqField(user, reqID string) string { return join(user, reqID) }

func (r *Records) OrderByReqID(ctx context.Context, user, reqID string) (store.Order, error) {
	v, err := r.b.Get(ctx, Cell{KeyOrderReqIDs, reqField(user, reqID)})
	if err != nil {
		return store.Order{}, err
	}
	if !v.OK {
		return store.Order{}, fmt.Errorf("order %q: %w", reqID, store.ErrNotFound)
	}
	id, err := strconv.ParseInt(v.S, 10, 64)
	if err != nil {
		return store.Order{}, fmt.Errorf("back office: order index %q: %w", reqID, err)
	}
	return r.Order(ctx, id)
}

// orderScanBatch is how many orders one GetMany of Orders reads.
const orderScanBatch = 256

// Orders walks the ids down from the sequence in batches and filters:
// O(orders scanned). A lookup by order id reads one record.
func (r *Records) Orders(ctx context.Context, f store.OrderFilter) ([]store.Order, error) {
	limit, skip := f.Page()
	if f.OrderID != "" {
		id, err := strconv.ParseInt(f.OrderID, 10, 64)
		if err != nil || id <= 0 {
			return []store.Order{}, nil
		}
		o, err := r.Order(ctx, id)
		if err != nil {
			if errors.Is(err, store.ErrNotFound) {
				return []store.Order{}, nil
			}
			return nil, err
		}
		if !f.Match(o) || skip > 0 {
			return []store.Order{}, nil
		}
		return []store.Order{o}, nil
	}
	top, err := r.b.Top(ctx, SeqOrders)
	if err != nil {
		return nil, err
	}
	out := make([]store.Order, 0, min(int64(limit), top))
	err = r.eachOrderDown(ctx, top, func(o store.Order) bool {
		switch {
		case !f.Match(o):
		case skip > 0:
			skip--
		default:
			out = append(out, o)
		}
		return len(out) < limit
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// eachOrderDown calls each with every stored order from id top down,
// until each returns false.
func (r *Records) eachOrderDown(ctx context.Context, top int64, each func(store.Order) bool) error {
	ids := make([]int64, 0, orderScanBatch)
	for hi := top; hi >= 1; hi -= orderScanBatch {
		ids = ids[:0]
		for id := hi; id >= max(1, hi-orderScanBatch+1); id-- {
			ids = append(ids, id)
		}
		if more, err := r.eachOrderOf(ctx, ids, each); err != nil || !more {
			return err
		}
	}
	return nil
}

// eachOrderOf reads the orders of ids (one round trip) and calls each
// with them in that order, skipping ids no order has (a transaction that
// took an id and did not commit); more is false once each returned false.
func (r *Records) eachOrderOf(ctx context.Context, ids []int64, each func(store.Order) bool) (more bool, err error) {
	fields := make([]string, len(ids))
	for i, id := range ids {
		fields[i] = idField(id)
	}
	vs, err := r.b.GetMany(ctx, KeyOrders, fields)
	if err != nil {
		return false, err
	}
	for _, v := range vs {
		if !v.OK {
			continue
		}
		o, err := decodeOrder(v.S)
		if err != nil {
			return false, err
		}
		if !each(o) {
			return false, nil
		}
	}
	return true, nil
}

// FieldOpenIndexed marks (in KeyMeta) that KeyOpenOrders covers every
// order: orders stored before the index existed are indexed once.
const FieldOpenIndexed = "open-orders-indexed"

// OpenOrders reads the open-orders index and then those orders. An
// order done between the two reads is left out.
func (r *Records) OpenOrders(ctx context.Context) ([]store.Order, error) {
	if err := r.indexOpenOrders(ctx); err != nil {
		return nil, err
	}
	idx, err := r.b.GetAll(ctx, KeyOpenOrders)
	if err != nil {
		return nil, err
	}
	ids := make([]int64, 0, len(idx))
	for f := range idx {
		if id, err := strconv.ParseInt(f, 10, 64); err == nil {
			ids = append(ids, id)
		}
	}
	slices.SortFunc(ids, func(a, b int64) int { return cmp.Compare(b, a) })
	out := make([]store.Order, 0, len(ids))
	for batch := range slices.Chunk(ids, orderScanBatch) {
		_, err := r.eachOrderOf(ctx, batch, func(o store.Order) bool {
			if !o.Status.Done() {
				out = append(out, o)
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// indexOpenOrders adds the open orders of a store written before
// KeyOpenOrders existed to it, once: it scans every order, then indexes
// the open ones in one transaction that re-reads each (so one done
// meanwhile is left out) and sets FieldOpenIndexed.
func (r *Records) indexOpenOrders(ctx context.Context) error {
	if r.openIndexed.Load() {
		return nil
	}
	v, err := r.b.Get(ctx, Cell{KeyMeta, FieldOpenIndexed})
	if err != nil {
		return err
	}
	if !v.OK {
		open, err := r.scanOpen(ctx)
		if err != nil {
			return err
		}
		_, err = r.UpdateBackOffice(ctx, func(stx store.BackOfficeTx) error {
			t := stx.(*tx)
			if v, err := t.get(KeyMeta, FieldOpenIndexed); err != nil || v.OK {
				return err
			}
			for _, id := range open {
				o, ok, err := t.Order(id)
				if err != nil {
					return err
				}
				if ok && !o.Status.Done() {
					t.set(KeyOpenOrders, idField(id), "", false)
				}
			}
			t.set(KeyMeta, FieldOpenIndexed, "1", false)
			return nil
		})
		if err != nil {
			return err
		}
	}
	r.openIndexed.Store(true)
	return nil
}

// scanOpen reads every order, newest first, and returns the ids of the
// open ones.
func (r *Records) scanOpen(ctx context.Context) ([]int64, error) {
	top, err := r.b.Top(ctx, SeqOrders)
	if err != nil {
		return nil, err
	}
	var open []int64
	err = r.eachOrderDown(ctx, top, func(o store.Order) bool {
		if !o.Status.Done() {
			open = append(open, o.ID)
		}
		return true
	})
	return open, err
}

// ---- transactions ----

// orderIDBlock is how many order ids a process takes from the sequence at
// once: one round trip per block instead of one per order. Ids stay unique
// and, within one process, increasing; a block left unused at exit is a
// gap the listings skip.
const orderIDBlock = 64

type idBlock struct {
	mu         sync.Mutex
	free, last int64 // next to hand out; last of the block (free > last: none left)
}

func (ib *idBlock) take(ctx context.Context, b Backend) (int64, error) {
	ib.mu.Lock()
	defer ib.mu.Unlock()
	if ib.free == 0 || ib.free > ib.last {
		top, err := b.NextN(ctx, SeqOrders, orderIDBlock)
		if err != nil {
			return 0, err
		}
		ib.free, ib.last = top-orderIDBlock+1, top
	}
	id := ib.free
	ib.free++
	return id, nil
}

// bumpRules gives the rules a new version in this transaction: a value
// no other transaction writes (time and randomness), so no read is needed.
func (t *tx) bumpRules() {
	c := Cell{KeyMeta, FieldRulesVer}
	if _, ok := t.writes[c]; ok {
		return
	}
	v := strconv.FormatInt(time.Now().UnixNano(), 36) + "-" + strconv.FormatUint(rand.Uint64(), 36)
	t.writes[c] = len(t.commit.Writes)
	t.commit.Writes = append(t.commit.Writes, Write{Cell: c, Value: v})
}

// RulesVersion is the rules' version as this transaction sees it ("" before
// any rule was ever written); read like any record, so a rule change
// before commit makes the transaction run again.
func (t *tx) RulesVersion() (string, error) {
	v, err := t.get(KeyMeta, FieldRulesVer)
	return v.S, err
}

func (t *tx) Prefetch(p store.Prefetch) error {
	var cells []Cell
	seen := map[Cell]bool{}
	add := func(key, field string) {
		c := Cell{key, field}
		if _, ok := t.writes[c]; ok {
			return
		}
		if _, ok := t.reads[c]; ok || seen[c] {
			return
		}
		seen[c] = true
		cells = append(cells, c)
	}
	for _, a := range p.Accounts {
		add(KeyAccounts, a)
	}
	for _, g := range p.Grants {
		add(KeyGrants, join(g[0], g[1]))
	}
	for _, id := range p.Orders {
		add(KeyOrders, idField(id))
	}
	for _, k := range p.OrderReqIDs {
		add(KeyOrderReqIDs, reqField(k.User, k.ReqID))
	}
	if p.RulesVersion {
		add(KeyMeta, FieldRulesVer)
	}
	for _, k := range p.NewOrderReqIDs {
		c := Cell{KeyOrderReqIDs, reqField(k.User, k.ReqID)}
		_, written := t.writes[c]
		_, read := t.reads[c]
		if t.guess && !written && !read && !seen[c] {
			// Taken as unused; the commit checks it (see store.Prefetch).
			t.reads[c], t.guessed = Value{}, true
			continue
		}
		add(KeyOrderReqIDs, c.Field)
	}
	// Cells this run may take from the last seen values need no read.
	cells = slices.DeleteFunc(cells, t.takeGuess)
	if len(cells) == 0 {
		return nil
	}
	vs, err := t.b.GetCells(t.ctx, cells)
	if err != nil {
		return err
	}
	for i, c := range cells {
		t.read(c, vs[i])
	}
	return nil
}

func (t *tx) Order(id int64) (store.Order, bool, error) {
	return getRecord(t, KeyOrders, idField(id), decodeOrder)
}

func (t *tx) OrderByReqID(user, reqID string) (store.Order, bool, error) {
	v, err := t.get(KeyOrderReqIDs, reqField(user, reqID))
	if err != nil || !v.OK {
		return store.Order{}, false, err
	}
	id, err := strconv.ParseInt(v.S, 10, 64)
	if err != nil {
		return store.Order{}, false, fmt.Errorf("back office: order index %q: %w", reqID, err)
	}
	return t.Order(id)
}

func (t *tx) NewOrder(o store.Order, index bool) (store.Order, error) {
	if err := store.ValidateKeyPart("order ClOrdID", o.OriginalReqID); err != nil {
		return store.Order{}, err
	}
	if strings.ContainsRune(o.User, 0) {
		return store.Order{}, fmt.Errorf("order user: NUL: %w", store.ErrInvalid)
	}
	id, err := t.ids.take(t.ctx, t.b)
	if err != nil {
		return store.Order{}, err
	}
	o.ID, o.Seq = id, 1
	s, err := encodeOrder(o)
	if err != nil {
		return store.Order{}, err
	}
	t.set(KeyOrders, idField(id), s, false)
	if !o.Status.Done() {
		t.set(KeyOpenOrders, idField(id), "", false)
	}
	if index {
		// Read the index cell so the commit checks it: of two entries under
		// one ClOrdID at once only one takes it; the other runs again.
		field := reqField(o.User, o.OriginalReqID)
		if _, err := t.get(KeyOrderReqIDs, field); err != nil {
			return store.Order{}, err
		}
		t.set(KeyOrderReqIDs, field, idField(id), false)
	}
	// The order as stored, without decoding it again: times in whole
	// milliseconds, UTC, as every read returns them.
	o.CreatedAt, o.UpdatedAt = fromMS(ms(o.CreatedAt)), fromMS(ms(o.UpdatedAt))
	return o, nil
}

func (t *tx) PutOrder(o store.Order) error {
	if o.ID <= 0 {
		return fmt.Errorf("order id %d: %w", o.ID, store.ErrInvalid)
	}
	// The stored order is read (and so checked at commit): an update is
	// made on the latest version only, and Seq counts versions.
	cur, ok, err := t.Order(o.ID)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("order %d: %w", o.ID, store.ErrNotFound)
	}
	if cur.Seq != o.Seq {
		return fmt.Errorf("order %d: version %d is not the stored version %d: %w", o.ID, o.Seq, cur.Seq, store.ErrConflict)
	}
	o.Seq++
	s, err := encodeOrder(o)
	if err != nil {
		return err
	}
	t.set(KeyOrders, idField(o.ID), s, false)
	if o.Status.Done() && !cur.Status.Done() {
		t.set(KeyOpenOrders, idField(o.ID), "", true)
	}
	return nil
}
