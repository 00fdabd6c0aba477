package pretrade

import (
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/venue"
	"github.com/vero-oms/omsd/store"
)

// specificity ranks how closely a rule's (scope, target) fits an order of
// account on the instrument with isin: SYMBOL > ACCOUNT > CHANNEL > SYSTEM,
// and within a scope an exact target above "*". 0 means the rule does not
// apply.
func specificity(scope, target, account, channel, isin string) int {
	switch scope {
	case store.ScopeSymbol:
		return exactOrWild(target, isin, 8)
	case store.ScopeAccount:
		return exactOrWild(target, account, 6)
	case store.ScopeChannel:
		return exactOrWild(target, ChannelOf(channel), 4)
	case store.ScopeSystem:
		return 2
	}
	return 0
}

// exactOrWild is exact when target names want, exact-1 for "*", else 0.
// An empty want never matches exactly.
func exactOrWild(target, want string, exact int) int {
	switch {
	case target == Wildcard:
		return exact - 1
	case want != "" && target == want:
		return exact
	}
	return 0
}

// BlockSubject is what an order restriction rule of kind matches against:
// MARKET, PRODUCT_GROUP or SYMBOL; false for a kind that is not one.
func BlockSubject(kind string) (string, bool) {
	subject, _, ok := blockKind(kind)
	return subject, ok
}

// blockKind splits ORDER_BLOCK_TRADE_{subject}_{side}.
func blockKind(kind string) (subject, side string, ok bool) {
	rest, ok := strings.CutPrefix(kind, "ORDER_BLOCK_TRADE_")
	if !ok {
		return "", "", false
	}
	i := strings.LastIndexByte(rest, '_')
	if i < 0 {
		return "", "", false
	}
	subject, side = rest[:i], rest[i+1:]
	switch subject {
	case "MARKET", "PRODUCT_GROUP", "SYMBOL":
	default:
		return "", "", false
	}
	switch side {
	case "ALL", "BUY", "SELL":
	default:
		return "", "", false
	}
	return subject, side, true
}

func sideMatches(ruleSide string, side venue.Side) bool {
	switch ruleSide {
	case "ALL":
		return side == venue.Buy || side == venue.Sell
	case "BUY":
		return side == venue.Buy
	case "SELL":
		return side == venue.Sell
	}
	return false
}

func subjectMatches(subject, match string, inst market.Instrument) bool {
	if match == Wildcard {
		return true
	}
	eq := func(v string) bool { return v != "" && strings.EqualFold(match, v) }
	switch subject {
	case "MARKET":
		return eq(string(inst.Market))
	case "PRODUCT_GROUP":
		return eq(inst.ProductGroup)
	case "SYMBOL":
		return eq(inst.ISIN) || eq(inst.Ticker)
	}
	return false
}

// Blocked reports whether an active order restriction rule blocks an order
// of account, entered on channel (ChannelOf), on inst on side, and the
// most specific such rule (the first of equal rank in rules' order).
// Disabled rules (value 0) and rules of an unknown kind or scope never
// block.
func Blocked(rules []store.OrderRiskRule, account, channel string, inst market.Instrument, side venue.Side) (store.OrderRiskRule, bool) {
	var (
		best     store.OrderRiskRule
		bestRank int
	)
	for _, r := range rules {
		if r.Value.IsZero() {
			continue
		}
		subject, ruleSide, ok := blockKind(r.Kind)
		if !ok || !sideMatches(ruleSide, side) || !subjectMatches(subject, r.Match, inst) {
			continue
		}
		if rank := specificity(r.Scope, r.Target, account, channel, inst.ISIN); rank > bestRank {
			best, bestRank = r, rank
		}
	}
	return best, bestRank > 0
}

// CheckRestrictions is Blocked as a reject (-900001), nil when no rule
// blocks the order.
func CheckRestrictions(rules []store.OrderRiskRule, account, channel string, inst market.Instrument, side venue.Side) *market.Reject {
	r, ok := Blocked(rules, account, channel, inst, side)
	if !ok {
		return nil
	}
	return BlockReject(r, inst, side)
}

// BlockReject is the reject for an order blocked by rule r.
func BlockReject(r store.OrderRiskRule, inst market.Instrument, side venue.Side) *market.Reject {
	return rejectf(CodeBlocked, fmt.Sprintf("%s orders for %s on %s are blocked by rule %s (scope %s, target %s, match %s)",
		sideWord(side), inst.Ticker, inst.Market.Name(), r.Kind, r.Scope, r.Target, r.Match))
}

func sideWord(s venue.Side) string {
	switch s {
	case venue.Buy:
		return "buy"
	case venue.Sell:
		return "sell"
	}
	return s.String()
}

// OMSFlags are the OMS risk flags in force for one account and instrument.
type OMSFlags struct {
	MarginAllowed bool
	// MarginRate is the fraction of a buy's value the account must cover
	// with its own cash when MarginAllowed, in [0, 1]; 1 without a rule.
	MarginRate   decimal.Decimal
	ShortAllowed bool
}

var one = decimal.NewFromInt(1)

// Flags evaluates the OMS rules for an order of account, entered on
// channel (ChannelOf), on the instrument with isin: most specific wins
// (see the package documentation).
func Flags(rules []store.RiskRule, account, channel, isin string) OMSFlags {
	f := OMSFlags{MarginRate: one}
	var marginRank, shortRank, rateRank int
	for _, r := range rules {
		rank := specificity(r.Scope, r.Target, account, channel, isin)
		if rank == 0 {
			continue
		}
		switch r.Kind {
		case store.RuleMarginAllowed:
			f.MarginAllowed, marginRank = pickFlag(f.MarginAllowed, marginRank, r.Value, rank)
		case store.RuleShortAllowed, store.RuleShortAllowedSymbolISIN:
			f.ShortAllowed, shortRank = pickFlag(f.ShortAllowed, shortRank, r.Value, rank)
		case store.RuleMarginRateSymbolISIN:
			rate := clampRate(r.Value)
			switch {
			case rank > rateRank:
				f.MarginRate, rateRank = rate, rank
			case rank == rateRank && rate.GreaterThan(f.MarginRate):
				f.MarginRate = rate
			}
		}
	}
	return f
}

// pickFlag folds one rule into a flag: a more specific rule replaces it,
// an equally specific one can only make it restrictive.
func pickFlag(cur bool, curRank int, v decimal.Decimal, rank int) (bool, int) {
	on := v.IsPositive()
	switch {
	case rank > curRank:
		return on, rank
	case rank == curRank:
		return cur && on, rank
	}
	return cur, curRank
}

func clampRate(v decimal.Decimal) decimal.Decimal {
	switch {
	case v.IsNegative():
		return decimal.Zero
	case v.GreaterThan(one):
		return one
	}
	return v
}
