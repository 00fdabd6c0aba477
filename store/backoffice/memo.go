package backoffice

import (
	"fmt"
	"reflect"
	"slices"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/vero-oms/omsd/store"
)

// memo remembers what recent record texts decoded to. The same text is
// decoded again and again: an order is read by its request, read back
// for the outbox entry of its change, decoded by the publisher and read
// by the next request on it; an account by every order of it. JSON
// decoding was the largest cost of an order on the in-memory store. The
// key is the whole text, so a hit is exactly what decoding would give,
// on every backend; clone copies what a caller may change in place.
type memo[T any] struct {
	c     *lru.Cache[string, T]
	clone func(T) T
}

func newMemo[T any](size int, clone func(T) T) *memo[T] {
	c, err := lru.New[string, T](size)
	if err != nil {
		panic(err) // size is a positive constant
	}
	return &memo[T]{c: c, clone: clone}
}

func (m *memo[T]) decode(s string, dec func(string) (T, error)) (T, error) {
	if v, ok := m.c.Get(s); ok {
		checkHit(s, v, dec)
		return m.clone(v), nil
	}
	v, err := dec(s)
	if err == nil {
		m.c.Add(s, m.clone(v))
	}
	return v, err
}

// checkHits makes every memo hit decode the text again and panic if the
// two differ (CheckMemoHits).
var checkHits atomic.Bool

// CheckMemoHits is for tests: from now on every memo hit in this process
// is compared with a fresh decoding of its text (reflect.DeepEqual), and a
// difference panics. The store suites turn it on, so everything they do
// checks that a memo never answers differently from the decoder.
func CheckMemoHits() { checkHits.Store(true) }

func checkHit[T any](s string, hit T, dec func(string) (T, error)) {
	if !checkHits.Load() {
		return
	}
	fresh, err := dec(s)
	if err != nil || !reflect.DeepEqual(hit, fresh) {
		panic(fmt.Sprintf("back office memo: %q\nhit   %#v\nfresh %#v (%v)", s, hit, fresh, err))
	}
}

// Sizes: about a second of orders at 1 000 a second, and the accounts
// trading in it. A hit is a record touched again soon after it was
// written, so a bigger memo finds little more; but every entry (its
// decimals' big.Ints, its strings) is live heap that each garbage
// collection marks, and on 2 cores a longer mark delays deliveries. With
// 8192 and 2048 the Redis delivery p99 was 14.6–28.3 ms (median 19.7) in
// six runs, with these 10.9–14.1 ms in five of six (median 12.9), and
// memory's p99 3.6–4.1 against 3.2–3.3 ms, with no loss of throughput
// (docs/benchmarks.md, eighth session).
var (
	orderMemo   = newMemo(1024, func(o store.Order) store.Order { return o }) // no shared mutable parts
	accountMemo = newMemo(256, cloneAccount)
)

// cloneAccount copies the slices of a, which callers change in place
// (Account.SetHolding).
func cloneAccount(a store.Account) store.Account {
	a.CashPending = slices.Clone(a.CashPending)
	a.Holdings = slices.Clone(a.Holdings)
	for i := range a.Holdings {
		a.Holdings[i].Pending = slices.Clone(a.Holdings[i].Pending)
	}
	return a
}
