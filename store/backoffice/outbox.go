package backoffice

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
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

	// orderText is the order record as stored, set by changesOf instead
	// of Order, whose []byte would be a copy of it (encodeOutbox writes
	// it as Order); only on an order record, which has no Cash or Holding.
	orderText string
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

// decodeOutbox decodes the entry id.
func decodeOutbox(id int64, s string) (store.OutboxEntry, error) {
	var r outboxRecord
	if err := unmarshal(s, &r); err != nil {
		return store.OutboxEntry{}, fmt.Errorf("back office: outbox entry %d: %w", id, err)
	}
	var o store.Order
	if r.Kind == store.OutboxOrder && r.Order != nil {
		var err error
		if o, err = decodeOrder(string(r.Order)); err != nil {
			return store.OutboxEntry{}, err
		}
	}
	e, err := entryOf(r, o)
	if err != nil {
		return store.OutboxEntry{}, fmt.Errorf("back office: outbox entry %d: %w", id, err)
	}
	e.ID = id
	return e, nil
}

// entryOf is the entry a record stands for (without its ID); o is the
// record's order, decoded, for an order entry.
func entryOf(r outboxRecord, o store.Order) (store.OutboxEntry, error) {
	e := store.OutboxEntry{Kind: r.Kind, AccountCode: r.Account, At: time.Unix(0, r.At).UTC()}
	switch {
	case r.Kind == store.OutboxOrder && (r.Order != nil || r.orderText != ""):
		e.Order = o
		if p := r.Prior; p != nil {
			fv := p.FilledValue
			if fv.IsZero() {
				fv = decimal.Decimal{} // as decoding gives it (omitzero)
			}
			e.Prior = &store.OrderPrior{Status: p.Status, Qty: p.Qty, Price: p.Price, FilledQty: p.FilledQty, FilledValue: fv, Text: p.Text, StopPx: decOr0(p.StopPx)}
		}
	case r.Kind == store.OutboxCash && r.Cash != nil:
		e.Cash = store.Cash{Available: r.Cash.Available, Hold: r.Cash.Hold, Pending: r.Cash.Pending, BypassCash: r.Cash.BypassCash, BypassStock: r.Cash.BypassStock}
	case r.Kind == store.OutboxHolding && r.Holding != nil:
		e.Holding = store.Holding(*r.Holding)
	default:
		return store.OutboxEntry{}, fmt.Errorf("kind %q: %w", r.Kind, store.ErrInvalid)
	}
	return e, nil
}

// outboxOf lists what the transaction's writes change, in write order:
// every order written with a new value, every account's cash and each
// holding that differ from what the transaction read (a record it did not
// read is new, so all of it is reported). It returns the entries encoded
// for the store and, when decoded is set, as the publisher reads them
// (for the outbox feed).
func outboxOf(t *tx, at time.Time, decoded bool) ([]string, []store.OutboxEntry, error) {
	n := expectedEntries(t.commit.Writes)
	out := make([]string, 0, n)
	var entries []store.OutboxEntry // one array for the commit's entries (outboxFeed.add)
	if decoded {
		entries = make([]store.OutboxEntry, 0, n)
	}
	var buf [4]outboxRecord // one write's records, reused
	ns := at.UnixNano()
	for _, w := range t.commit.Writes {
		old := t.reads[w.Cell]
		if w.Delete || (old.OK && old.S == w.Value) {
			continue
		}
		recs, o, err := changesOf(buf[:0], w, old)
		if err != nil {
			return nil, nil, err
		}
		for _, r := range recs {
			r.At = ns
			s, err := encodeOutbox(r)
			if err != nil {
				return nil, nil, err
			}
			out = append(out, s)
			if decoded {
				// The entry as decoding its text would give (asDecoded).
				d, err := entryOf(r, o)
				if err != nil {
					return nil, nil, err
				}
				asDecoded(&d)
				entries = append(entries, d)
			}
		}
	}
	return out, entries, nil
}

// expectedEntries is how many entries writes usually give: one per order,
// a cash and a holding entry per account.
func expectedEntries(writes []Write) int {
	n := 0
	for _, w := range writes {
		switch w.Key {
		case KeyOrders:
			n++
		case KeyAccounts:
			n += 2
		}
	}
	return n
}

// asDecoded puts into e, built from a record (entryOf), what decoding the
// record's text would give in place of what was computed, so an entry fed
// to the publisher is the entry it would read (checkFed compares them): a
// decimal is parsed from the text it is written as (decoding gives 101
// for 100.5 + 0.5, whose computed form is 101.0), a zero that the text
// leaves out (omitzero) is the zero value, an empty list that it leaves
// out (omitempty) is nil. An order entry's order is decoded already
// (changesOf). It changes the entry, not the record (whose copies would
// be two more allocations per entry).
func asDecoded(e *store.OutboxEntry) {
	switch e.Kind {
	case store.OutboxCash:
		c := &e.Cash
		c.Available, c.Hold, c.Pending = decodedDec(c.Available, false), decodedDec(c.Hold, false), decodedDec(c.Pending, true)
	case store.OutboxHolding:
		h := &e.Holding
		h.AvgPrice, h.Margin, h.Basis = decodedDec(h.AvgPrice, false), decodedDec(h.Margin, true), decodedDec(h.Basis, true)
		if len(h.Pending) == 0 {
			h.Pending = nil
		}
	}
}

