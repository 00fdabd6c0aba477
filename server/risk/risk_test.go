package risk_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/risk"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

var at = time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

// seed writes accounts, grants and rules in one step.
func seed(t testing.TB, st store.BackOffice, accounts []store.Account, grants []store.Grant, rules []store.RiskRule, orderRules []store.OrderRiskRule) {
	t.Helper()
	_, err := st.UpdateBackOffice(context.Background(), func(tx store.BackOfficeTx) error {
		for _, a := range accounts {
			if err := tx.PutAccount(a); err != nil {
				return err
			}
		}
		for _, g := range grants {
			if err := tx.PutGrant(g); err != nil {
				return err
			}
		}
		for _, r := range rules {
			if err := tx.PutRiskRule(r); err != nil {
				return err
			}
		}
		for _, r := range orderRules {
			if err := tx.PutOrderRiskRule(r); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func account(code, cash string, hs ...store.Holding) store.Account {
	return store.Account{AccountCode: code, Name: "Name " + code, InternalClientCode: code, ClientCode: code,
		CompID: "VOS", AccountType: 1, InvestCode: "8000", FornInvestTypeCode: "00", SenderSubID: "00991",
		Email: code + "@example.vn", Phone: "+84", CashAvailable: dec(cash), CashHold: dec("0"),
		Holdings: hs, CreatedAt: at, UpdatedAt: at}
}

func grant(user, code string, level store.GrantLevel) store.Grant {
	return store.Grant{UserID: user, AccountCode: code, Level: level, GrantedBy: "admin@x", CreatedAt: at, UpdatedAt: at}
}

func codes(as []store.Account) []string {
	out := make([]string, 0, len(as))
	for _, a := range as {
		out = append(out, a.AccountCode)
	}
	return out
}

// Lists hold exactly the granted accounts (any level), sorted by code;
// accounts without a grant and grants on absent accounts are left out.
func TestRiskAccountsScopedByGrants(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	a := account("099C000003", "1000000000.25", store.Holding{Symbol: "VN000000FPT1", SellableQty: 10000, HoldQty: 5, AvgPrice: dec("120000.5")},
		store.Holding{Symbol: "VN000000VNM8", SellableQty: 5000, AvgPrice: dec("65500")})
	a.CashHold, a.BypassCash = dec("12.34"), true
	b := account("099C000001", "250000000.50")
	b.BypassStock = true
	c := account("099C000002", "7")
	seed(t, st, []store.Account{a, b, c}, []store.Grant{
		grant("ann@x", a.AccountCode, store.LevelView),
		grant("ann@x", b.AccountCode, store.LevelAdmin),
		grant("ann@x", "099C999999", store.LevelTrade), // no such account
		grant("bob@x", c.AccountCode, store.LevelTrade),
	}, nil, nil)
	s := risk.New(st)

	got, err := s.Accounts(ctx, "ann@x")
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(codes(got)) != "[099C000001 099C000003]" {
		t.Fatalf("ann sees %v", codes(got))
	}
	g := got[1]
	if !g.CashAvailable.Equal(dec("1000000000.25")) || !g.CashHold.Equal(dec("12.34")) || !g.BypassCash || g.BypassStock ||
		len(g.Holdings) != 2 || g.Holdings[0].Symbol != "VN000000FPT1" || g.Holdings[0].SellableQty != 10000 ||
		g.Holdings[0].HoldQty != 5 || !g.Holdings[0].AvgPrice.Equal(dec("120000.5")) || g.Holdings[1].Symbol != "VN000000VNM8" {
		t.Fatalf("account values: %+v", g)
	}
	if g.Name != "Name 099C000003" || g.CompID != "VOS" || g.AccountType != 1 || g.Email != "099C000003@example.vn" {
		t.Fatalf("mapping values: %+v", g)
	}
	if !got[0].CashAvailable.Equal(dec("250000000.5")) || !got[0].BypassStock {
		t.Fatalf("account b: %+v", got[0])
	}

	got, err = s.Accounts(ctx, "bob@x")
	if err != nil || fmt.Sprint(codes(got)) != "[099C000002]" {
		t.Fatalf("bob sees %v, %v", codes(got), err)
	}
	got, err = s.Accounts(ctx, "nobody@x")
	if err != nil || got == nil || len(got) != 0 {
		t.Fatalf("no grants: %#v, %v (want an empty, non-nil list)", got, err)
	}
	// Readable is the same rule as a set (the stream's permissions): every
	// grant, the account's existence left to Account.
	if r, err := s.Readable(ctx, "ann@x"); err != nil || len(r) != 3 || !r[a.AccountCode] || !r[b.AccountCode] || !r["099C999999"] || r[c.AccountCode] {
		t.Fatalf("ann may read %v, %v", r, err)
	}
	if r, err := s.Readable(ctx, "nobody@x"); err != nil || len(r) != 0 {
		t.Fatalf("nobody may read %v, %v", r, err)
	}
}

// A single read without a grant answers exactly as for an account that
// does not exist; with a grant of any level it answers the account.
func TestRiskAccountNoGrantIsNotFound(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	seed(t, st, []store.Account{account("A1", "1"), account("A2", "2")}, []store.Grant{
		grant("ann@x", "A1", store.LevelView),
		grant("ann@x", "GONE", store.LevelTrade),
		grant("adm@x", "A2", store.LevelAdmin),
	}, nil, nil)
	s := risk.New(st)

	a, err := s.Account(ctx, "ann@x", "A1")
	if err != nil || a.AccountCode != "A1" || !a.CashAvailable.Equal(dec("1")) {
		t.Fatalf("granted: %+v %v", a, err)
	}
	msg := func(user, code string) string {
		t.Helper()
		_, err := s.Account(ctx, user, code)
		if apperr.CodeOf(err) != apperr.NotFound {
			t.Fatalf("%s on %s: %v, want not_found", user, code, err)
		}
		return err.Error()
	}
	// A2 exists, ann has no grant; A9 does not exist; GONE: a grant on an
	// absent account. The answers differ only by the code asked for.
	existing, absent, dangling := msg("ann@x", "A2"), msg("ann@x", "A9"), msg("ann@x", "GONE")
	if existing != fmt.Sprintf("not_found: account %q not found", "A2") ||
		absent != fmt.Sprintf("not_found: account %q not found", "A9") ||
		dangling != fmt.Sprintf("not_found: account %q not found", "GONE") {
		t.Fatalf("answers differ: %q / %q / %q", existing, absent, dangling)
	}
	// Roles play no part: whoever has no grant gets 404, and an ADMIN grant
	// reaches only its own account.
	msg("adm@x", "A1")
	if a, err := s.Account(ctx, "adm@x", "A2"); err != nil || a.AccountCode != "A2" {
		t.Fatalf("admin grant: %+v %v", a, err)
	}
	msg("nobody@x", "A1")
	msg("ann@x", "")
}

func TestRiskRulesSortedWithExactValues(t *testing.T) {
	ctx := context.Background()
	st := memory.New()
	s := risk.New(st)
	rs, err := s.RiskRules(ctx)
	if err != nil || rs == nil || len(rs) != 0 {
		t.Fatalf("no rules: %#v %v", rs, err)
	}
	ors, err := s.OrderRiskRules(ctx)
	if err != nil || ors == nil || len(ors) != 0 {
		t.Fatalf("no order rules: %#v %v", ors, err)
	}
	seed(t, st, nil, nil, []store.RiskRule{
		{Kind: store.RuleShortAllowed, Scope: store.ScopeSystem, Target: "*", Value: dec("0"), UpdatedBy: "m@x", UpdatedAt: at},
		{Kind: store.RuleMarginRateSymbolISIN, Scope: store.ScopeSymbol, Target: "VN000000FPT1", Value: dec("0.35"), UpdatedBy: "m@x", UpdatedAt: at},
		{Kind: store.RuleMarginAllowed, Scope: store.ScopeAccount, Target: "A1", Value: dec("1"), UpdatedBy: "m@x", UpdatedAt: at},
	}, []store.OrderRiskRule{
		{Kind: "ORDER_BLOCK_TRADE_SYMBOL_SELL", Scope: store.ScopeAccount, Target: "A1", Match: "VN000000FPT1", Value: dec("1"), UpdatedAt: at},
		{Kind: "ORDER_BLOCK_TRADE_MARKET_ALL", Scope: store.ScopeSystem, Target: "*", Match: "UPX", Value: dec("0"), UpdatedAt: at},
	})
	rs, err = s.RiskRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, r := range rs {
		keys = append(keys, r.Kind+"/"+r.Scope+"/"+r.Target+"="+r.Value.String())
	}
	if fmt.Sprint(keys) != "[OMS_MARGIN_ALLOWED/ACCOUNT/A1=1 OMS_MARGIN_RATE_SYMBOL_ISIN/SYMBOL/VN000000FPT1=0.35 OMS_SHORT_ALLOWED/SYSTEM/*=0]" {
		t.Fatalf("rules: %v", keys)
	}
	ors, err = s.OrderRiskRules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	keys = nil
	for _, r := range ors {
		keys = append(keys, r.Kind+"/"+r.Scope+"/"+r.Target+"/"+r.Match+"="+r.Value.String())
	}
	if fmt.Sprint(keys) != "[ORDER_BLOCK_TRADE_MARKET_ALL/SYSTEM/*/UPX=0 ORDER_BLOCK_TRADE_SYMBOL_SELL/ACCOUNT/A1/VN000000FPT1=1]" {
		t.Fatalf("order rules: %v", keys)
	}
}

// down is a store whose every read fails as an unreachable backend does.
type down struct{ *memory.Store }

var errDown = fmt.Errorf("redis: connection refused: %w", store.ErrUnavailable)

func (down) GrantsOfUser(context.Context, string) ([]store.Grant, error) { return nil, errDown }
func (down) RiskRules(context.Context) ([]store.RiskRule, error)         { return nil, errDown }
func (down) OrderRiskRules(context.Context) ([]store.OrderRiskRule, error) {
	return nil, errDown
}

// A backend failure goes back unchanged (server/errors.go maps it: 503 on
// /oms/*, 502 on /orders/*), never disguised as not found or as empty.
func TestRiskStoreDownPassesThrough(t *testing.T) {
	ctx := context.Background()
	s := risk.New(down{memory.New()})
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, store.ErrUnavailable) || apperr.CodeOf(err) != "" {
			t.Fatalf("%s: %v, want store.ErrUnavailable unchanged", what, err)
		}
	}
	_, err := s.Accounts(ctx, "ann@x")
	check("accounts", err)
	_, err = s.Account(ctx, "ann@x", "A1")
	check("account", err)
	_, err = s.RiskRules(ctx)
	check("rules", err)
	_, err = s.OrderRiskRules(ctx)
	check("order rules", err)
}
