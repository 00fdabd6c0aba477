package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// BenchCountAttemptAndMarkVerified measures the code-verification step: one
// CountAttempt and one MarkVerified per op, on recoveries started before the
// timer runs.
func BenchCountAttemptAndMarkVerified(b *testing.B, s store.Store) {
	ctx, now := context.Background(), msNow()
	ids := make([]string, b.N)
	for i := range b.N {
		r := newRecovery(fmt.Sprint(i), fmt.Sprint("ek-", i), "id-1", now)
		if err := s.StartRecovery(ctx, r, now); err != nil {
			b.Fatal(err)
		}
		ids[i] = r.ID
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, err := s.CountAttempt(ctx, ids[i], 5, now); err != nil {
			b.Fatal(err)
		}
		if err := s.MarkVerified(ctx, ids[i], ids[i]+"-v", now.Add(time.Hour), now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchSessionWithIdentity measures the bearer-check hot path on a session
// that has been checked before.
func BenchSessionWithIdentity(b *testing.B, s store.Store) {
	ctx, now := context.Background(), msNow()
	if err := s.CreateIdentity(ctx, newIdentity("id-1", "ann@example.com", now)); err != nil {
		b.Fatal(err)
	}
	sess := newSession("sess-1", "id-1", now)
	if err := s.CreateSession(ctx, sess, now); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.SessionWithIdentity(ctx, sess.ID, now); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchCommitOrderFeed measures a fill-like commit with the outbox feed
// on (a publisher reads this process's entries): each op reads two
// accounts, changes their cash and one holding each, writes an order,
// and the publisher reads the entries and acknowledges them after every
// drainEvery ops (more than one: its reads span several commits).
func BenchCommitOrderFeed(b *testing.B, s store.Store, drainEvery int) {
	ctx, now := context.Background(), msNow()
	for _, code := range []string{"BA1", "BA2"} {
		a := store.Account{AccountCode: code, Name: code, CashAvailable: decimal.RequireFromString("1000000000.5"),
			Holdings: []store.Holding{{Symbol: "FPT", SellableQty: 1000, AvgPrice: decimal.RequireFromString("100.5")}}, CreatedAt: now}
		if _, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error { return tx.PutAccount(a) }); err != nil {
			b.Fatal(err)
		}
	}
	after := benchDrain(b, s, 0) // turns the feed on
	price := decimal.RequireFromString("100.5")
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			for j, code := range []string{"BA1", "BA2"} {
				a, _, err := tx.Account(code)
				if err != nil {
					return err
				}
				q := int64(1 - 2*j)
				a.CashAvailable = a.CashAvailable.Sub(price.Mul(decimal.NewFromInt(q)))
				a.Holdings[0].SellableQty += q
				a.Holdings[0].AvgPrice = a.Holdings[0].AvgPrice.Add(decimal.RequireFromString("0.5"))
				if err := tx.PutAccount(a); err != nil {
					return err
				}
			}
			_, err := tx.NewOrder(store.Order{OriginalReqID: fmt.Sprint("c", i), ClOrdID: fmt.Sprint("c", i), User: "ann", AccountCode: "BA1", Symbol: "FPT", Side: "B", Type: "LO",
				Price: price, Qty: 1, Status: store.OrderFilled, CreatedAt: now, UpdatedAt: now}, false)
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
		if (i+1)%drainEvery == 0 {
			after = benchDrain(b, s, after)
		}
	}
}

// benchDrain reads and acknowledges the outbox after after, as the
// publisher does.
func benchDrain(b *testing.B, s store.Store, after int64) int64 {
	ctx := context.Background()
	es, err := s.OutboxAfter(ctx, after, 256)
	if err != nil {
		b.Fatal(err)
	}
	if len(es) == 0 {
		return after
	}
	last := es[len(es)-1].ID
	if err := s.AckOutbox(ctx, last); err != nil {
		b.Fatal(err)
	}
	return last
}
