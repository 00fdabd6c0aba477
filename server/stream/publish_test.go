package stream

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// forgetful is an outbox whose acknowledgements never land: a publisher
// that crashes between publishing and acknowledging, every time.
type forgetful struct{ store.Outbox }

func (forgetful) AckOutbox(context.Context, int64) error {
	return errors.New("crashed before the acknowledgement")
}

// What a crashed publisher published but did not acknowledge is published
// again by the next one, and the broker (Redis, shared by both) delivers
// it once: the idempotency key is the outbox entry's ID.
func TestRepublishedEntriesAreDeliveredOnce(t *testing.T) {
	ctx := t.Context()
	srv := redistest.StartRedis(t)
	prefix := redistest.UniquePrefix()
	st, err := redis.Open(ctx, redis.Options{URL: srv.URL(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const n = 30
	commitCash(t, st, n)
	uo, err := redis.ParseURL(srv.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	broker := &Redis{Options: uo, Prefix: prefix + "stream", Timeout: time.Second}

	first, err := New(Options{Outbox: forgetful{st}, Redis: broker, PublishEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first publisher's round", func() bool { return first.Published() == n })
	first.Close(ctx)

	second, err := New(Options{Outbox: st, Redis: broker, PublishEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close(ctx)
	waitFor(t, "the outbox drained", func() bool {
		acked, err := st.OutboxAcked(ctx)
		return err == nil && acked == n
	})
	if second.Published() != 0 || second.Suppressed() != n {
		t.Fatalf("second publisher: published %d, suppressed %d; want 0 and %d", second.Published(), second.Suppressed(), n)
	}
	for i, p := range history(t, second, AccountChannel("A1"), n) {
		if p.Offset != uint64(i+1) {
			t.Fatalf("publication %d has offset %d", i, p.Offset)
		}
	}
}

// commitCash commits n changes of account A1's cash: 0, 1, … n-1.
func commitCash(t *testing.T, st store.Store, n int) {
	t.Helper()
	for i := range n {
		_, err := st.UpdateBackOffice(t.Context(), func(tx store.BackOfficeTx) error {
			return tx.PutAccount(store.Account{AccountCode: "A1", CashAvailable: decimal.NewFromInt(int64(i))})
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

// history is the channel's whole history, which must hold n publications.
func history(t *testing.T, s *Server, channel string, n int) []*centrifuge.Publication {
	t.Helper()
	h, err := s.node.History(channel, centrifuge.WithLimit(centrifuge.NoLimit))
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Publications) != n {
		t.Fatalf("%s holds %d publications, want %d", channel, len(h.Publications), n)
	}
	return h.Publications
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within 10 s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// The watermark (what may be acknowledged) passes an ID only when every
// ID handed over before it is published, whatever order the lanes finish
// in.
func TestWatermarkWaitsForEveryEarlierEntry(t *testing.T) {
	w := watermark{done: map[int64]bool{}}
	w.start(10)
	for id := int64(11); id <= 15; id++ {
		w.handed(id)
	}
	for _, c := range []struct{ published, mark int64 }{
		{13, 10}, {12, 10}, {11, 13}, {15, 13}, {14, 15},
	} {
		if w.published(c.published); w.get() != c.mark {
			t.Fatalf("after %d is published the mark is %d, want %d", c.published, w.get(), c.mark)
		}
	}
	// A reader that moved up past entries acknowledged elsewhere (a gap).
	w.handed(40)
	if w.published(40); w.get() != 40 {
		t.Fatalf("after a gap the mark is %d, want 40", w.get())
	}
}

// While the broker is away every publish fails; the lane tries its entry
// again until the broker is back, and the channel then holds every entry
// once, in commit order, none skipped.
func TestFailedPublishesAreRetriedInOrder(t *testing.T) {
	ctx := t.Context()
	data, broker := redistest.StartRedis(t), redistest.StartRedis(t)
	prefix := redistest.UniquePrefix()
	st, err := redis.Open(ctx, redis.Options{URL: data.URL(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	uo, err := redis.ParseURL(broker.URL(), "")
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{Outbox: st, Redis: &Redis{Options: uo, Prefix: prefix + "stream", Timeout: 200 * time.Millisecond}, PublishEvery: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(ctx)
	broker.Stop()
	const n = 20
	commitCash(t, st, n)
	waitFor(t, "a failed publish", func() bool { return s.PublishFailures() > 0 })
	broker.Start()
	waitFor(t, "every entry published", func() bool { return s.Published() == n })
	for i, p := range history(t, s, AccountChannel("A1"), n) {
		var r CashReport
		if err := json.Unmarshal(p.Data, &r); err != nil || r.CashAvailable != float64(i) {
			t.Fatalf("publication %d: %s (%v), want cash %d", i, p.Data, err, i)
		}
	}
}
