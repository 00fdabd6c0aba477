package trading

import (
	"context"
	"encoding/binary"
	"hash/maphash"
	"sync"

	"github.com/vero-oms/omsd/store"
)

// reqIDCacheSize bounds the ClOrdIDs remembered: a busy day's orders.
const reqIDCacheSize = 1 << 16

// reqIDCache remembers the orders this service entered today, by the
// user's ClOrdID: a cancel or replace names its order by ClOrdID, and
// finding it in the store is an index read and an order read, several
// times per request (its book, the FIX session's checks, the change's
// transaction). Only the venue's owner enters orders, and a ClOrdID names
// one order per trading date, so an entry of today is exact; one of
// another date is not kept (the ClOrdID may have been used again since).
//
// It holds no pointers (a key is a 128-bit hash of the user and the
// ClOrdID, an instrument an index into a small table), so the garbage
// collector never scans it: a full cache of strings and list elements
// was most of what omsd's collector marked under load, and a collection's
// marking is when deliveries run late (docs/benchmarks.md). A hit is
// checked against the order read (sameOrder), so even a hash collision
// would only cost a store read.
type reqIDCache struct {
	mu    sync.Mutex
	seeds [2]maphash.Seed
	date  string // the trading date of the entries
	byKey map[reqIDKey]reqIDSlot
	ring  []reqIDKey // the keys in the order they came; next is evicted first when full
	next  int
	size  int
	isins isinTable
}

type reqIDKey [2]uint64

// reqIDSlot is what never changes about the order a user entered under a
// ClOrdID on the cache's date: its id and instrument.
type reqIDSlot struct {
	id   int64
	isin uint32 // index in isins
}

func newReqIDCache(size int) *reqIDCache {
	return &reqIDCache{seeds: [2]maphash.Seed{maphash.MakeSeed(), maphash.MakeSeed()}, size: size,
		byKey: map[reqIDKey]reqIDSlot{}}
}

func (c *reqIDCache) key(user, reqID string) reqIDKey {
	var n [8]byte
	binary.LittleEndian.PutUint64(n[:], uint64(len(user))) // ("ab","c") and ("a","bc") differ
	var k reqIDKey
	for i, seed := range c.seeds {
		var h maphash.Hash
		h.SetSeed(seed)
		_, _ = h.Write(n[:])
		_, _ = h.WriteString(user)
		_, _ = h.WriteString(reqID)
		k[i] = h.Sum64()
	}
	return k
}

// add remembers o, an order of today (the trading date today).
func (c *reqIDCache) add(o store.Order, today string) {
	if o.TradingDate != today {
		return // never looked up (get wants today's)
	}
	k := c.key(o.User, o.OriginalReqID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.date != today {
		c.date, c.byKey, c.ring, c.next = today, map[reqIDKey]reqIDSlot{}, c.ring[:0], 0
	}
	slot := reqIDSlot{id: o.ID, isin: c.isins.intern(o.ISIN)}
	if _, ok := c.byKey[k]; ok {
		c.byKey[k] = slot // keeps its place in the ring
		return
	}
	if len(c.ring) < c.size {
		c.ring = append(c.ring, k)
	} else {
		delete(c.byKey, c.ring[c.next])
		c.ring[c.next] = k
		c.next = (c.next + 1) % c.size
	}
	c.byKey[k] = slot
}

// get returns the order id and instrument of the order user entered under
// reqID on today, if remembered.
func (c *reqIDCache) get(user, reqID, today string) (id int64, isin string, ok bool) {
	k := c.key(user, reqID)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.date != today {
		return 0, "", false
	}
	s, ok := c.byKey[k]
	if !ok {
		return 0, "", false
	}
	return s.id, c.isins.names[s.isin], true
}

// isinTable interns the instruments' ISINs (a few hundred in the master).
type isinTable struct {
	names []string
	ids   map[string]uint32
}

func (t *isinTable) intern(isin string) uint32 {
	if i, ok := t.ids[isin]; ok {
		return i
	}
	if t.ids == nil {
		t.ids = map[string]uint32{}
	}
	i := uint32(len(t.names))
	t.names = append(t.names, isin)
	t.ids[isin] = i
	return i
}

// remember records the order o was indexed under.
func (s *Service) remember(o store.Order) {
	s.reqIDs.add(o, s.clock.TradingDate())
}

// refOf returns the id and instrument of the order user entered today
// under reqID, if remembered.
func (s *Service) refOf(user, reqID string) (id int64, isin string, ok bool) {
	return s.reqIDs.get(user, reqID, s.clock.TradingDate())
}

// sameOrder reports whether o is the order user entered under reqID: what
// a remembered id is checked against.
func sameOrder(o store.Order, user, reqID string) bool {
	return o.User == user && o.OriginalReqID == reqID
}

// OrderByReqID returns the order user entered under the ClOrdID reqID (the
// newest trading date's), as store.Trading.OrderByReqID does, reading
// only the order when this service entered it today.
func (s *Service) OrderByReqID(ctx context.Context, user, reqID string) (store.Order, error) {
	if id, _, ok := s.refOf(user, reqID); ok {
		if o, err := s.st.Order(ctx, id); err != nil || sameOrder(o, user, reqID) {
			return o, err
		}
	}
	o, err := s.st.OrderByReqID(ctx, user, reqID)
	if err == nil && o.User == user {
		s.remember(o)
	}
	return o, err
}

// orderIn is working's read: the order user entered under reqID, in tx.
func (s *Service) orderIn(tx store.BackOfficeTx, user, reqID string) (store.Order, bool, error) {
	if id, _, ok := s.refOf(user, reqID); ok {
		if o, ok, err := tx.Order(id); err != nil || !ok || sameOrder(o, user, reqID) {
			return o, ok, err
		}
	}
	return tx.OrderByReqID(user, reqID)
}
