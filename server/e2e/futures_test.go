package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/market"
)

const isinVN30F = "VN41I1G20009"

// withFuturesLimit serves the dev instruments with the VN30 future's
// position limit lowered to limit contracts.
func withFuturesLimit(t *testing.T, limit int) func(*cli.Config) {
	dev, err := os.ReadFile(filepath.Join("..", "market", "instruments.dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	file := strings.Replace(string(dev), `"position_limit": 5000`, fmt.Sprintf(`"position_limit": %d`, limit), 1)
	if file == string(dev) {
		t.Fatal("the dev instruments have no VN30F position limit to lower")
	}
	path := filepath.Join(t.TempDir(), "instruments.json")
	if err := os.WriteFile(path, []byte(file), 0o600); err != nil {
		t.Fatal(err)
	}
	return func(c *cli.Config) { c.InstrumentsFile = path }
}

// futuresPosition reads an account's VN30F position: contracts (negative
// short), average entry price.
func (e *env) futuresPosition(t *testing.T, jwt, code string) (qty, avg float64) {
	t.Helper()
	h := stlHolding(e.stlAccount(t, jwt, code), isinVN30F)
	if h == nil {
		return 0, 0
	}
	return h["sellable_qty"].(float64), h["avg_price"].(float64)
}

// TestFuturesEndToEnd: on both stores, through REST and the dev next-day
// step: a buy of 10 VN30F at 1 350.0 holds 0.17 × 1 350 × 100 000 × 10 of
// margin; the flat seller goes short 10; a trade at 1 360.0 sets the
// settlement price; the position limit refuses the order past it; the end
// of the day moves (1 360 − 1 350) × 100 000 × 10 from the short to the
// long; money is conserved; the marks are audited.
func TestFuturesEndToEnd(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData, withFuturesLimit(t, 15))
		e.clock.set(time.Date(2026, 12, 10, 10, 0, 0, 0, market.Location)) // a week before expiry
		tr := e.login(nil, traderEmail, traderPass).jwt
		admin := e.login(nil, adminEmail, adminPass).jwt
		cash0, _ := e.stlTotals(t, tr)
		anFree0, anHold0, _ := e.account(t, tr, accountAn)
		binhFree0, binhHold0, _ := e.account(t, tr, accountBinh)

		e.order(t, tr, lo(accountAn, "VN30F2612", "B", 10, "1350.0", "f-buy"))
		if free, hold, _ := e.account(t, tr, accountAn); hold != 229500000 || free != anFree0-229500000 {
			t.Fatalf("An's margin for 10 at 1350: available %v hold %v", free, hold)
		}
		e.order(t, tr, lo(accountBinh, "VN30F2612", "S", 10, "1350.0", "f-sell"))
		wantOrder(t, e.orderByReq(t, tr, "f-buy"), "FILLED", 10)
		if q, avg := e.futuresPosition(t, tr, accountBinh); q != -10 || avg != 1350 {
			t.Fatalf("Binh, flat, sold 10: position %v at %v, want a short of 10", q, avg)
		}
		if q, _ := e.futuresPosition(t, tr, accountAn); q != 10 {
			t.Fatalf("An's position %v", q)
		}
		if _, hold, _ := e.account(t, tr, accountBinh); hold != 229500000 {
			t.Fatalf("Binh's short holds margin %v", hold)
		}

		// Binh buys one back from An at 1 360.0, the day's last price.
		e.order(t, tr, lo(accountAn, "VN30F2612", "S", 1, "1360.0", "f-sell-2"))
		e.order(t, tr, lo(accountBinh, "VN30F2612", "B", 1, "1360.0", "f-buy-2"))
		wantOrder(t, e.orderByReq(t, tr, "f-buy-2"), "FILLED", 1)
		// Long 9; 7 more would pass the limit of 15.
		e.wantRejected(t, tr, lo(accountAn, "VN30F2612", "B", 7, "1355.0", ""), "3004")

		before := map[string]float64{}
		for _, acct := range []string{accountAn, accountBinh} {
			free, hold, _ := e.account(t, tr, acct)
			before[acct] = free + hold
		}
		if d := e.nextDay(t, admin, 200); d.From != "2026-12-10" || d.To != "2026-12-11" {
			t.Fatalf("next day: %+v", d)
		}
		anFree, anHold, _ := e.account(t, tr, accountAn)
		binhFree, binhHold, _ := e.account(t, tr, accountBinh)
		if gain := anFree + anHold - before[accountAn]; gain != 10000000 {
			t.Fatalf("An's variation %v, want (1360 − 1350) × 100 000 × 10 = 10 000 000", gain)
		}
		if loss := binhFree + binhHold - before[accountBinh]; loss != -10000000 {
			t.Fatalf("Binh's variation %v, want −10 000 000", loss)
		}
		// Margins follow the settlement price: 0.17 × 1 360 × 100 000 × 9.
		if anHold != 208080000 || binhHold != 208080000 {
			t.Fatalf("margins after the mark: An %v Binh %v", anHold, binhHold)
		}
		if got := anFree + anHold + binhFree + binhHold; got != anFree0+anHold0+binhFree0+binhHold0 {
			t.Fatalf("An and Binh hold %v together, had %v", got, anFree0+anHold0+binhFree0+binhHold0)
		}
		if cash1, _ := e.stlTotals(t, tr); !cash1.Equal(cash0) {
			t.Fatalf("money not conserved: %s -> %s (%s)", cash0, cash1, cash1.Sub(cash0))
		}
		marks := e.auditEntries(t, admin, "action=MARKED_TO_MARKET")
		variations := decimal.Zero
		for _, m := range marks {
			d, _ := m["detail"].(map[string]any)
			v, err := decimal.NewFromString(fmt.Sprint(d["variation"]))
			if err != nil || !v.Abs().Equal(decimal.NewFromInt(10000000)) || m["actor"] != "system:mark-to-market" {
				t.Fatalf("mark-to-market entry %v", m)
			}
			variations = variations.Add(v)
		}
		if len(marks) != 2 || !variations.IsZero() {
			t.Fatalf("mark-to-market audit: %d entries, variations sum to %s: %v", len(marks), variations, marks)
		}
	})
}
