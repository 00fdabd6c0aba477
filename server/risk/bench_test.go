package risk_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/vero-oms/omsd/server/risk"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// BenchmarkRiskAccounts measures the grant-scoped GET /oms/risk/accounts
// read: a user with 10 granted accounts among 1000, each with two
// holdings. On Redis it uses the tests' shared redis-server (skipped when
// there is none; see redistest.SharedRedis) under a unique prefix.
func BenchmarkRiskAccounts(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchAccounts(b, memory.New()) })
	b.Run("redis", func(b *testing.B) {
		srv, prefix := redistest.SharedRedis(b), redistest.UniquePrefix()
		srv.DeletePrefixOnCleanup(b, prefix)
		st, err := redis.Open(b.Context(), redis.Options{URL: srv.URL(), Prefix: prefix})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = st.Close() })
		benchAccounts(b, st)
	})
}

func benchAccounts(b *testing.B, st store.BackOffice) {
	const accounts, granted, batch = 1000, 10, 100
	for lo := 0; lo < accounts; lo += batch {
		var as []store.Account
		var gs []store.Grant
		for i := lo; i < lo+batch; i++ {
			code := fmt.Sprintf("099C%06d", i)
			as = append(as, account(code, "1000000000.50",
				store.Holding{Symbol: "VN000000FPT1", SellableQty: 10000, AvgPrice: dec("120000")},
				store.Holding{Symbol: "VN000000VNM8", SellableQty: 5000, AvgPrice: dec("65500")}))
			// Everyone else holds a grant on every account; the measured
			// user on every 100th.
			gs = append(gs, grant(fmt.Sprintf("other%d@x", i%7), code, store.LevelView))
			if i%(accounts/granted) == 0 {
				gs = append(gs, grant("ann@x", code, store.LevelTrade))
			}
		}
		seed(b, st, as, gs, nil, nil)
	}
	s := risk.New(st)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		got, err := s.Accounts(ctx, "ann@x")
		if err != nil {
			b.Fatal(err)
		}
		if len(got) != granted {
			b.Fatalf("%d accounts, want %d", len(got), granted)
		}
	}
}
