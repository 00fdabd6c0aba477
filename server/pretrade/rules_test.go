package pretrade

import (
	"testing"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

func d(s string) decimal.Decimal { return decimal.RequireFromString(s) }

var (
	fpt = market.Instrument{Ticker: "FPT", ISIN: "VN000000FPT1", Market: market.HOSE, ProductGroup: "STO",
		ReferencePrice: d("100000"), Floor: d("93000"), Ceiling: d("107000"), LotSize: 100, MaxOrderQty: 500000, Status: market.Active}
	acv = market.Instrument{Ticker: "ACV", ISIN: "VN000000ACV6", Market: market.UPCoM, ProductGroup: "UPX",
		ReferencePrice: d("80000"), Floor: d("68000"), Ceiling: d("92000"), LotSize: 100, MaxOrderQty: 500000, Status: market.Active}
	fut = market.Instrument{Ticker: "VN30F2612", ISIN: "VN41I1G20009", Market: market.Deriv, ProductGroup: "FIO",
		ReferencePrice: d("1300"), Floor: d("1209"), Ceiling: d("1391"), LotSize: 1, MaxOrderQty: 500, Status: market.Active}
)

func orule(kind, scope, target, match string, v int64) store.OrderRiskRule {
	return store.OrderRiskRule{Kind: kind, Scope: scope, Target: target, Match: match, Value: decimal.NewFromInt(v)}
}

func TestBlocked(t *testing.T) {
	const acc = "099C000001"
	for _, c := range []struct {
		name  string
		rules []store.OrderRiskRule
		inst  market.Instrument
		side  venue.Side
		want  int // index of the reported rule, -1 = not blocked
	}{
		{"no rules", nil, fpt, venue.Buy, -1},
		{"brief example: UPCoM blocked", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "SYSTEM", "*", "UPX", 1)}, acv, venue.Sell, 0},
		{"market rule other market", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "SYSTEM", "*", "UPX", 1)}, fpt, venue.Buy, -1},
		{"market match is case-insensitive", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_BUY", "SYSTEM", "*", "sto", 1)}, fpt, venue.Buy, 0},
		{"disabled rule", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "SYSTEM", "*", "UPX", 0)}, acv, venue.Buy, -1},
		{"non-zero value blocks (fail closed)", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "SYSTEM", "*", "UPX", 2)}, acv, venue.Buy, 0},
		{"buy-only rule, sell order", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_SYMBOL_BUY", "SYSTEM", "*", "VN000000FPT1", 1)}, fpt, venue.Sell, -1},
		{"buy-only rule, buy order", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_SYMBOL_BUY", "SYSTEM", "*", "VN000000FPT1", 1)}, fpt, venue.Buy, 0},
		{"sell-only rule, sell order", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_SYMBOL_SELL", "SYSTEM", "*", "VN000000FPT1", 1)}, fpt, venue.Sell, 0},
		{"sell-only rule, buy order", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_SYMBOL_SELL", "SYSTEM", "*", "VN000000FPT1", 1)}, fpt, venue.Buy, -1},
		{"symbol by ticker", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_SYMBOL_ALL", "SYSTEM", "*", "FPT", 1)}, fpt, venue.Buy, 0},
		{"symbol other ISIN", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_SYMBOL_ALL", "SYSTEM", "*", "VN000000VNM8", 1)}, fpt, venue.Buy, -1},
		{"product group", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_PRODUCT_GROUP_ALL", "SYSTEM", "*", "FIO", 1)}, fut, venue.Buy, 0},
		{"product group other", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_PRODUCT_GROUP_ALL", "SYSTEM", "*", "FIO", 1)}, fpt, venue.Buy, -1},
		{"match wildcard", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_SELL", "SYSTEM", "*", "*", 1)}, fut, venue.Sell, 0},
		{"account scope, this account", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "ACCOUNT", acc, "STO", 1)}, fpt, venue.Buy, 0},
		{"account scope, other account", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "ACCOUNT", "099C000002", "STO", 1)}, fpt, venue.Buy, -1},
		{"account scope, any account", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "ACCOUNT", "*", "STO", 1)}, fpt, venue.Buy, 0},
		{"channel REST", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "CHANNEL", "REST", "STO", 1)}, fpt, venue.Buy, 0},
		{"channel *", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "CHANNEL", "*", "STO", 1)}, fpt, venue.Buy, 0},
		{"channel FIX, a REST order", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "CHANNEL", "FIX", "STO", 1)}, fpt, venue.Buy, -1},
		{"symbol scope, this ISIN", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "SYMBOL", "VN000000FPT1", "STO", 1)}, fpt, venue.Buy, 0},
		{"symbol scope, other ISIN", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "SYMBOL", "VN000000VNM8", "STO", 1)}, fpt, venue.Buy, -1},
		{"system target ignored", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "SYSTEM", "x", "STO", 1)}, fpt, venue.Buy, 0},
		{"unknown kind", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_BOARD_ALL", "SYSTEM", "*", "*", 1)}, fpt, venue.Buy, -1},
		{"unknown scope", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "GALAXY", "*", "*", 1)}, fpt, venue.Buy, -1},
		{"side none never blocked", []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "SYSTEM", "*", "*", 1)}, fpt, venue.SideNone, -1},
		{"most specific reported", []store.OrderRiskRule{
			orule("ORDER_BLOCK_TRADE_MARKET_ALL", "SYSTEM", "*", "STO", 1),
			orule("ORDER_BLOCK_TRADE_MARKET_ALL", "ACCOUNT", "*", "STO", 1),
			orule("ORDER_BLOCK_TRADE_SYMBOL_ALL", "ACCOUNT", acc, "FPT", 1),
			orule("ORDER_BLOCK_TRADE_MARKET_ALL", "CHANNEL", "REST", "STO", 1),
		}, fpt, venue.Buy, 2},
		{"disabled specific rule does not unblock a general one", []store.OrderRiskRule{
			orule("ORDER_BLOCK_TRADE_MARKET_ALL", "SYSTEM", "*", "STO", 1),
			orule("ORDER_BLOCK_TRADE_MARKET_ALL", "ACCOUNT", acc, "STO", 0),
		}, fpt, venue.Buy, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := Blocked(c.rules, acc, "", c.inst, c.side)
			if c.want < 0 {
				if ok {
					t.Fatalf("blocked by %+v, want not blocked", got)
				}
				if r := CheckRestrictions(c.rules, acc, "", c.inst, c.side); r != nil {
					t.Fatalf("CheckRestrictions = %v", r)
				}
				return
			}
			if !ok || got != c.rules[c.want] {
				t.Fatalf("Blocked = %+v, %v; want %+v", got, ok, c.rules[c.want])
			}
			r := CheckRestrictions(c.rules, acc, "", c.inst, c.side)
			if r == nil || r.Code != CodeBlocked {
				t.Fatalf("CheckRestrictions = %v, want code %d", r, CodeBlocked)
			}
		})
	}
}