// decodedDec is d as decoding its JSON text gives it; omitzero: the field
// leaves a zero out of the text.
func decodedDec(d decimal.Decimal, omitzero bool) decimal.Decimal {
	if omitzero && d.IsZero() {
		return decimal.Decimal{}
	}
	if v, ok := decodedSmall(d); ok {
		return v
	}
	return decimal.RequireFromString(d.String())
}

// decodedSmall is decodedDec without the string round trip (whose
// math/big conversions were a good part of what seeding and feeding
// allocated), for a coefficient of at most 18 digits with the default
// formatting: the text is the coefficient with trailing fractional zeros
// left out (an exponent above 0 written out in full), and NewFromString
// reads it back as that coefficient with exponent -(digits after the
// point). A decimal already in that form is returned as it is (sharing
// its immutable big.Int: reflect.DeepEqual holds), a zero as "0" parses.
// ok is false for anything else; TestDecodedDec compares the two.
func decodedSmall(d decimal.Decimal) (decimal.Decimal, bool) {
	if !decimal.TrimTrailingZeros || decimal.UseScientificNotation || d.NumDigits() > 18 {
		return decimal.Decimal{}, false
	}
	c, e := d.CoefficientInt64(), int64(d.Exponent())
	switch {
	case c == 0:
		return decimal.New(0, 0), true
	case e > 0:
		if int64(d.NumDigits())+e > 18 {
			return decimal.Decimal{}, false
		}
		for ; e > 0; e-- {
			c *= 10
		}
		return decimal.New(c, 0), true
	case e < -int64(decimal.MaxDecodeExponent):
		return decimal.Decimal{}, false // NewFromString refuses it
	}
	k := e
	for k < 0 && c%10 == 0 {
		c, k = c/10, k+1
	}
	if k == e {
		return d, true
	}
	return decimal.New(c, int32(k)), true
}

// changesOf appends to recs the outbox records of one write (none for a
// record the outbox does not report), and returns the order written for
// an order.
func changesOf(recs []outboxRecord, w Write, old Value) ([]outboxRecord, store.Order, error) {
	switch w.Key {
	case KeyOrders:
		o, err := decodeOrder(w.Value)
		if err != nil {
			return nil, o, err
		}
		prior, err := priorOf(old)
		if err != nil {
			return nil, o, err
		}
		return append(recs, outboxRecord{Kind: store.OutboxOrder, Account: o.AccountCode, orderText: w.Value, Prior: prior}), o, nil
	case KeyAccounts:
		recs, err := accountChanges(recs, old, w.Value)
		return recs, store.Order{}, err
	}
	return recs, store.Order{}, nil
}

