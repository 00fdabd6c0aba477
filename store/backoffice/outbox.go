package backoffice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// The outbox (store.Outbox) lives in the back office's hashes: KeyOutbox
// maps an entry's ID to the entry, SeqOutbox numbers them and is advanced
// only by Backend.Commit, inside the commit that writes them, so IDs have
// no gaps and follow commit order. KeyOutboxMeta keeps the acknowledged ID.
const (
	KeyOutbox     = "outbox"
	SeqOutbox     = "outbox-seq"
	KeyOutboxMeta = "outbox-meta"
	FieldAcked    = "acked"
)

type cashRecord struct {
	Available   decimal.Decimal `json:"available"`
	Hold        decimal.Decimal `json:"hold"`
	Pending     decimal.Decimal `json:"pending,omitzero"`
	BypassCash  bool            `json:"bypass_cash,omitempty"`
	BypassStock bool            `json:"bypass_stock,omitempty"`
}

type outboxRecord struct {
	Kind    store.OutboxKind `json:"kind"`
	Account string           `json:"account"`
	At      int64            `json:"at_ns"`
	Order   json.RawMessage  `json:"order,omitempty"` // an order record
	Prior   *priorRecord     `json:"prior,omitempty"` // the order before the change
	Cash    *cashRecord      `json:"cash,omitempty"`
	Holding *holdingRecord   `json:"holding,omitempty"`
}

type priorRecord struct {
	Status      store.OrderStatus `json:"status"`
	Qty         int64             `json:"qty"`
	Price       decimal.Decimal   `json:"price"`
	FilledQty   int64             `json:"filled_qty,omitempty"`
	FilledValue decimal.Decimal   `json:"filled_value,omitzero"`
	Text        string            `json:"text,omitempty"`
	StopPx      *decimal.Decimal  `json:"stop_px,omitempty"`
}

// priorOf is the part of the order before a change that a report needs
// (nil when the transaction did not read it: a new order).
func priorOf(old Value) (*priorRecord, error) {
	if !old.OK {
		return nil, nil
	}
	o, err := decodeOrder(old.S)
	if err != nil {
		return nil, err
	}
	return &priorRecord{Status: o.Status, Qty: o.Qty, Price: o.Price, FilledQty: o.FilledQty, FilledValue: o.FilledValue, Text: o.Text, StopPx: optDec(o.Stop.Px)}, nil
}

// decodeOutbox decodes the entry id. (A memo of the entries this process
// wrote, seeded at the commit so the publisher would not decode them, was
// tried and taken out: no load run could tell it from their noise, and it
// kept thousands of decoded entries on the heap.)
func decodeOutbox(id int64, s string) (store.OutboxEntry, error) {
	var r outboxRecord
	if err := unmarshal(s, &r); err != nil {
		return store.OutboxEntry{}, fmt.Errorf("back office: outbox entry %d: %w", id, err)
	}
	e := store.OutboxEntry{ID: id, Kind: r.Kind, AccountCode: r.Account, At: time.Unix(0, r.At).UTC()}
	switch {
	case r.Kind == store.OutboxOrder && r.Order != nil:
		o, err := decodeOrder(string(r.Order))
		if err != nil {
			return store.OutboxEntry{}, err
		}
		e.Order = o
		if p := r.Prior; p != nil {
			e.Prior = &store.OrderPrior{Status: p.Status, Qty: p.Qty, Price: p.Price, FilledQty: p.FilledQty, FilledValue: p.FilledValue, Text: p.Text, StopPx: decOr0(p.StopPx)}
		}
	case r.Kind == store.OutboxCash && r.Cash != nil:
		e.Cash = store.Cash{Available: r.Cash.Available, Hold: r.Cash.Hold, Pending: r.Cash.Pending, BypassCash: r.Cash.BypassCash, BypassStock: r.Cash.BypassStock}
	case r.Kind == store.OutboxHolding && r.Holding != nil:
		e.Holding = store.Holding(*r.Holding)
	default:
		return store.OutboxEntry{}, fmt.Errorf("back office: outbox entry %d of kind %q: %w", id, r.Kind, store.ErrInvalid)
	}
	return e, nil
}