func rule(kind, scope, target, v string) store.RiskRule {
	return store.RiskRule{Kind: kind, Scope: scope, Target: target, Value: d(v)}
}

func TestFlags(t *testing.T) {
	const acc, isin = "099C000001", "VN000000FPT1"
	const (
		margin  = store.RuleMarginAllowed
		short   = store.RuleShortAllowed
		rate    = store.RuleMarginRateSymbolISIN
		shortSy = store.RuleShortAllowedSymbolISIN
	)
	for _, c := range []struct {
		name          string
		rules         []store.RiskRule
		margin, short bool
		rate          string
	}{
		{"defaults", nil, false, false, "1"},
		{"system allows", []store.RiskRule{rule(margin, "SYSTEM", "*", "1"), rule(short, "SYSTEM", "*", "1")}, true, true, "1"},
		{"account overrides system", []store.RiskRule{rule(margin, "SYSTEM", "*", "1"), rule(margin, "ACCOUNT", acc, "0")}, false, false, "1"},
		{"account allows over system deny", []store.RiskRule{rule(margin, "SYSTEM", "*", "0"), rule(margin, "ACCOUNT", acc, "1")}, true, false, "1"},
		{"other account ignored", []store.RiskRule{rule(margin, "SYSTEM", "*", "1"), rule(margin, "ACCOUNT", "099C000002", "0")}, true, false, "1"},
		{"account exact beats account *", []store.RiskRule{rule(short, "ACCOUNT", "*", "0"), rule(short, "ACCOUNT", acc, "1")}, false, true, "1"},
		{"channel between account and system", []store.RiskRule{rule(short, "SYSTEM", "*", "1"), rule(short, "CHANNEL", "REST", "0")}, false, false, "1"},
		{"account beats channel", []store.RiskRule{rule(short, "CHANNEL", "*", "0"), rule(short, "ACCOUNT", acc, "1")}, false, true, "1"},
		{"foreign channel ignored", []store.RiskRule{rule(short, "SYSTEM", "*", "1"), rule(short, "CHANNEL", "FIX", "0")}, false, true, "1"},
		{"symbol short beats account", []store.RiskRule{rule(short, "ACCOUNT", acc, "1"), rule(shortSy, "SYMBOL", isin, "0")}, false, false, "1"},
		{"symbol short * beats account", []store.RiskRule{rule(short, "ACCOUNT", acc, "0"), rule(shortSy, "SYMBOL", "*", "1")}, false, true, "1"},
		{"symbol exact beats symbol *", []store.RiskRule{rule(shortSy, "SYMBOL", "*", "0"), rule(shortSy, "SYMBOL", isin, "1")}, false, true, "1"},
		{"other ISIN ignored", []store.RiskRule{rule(short, "SYSTEM", "*", "1"), rule(shortSy, "SYMBOL", "VN000000VNM8", "0")}, false, true, "1"},
		{"tie: restrictive wins", []store.RiskRule{rule(short, "SYMBOL", isin, "1"), rule(shortSy, "SYMBOL", isin, "0")}, false, false, "1"},
		{"rate as fraction", []store.RiskRule{rule(margin, "SYSTEM", "*", "1"), rule(rate, "SYMBOL", "*", "0.5")}, true, false, "0.5"},
		{"rate exact ISIN beats *", []store.RiskRule{rule(rate, "SYMBOL", "*", "0.5"), rule(rate, "SYMBOL", isin, "0.3")}, false, false, "0.3"},
		{"rate clamped", []store.RiskRule{rule(rate, "SYMBOL", isin, "50")}, false, false, "1"},
		{"rate negative clamped", []store.RiskRule{rule(rate, "SYMBOL", isin, "-0.2")}, false, false, "0"},
		{"rate tie: higher wins", []store.RiskRule{rule(rate, "SYMBOL", isin, "0.3"), rule(rate, "SYMBOL", isin, "0.6")}, false, false, "0.6"},
		{"unknown kind ignored", []store.RiskRule{rule("OMS_OTHER", "SYSTEM", "*", "1")}, false, false, "1"},
		{"negative flag is false", []store.RiskRule{rule(margin, "SYSTEM", "*", "-1")}, false, false, "1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := Flags(c.rules, acc, "", isin)
			if f.MarginAllowed != c.margin || f.ShortAllowed != c.short || !f.MarginRate.Equal(d(c.rate)) {
				t.Fatalf("Flags = %+v (rate %s), want margin %v short %v rate %s", f, f.MarginRate, c.margin, c.short, c.rate)
			}
		})
	}
}