// encodeOutbox is encode(r), writing an order entry's order text as it is:
// json.Marshal would validate and compact it again (it is a record encode
// wrote, compact and escaped already), which was a good part of what an
// order's outbox entry cost. The bytes are the same (TestEncodeOutbox).
func encodeOutbox(r outboxRecord) (string, error) {
	if r.orderText == "" { // not an order record changesOf built
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
	b.Grow(len(head) + len(r.orderText) + 160)
	b.Write(head[:len(head)-1])
	b.WriteString(`,"order":`)
	b.WriteString(r.orderText)
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
// after, appending to out one cash record if the cash state changed, one
// holding record per position that changed (zero quantities for a
// position that is gone).
func accountChanges(out []outboxRecord, old Value, now string) ([]outboxRecord, error) {
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
func (r *Records) OutboxAfter(ctx context.Context, after int64, limit int) ([]*store.OutboxEntry, error) {
	if fed := r.feed.take(after, min(limit, outboxWindow)); len(fed) > 0 {
		return r.fedEntries(ctx, after, fed)
	}
	out := []*store.OutboxEntry{}
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

// idFields are the fields of the n outbox entries from after+1 on.
func idFields(after int64, n int) []string {
	fields := make([]string, n)
	for i := range fields {
		fields[i] = idField(after + 1 + int64(i))
	}
	return fields
}

// outboxRun reads up to n entries from after+1 on, stopping at the first
// absent one (decoded into one array).
func (r *Records) outboxRun(ctx context.Context, after int64, n int) ([]*store.OutboxEntry, error) {
	vs, err := r.b.GetMany(ctx, KeyOutbox, idFields(after, n))
	if err != nil {
		return nil, err
	}
	k := 0
	for k < len(vs) && vs[k].OK {
		k++
	}
	es := make([]store.OutboxEntry, k)
	out := make([]*store.OutboxEntry, k)
	for i, v := range vs[:k] {
		if es[i], err = decodeOutbox(after+1+int64(i), v.S); err != nil {
			return nil, err
		}
		out[i] = &es[i]
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
		// The writes sized up front: growing them one entry at a time
		// was most of what an acknowledgement allocated.
		c := Commit{Checks: []Check{{Cell: Cell{KeyOutboxMeta, FieldAcked}, Want: v}},
			Writes: make([]Write, 1, 1+upto-acked)}
		c.Writes[0] = Write{Cell: Cell{KeyOutboxMeta, FieldAcked}, Value: idField(upto)}
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
	byID map[int64]fedEntry
	low  int64 // nothing at or below it is kept (acknowledged)
}

// fedEntry is an entry as committed: its text, and decoded, as element i
// of its commit's entries (batch nil when the commit did not decode
// them). Kept by value, and the decoded entries in one array per commit,
// not an allocation per entry; fedEntries hands out pointers into it.
type fedEntry struct {
	text  string
	batch []store.OutboxEntry
	i     int
}

// entry is the decoded entry, nil when there is none.
func (e fedEntry) entry() *store.OutboxEntry {
	if e.batch == nil {
		return nil
	}
	return &e.batch[e.i]
}

// feedMax bounds the entries kept; past it the feed starts again empty.
const feedMax = 4096

// wanted reports whether add would keep entries now (so a commit decodes
// its entries only for a publisher that reads them).
func (f *outboxFeed) wanted() bool {
	if f == nil {
		return false
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.on
}

// add keeps a commit's entries (texts and, in the same order, decoded),
// whose last has the ID last.
func (f *outboxFeed) add(last int64, texts []string, entries []store.OutboxEntry) {
	if f == nil || last <= 0 || len(entries) != len(texts) {
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
	for i := range entries {
		if id := first + int64(i); id > f.low {
			entries[i].ID = id
			f.byID[id] = fedEntry{texts[i], entries, i}
		}
	}
}

// take removes and returns the run of entries kept from after+1 on, up to
// n of them.
func (f *outboxFeed) take(after int64, n int) []fedEntry {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.on = true
	k := 0
	for k < n {
		if _, ok := f.byID[after+1+int64(k)]; !ok {
			break
		}
		k++
	}
	if k == 0 {
		return nil
	}
	out := make([]fedEntry, k)
	for i := range out {
		id := after + 1 + int64(i)
		out[i] = f.byID[id]
		delete(f.byID, id)
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

// fedEntries returns a run the feed gave for the IDs from after+1 on.
// With CheckMemoHits on, it first checks the run against the store: the
// same text under each ID, and the same entry as decoding it gives; a
// difference panics.
// The entries are handed out as they are kept, not copied: the feed has
// given them out (take), so nothing else reads or changes them.
func (r *Records) fedEntries(ctx context.Context, after int64, fed []fedEntry) ([]*store.OutboxEntry, error) {
	if checkHits.Load() {
		r.checkFed(ctx, after, fed)
	}
	out := make([]*store.OutboxEntry, len(fed))
	for i, f := range fed {
		e := f.entry()
		if e == nil { // not decoded at the commit
			d, err := decodeOutbox(after+1+int64(i), f.text)
			if err != nil {
				return nil, err
			}
			e = &d
		}
		out[i] = e
	}
	return out, nil
}

func (r *Records) checkFed(ctx context.Context, after int64, fed []fedEntry) {
	vs, err := r.b.GetMany(ctx, KeyOutbox, idFields(after, len(fed)))
	if err != nil {
		return // the store is away: nothing to compare with
	}
	for i, v := range vs {
		id := after + 1 + int64(i)
		if !v.OK || v.S != fed[i].text {
			panic(fmt.Sprintf("back office outbox feed: entry %d is %q in the feed, %q (present %v) in the store", id, fed[i].text, v.S, v.OK))
		}
		fe := fed[i].entry()
		if fe == nil {
			continue
		}
		if e, err := decodeOutbox(id, v.S); err != nil || !reflect.DeepEqual(e, *fe) {
			panic(fmt.Sprintf("back office outbox feed: entry %d\nfed     %#v %#v\ndecoded %#v %#v (%v)", id, fe, fe.Prior, e, e.Prior, err))
		}
	}
}

// OutboxWrittenElsewhere signals OutboxWritten for entries another
// process committed (a backend's notification of a Commit.Notify).
func (r *Records) OutboxWrittenElsewhere() { r.signalOutbox() }

func (r *Records) signalOutbox() {
	select {
	case r.written <- struct{}{}:
	default:
	}
}
