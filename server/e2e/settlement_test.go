package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/market"
)

// set moves the shared clock to t.
func (c *clock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }

// stlTotals sums every account the JWT can see: cash counting what is
// held and pending, shares counting what is held and pending.
func (e *env) stlTotals(t *testing.T, jwt string) (cash decimal.Decimal, shares map[string]int64) {
	t.Helper()
	shares = map[string]int64{}
	num := func(v any) decimal.Decimal { f, _ := v.(float64); return decimal.NewFromFloat(f) }
	for _, a := range e.list(t, "/api/v1/oms/risk/accounts", jwt) {
		cash = cash.Add(num(a["cash_available"])).Add(num(a["cash_hold"])).Add(num(a["omsd_cash_pending"]))
		hs, _ := a["holdings"].([]any)
		for _, h := range hs {
			m := h.(map[string]any)
			shares[m["symbol"].(string)] += num(m["sellable_qty"]).Add(num(m["hold_qty"])).Add(num(m["omsd_pending_qty"])).IntPart()
		}
	}
	return cash, shares
}

// stlAccount reads one account over REST.
func (e *env) stlAccount(t *testing.T, jwt, code string) map[string]any {
	t.Helper()
	return expect(t, e.do(nil, "GET", "/api/v1/oms/risk/accounts/"+code, nil, bearer(jwt)...), 200, "")
}

// stlHolding is the account's holding of isin (nil when it has none).
func stlHolding(a map[string]any, isin string) map[string]any {
	hs, _ := a["holdings"].([]any)
	for _, h := range hs {
		if m := h.(map[string]any); m["symbol"] == isin {
			return m
		}
	}
	return nil
}

// nextDay calls the dev endpoint and returns its answer.
func (e *env) nextDay(t *testing.T, jwt string, want int) cli.DevDayResponse {
	t.Helper()
	r := e.do(nil, "POST", cli.DevDayPath, nil, bearer(jwt)...)
	if r.status != want {
		t.Fatalf("next day: %d %s, want %d", r.status, r.body, want)
	}
	var out cli.DevDayResponse
	if want == 200 {
		if err := json.Unmarshal(r.body, &out); err != nil {
			t.Fatal(err)
		}
	}
	return out
}