// A CHANNEL rule applies to the orders of its channel: an order records
// the channel it came in on ("" is REST).
func TestChannelRules(t *testing.T) {
	const acc = "099C000001"
	blockFIX := []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "CHANNEL", ChannelFIX, "*", 1)}
	blockREST := []store.OrderRiskRule{orule("ORDER_BLOCK_TRADE_MARKET_ALL", "CHANNEL", ChannelREST, "*", 1)}
	for _, c := range []struct {
		rules   []store.OrderRiskRule
		channel string
		blocked bool
	}{
		{blockFIX, ChannelFIX, true},
		{blockFIX, ChannelREST, false},
		{blockFIX, "", false},
		{blockREST, "", true},
		{blockREST, ChannelFIX, false},
	} {
		if _, got := Blocked(c.rules, acc, c.channel, fpt, venue.Buy); got != c.blocked {
			t.Errorf("rule on %s, order on %q: blocked %v, want %v", c.rules[0].Target, c.channel, got, c.blocked)
		}
	}
	shortOnFIX := []store.RiskRule{rule(store.RuleShortAllowed, "SYSTEM", "*", "1"), rule(store.RuleShortAllowed, "CHANNEL", ChannelFIX, "0")}
	if f := Flags(shortOnFIX, acc, ChannelFIX, fpt.ISIN); f.ShortAllowed {
		t.Error("a FIX order may short against a CHANNEL FIX rule that forbids it")
	}
	if f := Flags(shortOnFIX, acc, "", fpt.ISIN); !f.ShortAllowed {
		t.Error("a REST order is held to a CHANNEL FIX rule")
	}
}