// outboxOf lists what the transaction's writes change, in write order:
// every order written with a new value, every account's cash and each
// holding that differ from what the transaction read (a record it did not
// read is new, so all of it is reported).
func outboxOf(t *tx, at time.Time) ([]string, error) {
	var out []string
	ns := at.UnixNano()
	for _, w := range t.commit.Writes {
		old := t.reads[w.Cell]
		if w.Delete || (old.OK && old.S == w.Value) {
			continue
		}
		var recs []outboxRecord
		switch w.Key {
		case KeyOrders:
			o, err := decodeOrder(w.Value)
			if err != nil {
				return nil, err
			}
			prior, err := priorOf(old)
			if err != nil {
				return nil, err
			}
			recs = []outboxRecord{{Kind: store.OutboxOrder, Account: o.AccountCode, Order: json.RawMessage(w.Value), Prior: prior}}
		case KeyAccounts:
			var err error
			if recs, err = accountChanges(old, w.Value); err != nil {
				return nil, err
			}
		}
		for _, r := range recs {
			r.At = ns
			s, err := encodeOutbox(r)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
	}
	return out, nil
}

// encodeOutbox is encode(r), writing an order entry's order text as it is:
// json.Marshal would validate and compact it again (it is a record encode
// wrote, compact and escaped already), which was a good part of what an
// order's outbox entry cost. The bytes are the same (TestEncodeOutbox).
func encodeOutbox(r outboxRecord) (string, error) {
	if r.Order == nil || r.Cash != nil || r.Holding != nil {
		return encode(r)
	}
	head, err := json.Marshal(struct {
		Kind    store.OutboxKind `json:"kind"`
		Account string           `json:"account"`
		At      int64            `json:"at_ns"`
	}{r.Kind, r.Account, r.At})
	if err != nil {
		return "", fmt.Errorf("back office: encode: %w", err)
	}
	var b strings.Builder
	b.Grow(len(head) + len(r.Order) + 160)
	b.Write(head[:len(head)-1])
	b.WriteString(`,"order":`)
	b.Write(r.Order)
	if r.Prior != nil {
		prior, err := json.Marshal(r.Prior)
		if err != nil {
			return "", fmt.Errorf("back office: encode: %w", err)
		}
		b.WriteString(`,"prior":`)
		b.Write(prior)
	}
	b.WriteByte('}')
	return b.String(), nil
}

// accountChanges compares an account before (absent when !old.OK) and
// after: one cash record if the cash state changed, one holding record per
// position that changed (zero quantities for a position that is gone).
func accountChanges(old Value, now string) ([]outboxRecord, error) {
	after, err := decodeAccount(now)
	if err != nil {
		return nil, err
	}
	var before store.Account
	if old.OK {
		if before, err = decodeAccount(old.S); err != nil {
			return nil, err
		}
	}
	var out []outboxRecord
	if c := store.CashOf(after); !old.OK || !c.Equal(store.CashOf(before)) {
		out = append(out, outboxRecord{Kind: store.OutboxCash, Account: after.AccountCode,
			Cash: &cashRecord{Available: c.Available, Hold: c.Hold, Pending: c.Pending, BypassCash: c.BypassCash, BypassStock: c.BypassStock}})
	}
	holding := func(h store.Holding) {
		r := holdingRecord(h)
		out = append(out, outboxRecord{Kind: store.OutboxHolding, Account: after.AccountCode, Holding: &r})
	}
	for _, h := range after.Holdings {
		if b, ok := before.Holding(h.Symbol); !ok || !sameHolding(b, h) {
			holding(h)
		}
	}
	for _, b := range before.Holdings {
		if _, ok := after.Holding(b.Symbol); !ok {
			holding(store.Holding{Symbol: b.Symbol, AvgPrice: decimal.Zero})
		}
	}
	return out, nil
}

func sameHolding(a, b store.Holding) bool {
	return a.SellableQty == b.SellableQty && a.HoldQty == b.HoldQty && a.AvgPrice.Equal(b.AvgPrice) &&
		slices.Equal(a.Pending, b.Pending) // a futures margin is reported with the cash (store.CashOf)
}

var _ store.Outbox = (*Records)(nil)

// outboxWindow bounds the fields one read of the outbox asks for.
const outboxWindow = 256

// OutboxAfter reads the entries that follow after, a window at a time.
// The entries present are always one run, acknowledged+1 to the sequence's
// top (a commit writes its entries with the sequence; an acknowledgement
// deletes from the low end), so a window's present prefix is the answer
// and the publisher's usual read is one round trip. Only when nothing
// follows after does it read the acknowledged ID: a reader behind it (the
// entries it wants are gone) moves up to it.
func (r *Records) OutboxAfter(ctx context.Context, after int64, limit int) ([]store.OutboxEntry, error) {
	if fed := r.feed.take(after, min(limit, outboxWindow)); len(fed) > 0 {
		return r.decodeFed(ctx, after, fed)
	}
	out := []store.OutboxEntry{}
	for len(out) < limit {
		n := min(limit-len(out), outboxWindow)
		run, err := r.outboxRun(ctx, after, n)
		if err != nil {
			return nil, err
		}
		if len(run) == 0 && len(out) == 0 {
			acked, err := r.OutboxAcked(ctx)
			if err != nil || acked <= after {
				return out, err
			}
			after = acked
			continue
		}
		out = append(out, run...)
		if len(run) < n {
			break
		}
		after = run[len(run)-1].ID
	}
	return out, nil
}

// outboxRun reads up to n entries from after+1 on, stopping at the first
// absent one.
func (r *Records) outboxRun(ctx context.Context, after int64, n int) ([]store.OutboxEntry, error) {
	fields := make([]string, n)
	for i := range fields {
		fields[i] = idField(after + 1 + int64(i))
	}
	vs, err := r.b.GetMany(ctx, KeyOutbox, fields)
	if err != nil {
		return nil, err
	}
	out := make([]store.OutboxEntry, 0, n)
	for i, v := range vs {
		if !v.OK {
			break
		}
		e, err := decodeOutbox(after+1+int64(i), v.S)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (r *Records) OutboxAcked(ctx context.Context) (int64, error) {
	v, err := r.b.Get(ctx, Cell{KeyOutboxMeta, FieldAcked})
	if err != nil || !v.OK {
		return 0, err
	}
	id, err := strconv.ParseInt(v.S, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("back office: outbox acked %q: %w", v.S, err)
	}
	return id, nil
}

// ackBatch bounds the entries one acknowledgement removes per commit.
const ackBatch = 1024

func (r *Records) AckOutbox(ctx context.Context, id int64) error {
	for attempt := 0; attempt < MaxAttempts; attempt++ {
		v, err := r.b.Get(ctx, Cell{KeyOutboxMeta, FieldAcked})
		if err != nil {
			return err
		}
		acked, _ := strconv.ParseInt(v.S, 10, 64)
		if id <= acked {
			r.feed.drop(acked)
			return nil
		}
		upto := min(id, acked+ackBatch)
		c := Commit{Checks: []Check{{Cell: Cell{KeyOutboxMeta, FieldAcked}, Want: v}},
			Writes: []Write{{Cell: Cell{KeyOutboxMeta, FieldAcked}, Value: idField(upto)}}}
		for n := acked + 1; n <= upto; n++ {
			c.Writes = append(c.Writes, Write{Cell: Cell{KeyOutbox, idField(n)}, Delete: true})
		}
		_, err = r.b.Commit(ctx, c)
		switch {
		case errors.Is(err, ErrStale):
			continue
		case err != nil:
			return err
		case upto == id:
			r.feed.drop(id)
			return nil
		}
		attempt = -1 // progress: go on with the next batch
	}
	return fmt.Errorf("back office: outbox acknowledgement still contended: %w", store.ErrUnavailable)
}

func (r *Records) OutboxWritten() <-chan struct{} { return r.written }

// outboxFeed keeps the entries this process committed, under the IDs
// their commits were given, until the publisher reads them (OutboxAfter)
// or they are acknowledged: the read that follows a commit then needs no
// round trip. It is a copy of what the store holds, never the truth: what
// it does not have (an entry another instance wrote, a commit whose
// outcome was unknown, everything after a restart) is read from the
// store. It starts keeping entries at the first read, so an instance that
// does not publish keeps none, and it is bounded.
type outboxFeed struct {
	mu   sync.Mutex
	on   bool
	byID map[int64]string
	low  int64 // nothing at or below it is kept (acknowledged)
}

// feedMax bounds the entries kept; past it the feed starts again empty.
const feedMax = 4096

// add keeps a commit's entries, whose last has the ID last.
func (f *outboxFeed) add(last int64, entries []string) {
	if f == nil || last <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.on {
		return
	}
	if len(f.byID)+len(entries) > feedMax {
		clear(f.byID)
	}
	first := last - int64(len(entries)) + 1
	for i, e := range entries {
		if id := first + int64(i); id > f.low {
			f.byID[id] = e
		}
	}
}

// take removes and returns the run of entries kept from after+1 on, up to
// n of them.
func (f *outboxFeed) take(after int64, n int) []string {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = true
	var out []string
	for id := after + 1; len(out) < n; id++ {
		s, ok := f.byID[id]
		if !ok {
			break
		}
		delete(f.byID, id)
		out = append(out, s)
	}
	return out
}

// drop forgets the entries up to id (acknowledged: gone from the store).
func (f *outboxFeed) drop(id int64) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if id <= f.low {
		return
	}
	if id-f.low > int64(len(f.byID)) {
		for k := range f.byID {
			if k <= id {
				delete(f.byID, k)
			}
		}
	} else {
		for k := f.low + 1; k <= id; k++ {
			delete(f.byID, k)
		}
	}
	f.low = id
}

// decodeFed decodes a run the feed gave for the IDs from after+1 on. With
// CheckMemoHits on, it first compares the run with what the store holds,
// and panics on a difference.
func (r *Records) decodeFed(ctx context.Context, after int64, fed []string) ([]store.OutboxEntry, error) {
	if checkHits.Load() {
		r.checkFed(ctx, after, fed)
	}
	out := make([]store.OutboxEntry, len(fed))
	for i, s := range fed {
		e, err := decodeOutbox(after+1+int64(i), s)
		if err != nil {
			return nil, err
		}
		out[i] = e
	}
	return out, nil
}

func (r *Records) checkFed(ctx context.Context, after int64, fed []string) {
	fields := make([]string, len(fed))
	for i := range fed {
		fields[i] = idField(after + 1 + int64(i))
	}
	vs, err := r.b.GetMany(ctx, KeyOutbox, fields)
	if err != nil {
		return // the store is away: nothing to compare with
	}
	for i, v := range vs {
		if !v.OK || v.S != fed[i] {
			panic(fmt.Sprintf("back office outbox feed: entry %d is %q in the feed, %q (present %v) in the store", after+1+int64(i), fed[i], v.S, v.OK))
		}
	}
}

func (r *Records) signalOutbox() {
	select {
	case r.written <- struct{}{}:
	default:
	}
}