// TestSettlementT2: a buy on Thursday D is not sellable on D (the sell is
// REJECTED: insufficient stock, -900001) nor on D+1; the seller's
// proceeds are pending. The dev next-day step skips the Friday holiday
// (from OMS_HOLIDAYS_FILE) and the weekend: D+1 is Monday, D+2 Tuesday,
// when the shares become sellable and the proceeds available. Money and
// shares are conserved throughout; the settlement is audited.
func TestSettlementT2(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		holidays := filepath.Join(t.TempDir(), "holidays.json")
		if err := os.WriteFile(holidays, []byte(`{"holidays": ["2027-01-08"]}`), 0o600); err != nil {
			t.Fatal(err)
		}
		e := start(t, kind, withDemoData, func(c *cli.Config) { c.HolidaysFile = holidays })
		e.clock.set(time.Date(2027, 1, 7, 10, 0, 0, 0, market.Location)) // Thursday
		tr := e.login(nil, traderEmail, traderPass).jwt
		admin := e.login(nil, adminEmail, adminPass).jwt
		const fpt = "VN000000FPT1"
		cash0, shares0 := e.stlTotals(t, tr)

		e.order(t, tr, lo(accountAn, "FPT", "S", 100, "99000", "an-sell"))
		e.order(t, tr, lo(accountBinh, "FPT", "B", 100, "99000", "binh-buy"))
		wantOrder(t, e.orderByReq(t, tr, "binh-buy"), "FILLED", 100)
		// Day D: Binh's shares and An's proceeds are pending, due Tuesday.
		e.wantRejectedBy(t, tr, lo(accountBinh, "FPT", "S", 100, "99000", ""), "OMS", "-900001")
		e.stlPending(t, tr, "2027-01-12", 100, 9900000, 1000000000)

		// No bearer, a trader, a GET: refused, the day unchanged.
		e.nextDay(t, "", 401)
		e.nextDay(t, tr, 403)
		if r := e.do(nil, "GET", cli.DevDayPath, nil, bearer(admin)...); r.status != 405 {
			t.Fatalf("GET next day: %d %s", r.status, r.body)
		}
		if d := e.nextDay(t, admin, 200); d.From != "2027-01-07" || d.To != "2027-01-11" || d.SettledAccounts != 0 {
			t.Fatalf("D+1: %+v, want 2027-01-07 -> 2027-01-11 (Friday a holiday, then the weekend), nothing settled", d)
		}
		e.wantRejectedBy(t, tr, lo(accountBinh, "FPT", "S", 100, "99000", ""), "OMS", "-900001")
		e.stlPending(t, tr, "2027-01-12", 100, 9900000, 1000000000)

		if d := e.nextDay(t, admin, 200); d.From != "2027-01-11" || d.To != "2027-01-12" || d.SettledAccounts != 2 {
			t.Fatalf("D+2: %+v, want 2027-01-11 -> 2027-01-12 with 2 accounts settled", d)
		}
		e.stlSettled(t, tr)
		e.order(t, tr, lo(accountBinh, "FPT", "S", 100, "99500", "binh-sell"))
		wantOrder(t, e.orderByReq(t, tr, "binh-sell"), "NEW", 0)

		cash1, shares1 := e.stlTotals(t, tr)
		if !cash1.Equal(cash0) || shares1[fpt] != shares0[fpt] {
			t.Fatalf("not conserved: cash %s -> %s, FPT %d -> %d", cash0, cash1, shares0[fpt], shares1[fpt])
		}
		entries := e.auditEntries(t, admin, "action=SETTLED")
		if len(entries) != 2 {
			t.Fatalf("settlement audit entries: %v", entries)
		}
		for _, en := range entries {
			if en["actor"] != "system:settlement" || en["entity_type"] != "ACCOUNT" {
				t.Fatalf("audit entry %v", en)
			}
		}
	})
}

// stlPending checks D's trade is pending: Binh's shares and An's cash.
func (e *env) stlPending(t *testing.T, jwt, due string, qty, proceeds, anAvailable float64) {
	t.Helper()
	const fpt = "VN000000FPT1"
	h := stlHolding(e.stlAccount(t, jwt, accountBinh), fpt)
	if h == nil || h["sellable_qty"] != 0.0 || h["omsd_pending_qty"] != qty {
		t.Fatalf("Binh's FPT: %v, want %v pending and none sellable", h, qty)
	}
	if p, _ := h["omsd_pending"].([]any); len(p) != 1 || p[0].(map[string]any)["settle_date"] != due {
		t.Fatalf("Binh's FPT due: %v, want %s", h["omsd_pending"], due)
	}
	an := e.stlAccount(t, jwt, accountAn)
	if an["cash_available"] != anAvailable || an["omsd_cash_pending"] != proceeds {
		t.Fatalf("An's cash: available %v, pending %v; want %v and %v", an["cash_available"], an["omsd_cash_pending"], anAvailable, proceeds)
	}
	if p, _ := an["omsd_cash_pending_due"].([]any); len(p) != 1 || p[0].(map[string]any)["settle_date"] != due {
		t.Fatalf("An's cash due: %v, want %s", an["omsd_cash_pending_due"], due)
	}
}

// stlSettled checks D's trade has settled.
func (e *env) stlSettled(t *testing.T, jwt string) {
	t.Helper()
	h := stlHolding(e.stlAccount(t, jwt, accountBinh), "VN000000FPT1")
	if h == nil || h["sellable_qty"] != 100.0 || h["omsd_pending_qty"] != 0.0 {
		t.Fatalf("Binh's FPT on D+2: %v, want 100 sellable", h)
	}
	an := e.stlAccount(t, jwt, accountAn)
	if an["cash_available"] != 1009900000.0 || an["omsd_cash_pending"] != 0.0 {
		t.Fatalf("An's cash on D+2: available %v, pending %v", an["cash_available"], an["omsd_cash_pending"])
	}
}
