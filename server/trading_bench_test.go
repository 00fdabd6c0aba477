package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/trading"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

// BenchmarkOrderEntry is POST /api/v1/orders/new through the whole HTTP
// stack (bearer, contract validation, the trading service with its risk
// checks and hold, the store, the matching engine, latency stamps): a buy
// that rests in the book, so every iteration is one new resting order.
func BenchmarkOrderEntry(b *testing.B) {
	for name, open := range stores(b) {
		b.Run(name, func(b *testing.B) {
			st := open(b)
			s := newStack(b, st)
			ctx := context.Background()
			_, err := st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
				now := time.Now()
				if err := tx.PutAccount(store.Account{AccountCode: "BENCH00001", CashAvailable: decimal.New(1, 18), CreatedAt: now, UpdatedAt: now}); err != nil {
					return err
				}
				return tx.PutGrant(store.Grant{UserID: "bench@oms.example", AccountCode: "BENCH00001", Level: store.LevelTrade, CreatedAt: now, UpdatedAt: now})
			})
			if err != nil {
				b.Fatal(err)
			}
			mc, err := market.Dev()
			if err != nil {
				b.Fatal(err)
			}
			clock := latency.NewMonotonicClock()
			lat := memory.NewLatency(memory.LatencyOptions{Clock: clock})
			tr := trading.New(trading.Options{Store: st, Market: mc.Instruments, Clock: market.Pinned(market.Continuous),
				Latency: latency.NewRecorder(lat, latency.RecorderOptions{Clock: clock})})
			if err := tr.Start(ctx); err != nil {
				b.Fatal(err)
			}
			svc := server.Services{Auth: s.auth, Tokens: s.iss, Health: st}.WithBackOffice(st, nil)
			svc.Trading, svc.Latency = tr, lat
			h, err := server.New(server.Options{Services: svc, Logger: discardLogger()})
			if err != nil {
				b.Fatal(err)
			}
			in, err := s.auth.Login(ctx, "bench@oms.example", "bench-password-1", auth.Client{IP: "192.0.2.1"})
			if err != nil {
				b.Fatal(err)
			}
			body := `{"account_id":"BENCH00001","symbol":"FPT","side":"B","qty":100,"order_type":"LO","price":"95000"}`
			b.ReportAllocs()
			b.ResetTimer()
			cpu := processCPU()
			for i := 0; i < b.N; i++ {
				if rec := serve(b, h, "POST", "/api/v1/orders/new", body, "Authorization", "Bearer "+in.JWT); rec.Code != 200 {
					b.Fatalf("%d %s", rec.Code, rec.Body)
				}
			}
			reportCPU(b, cpu)
			b.StopTimer()
			if n, err := st.Orders(ctx, store.OrderFilter{Status: store.OrderNew, Limit: 1}); err != nil || len(n) != 1 {
				b.Fatalf("no resting order after the run: %v %v", n, err)
			}
		})
	}
}
