package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

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
