package workflow_test

import (
	"context"
	"encoding/json"
	"os"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/workflow"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// BenchmarkCreateApproveDeposit measures one maker-checker deposit: file
// the request, approve it (status, cash and four audit entries in one
// atomic step) on the memory store and, when one answers, on Redis
// (OMS_TEST_REDIS_URL, else redis://127.0.0.1:6379).
func BenchmarkCreateApproveDeposit(b *testing.B) {
	b.Run("memory", func(b *testing.B) { benchCreateApproveDeposit(b, memory.New()) })
	b.Run("redis", func(b *testing.B) { benchCreateApproveDeposit(b, benchRedis(b)) })
}

func benchCreateApproveDeposit(b *testing.B, st store.Store) {
	ctx := context.Background()
	at := time.Now().UTC().Truncate(time.Millisecond)
	if err := st.CreateIdentity(ctx, store.Identity{ID: "id-maker", Email: maker, Roles: []string{"maker"},
		PasswordHash: "x", State: store.IdentityActive, CreatedAt: at, UpdatedAt: at}); err != nil {
		b.Fatal(err)
	}
	if _, err := workflow.SeedDemo(ctx, st, at, nil); err != nil {
		b.Fatal(err)
	}
	s := workflow.New(st, st, nil)
	before, err := st.Account(ctx, acct)
	if err != nil {
		b.Fatal(err)
	}
	payload := json.RawMessage(`{"account_id":"` + acct + `","amount":1000.01}`)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		r, err := s.Create(ctx, maker, workflow.TypeDeposit, payload)
		if err != nil {
			b.Fatal(err)
		}
		got, err := s.Approve(ctx, checker, r.ID, "")
		if err != nil || got.Status != store.StatusApplied {
			b.Fatalf("approve: %+v %v", got, err)
		}
		n++
	}
	after, err := st.Account(ctx, acct)
	if err != nil {
		b.Fatal(err)
	}
	if want := before.CashAvailable.Add(decimal.RequireFromString("1000.01").Mul(decimal.NewFromInt(int64(n)))); !after.CashAvailable.Equal(want) {
		b.Fatalf("cash %s after %d deposits, want %s", after.CashAvailable, n, want)
	}
}

// benchRedis opens the local Redis under a fresh prefix (removed after),
// or skips when none answers.
func benchRedis(b *testing.B) store.Store {
	url := os.Getenv(redistest.EnvRedisURL)
	if url == "" {
		url = "redis://127.0.0.1:6379"
	}
	prefix := redistest.UniquePrefix()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	s, err := redis.Open(ctx, redis.Options{URL: url, Prefix: prefix, DialTimeout: time.Second})
	if err != nil {
		b.Skipf("no Redis at %s: %v", url, err)
	}
	b.Cleanup(func() {
		_ = s.Close()
		opts, err := goredis.ParseURL(url)
		if err != nil {
			return
		}
		c := goredis.NewClient(opts)
		defer c.Close()
		ctx := context.Background()
		iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
		var keys []string
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if len(keys) > 0 {
			c.Del(ctx, keys...)
		}
	})
	return s
}
