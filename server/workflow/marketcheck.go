package workflow

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/store"
)

// Instruments is what the workflow reads of the instrument master.
type Instruments interface {
	ByISIN(isin string) (market.Instrument, bool)
	ByTicker(ticker string) (market.Instrument, bool)
	All() []market.Instrument
}

// WithInstruments returns s checking what requests name of the market
// (stock changes, rule targets and matches) against the instrument master
// m (marketChecked).
func (s *Service) WithInstruments(m Instruments) *Service {
	c := *s
	c.instruments = m
	return &c
}

// marketChecked is a change whose payload names instruments, markets or
// product groups. checkMarket refuses one that would act on nothing (a
// rule no order can match, shares no order can sell) or break the books;
// it runs when the request is made and again when it is applied (the
// master may differ by then, or the request was made without it). Without
// the master it accepts everything.
type marketChecked interface {
	checkMarket(s *Service) error
}

// lookup finds symbol by ISIN, else by ticker.
func (s *Service) lookup(symbol string) (in market.Instrument, byISIN, byTicker bool) {
	if in, ok := s.instruments.ByISIN(symbol); ok {
		return in, true, false
	}
	in, ok := s.instruments.ByTicker(symbol)
	return in, false, ok
}

// checkStockSymbol refuses the symbol of a stock change that would make a
// position nothing can trade or that breaks the books:
//   - a future (by ISIN or ticker): a futures position comes only from
//     trades; its margin and mark-to-market basis move with it, and
//     contracts added by hand would have neither, so the next
//     mark-to-market would pay their whole value into cash;
//   - a ticker: holdings are kept by ISIN, so shares added under a ticker
//     would be a second position no order can sell;
//   - for ADD_STOCK, a symbol the master does not list (nothing could
//     trade or value it). REMOVE_STOCK of one is allowed: it takes away
//     shares of an instrument that has left the master.
func (s *Service) checkStockSymbol(symbol string, adding bool) error {
	if s.instruments == nil {
		return nil
	}
	in, byISIN, byTicker := s.lookup(symbol)
	switch {
	case (byISIN || byTicker) && in.Market == market.Deriv:
		return invalid(fmt.Sprintf("payload.symbol %s is a future (%s): ADD_STOCK and REMOVE_STOCK move shares; a futures position comes only from trades", symbol, in.Ticker))
	case byTicker:
		return invalid(fmt.Sprintf("payload.symbol %s is a ticker: holdings are kept by ISIN; use %s", symbol, in.ISIN))
	case !byISIN && adding:
		return invalid(fmt.Sprintf("payload.symbol %s is not an instrument of the market: ADD_STOCK takes the ISIN of a listed stock", symbol))
	}
	return nil
}

// checkRuleTarget refuses a rule target its scope can never match (the
// rule would be stored and silently apply to nothing): a SYSTEM rule
// targets "*"; a SYMBOL rule "*" or the ISIN of a listed instrument (the
// target is compared with the order's ISIN, so a ticker would match
// nothing); a CHANNEL rule "*" or a channel orders come in on. An
// ACCOUNT target is checked when the rule is applied (the account must
// exist then: checkRuleAccount).
func (s *Service) checkRuleTarget(scope, target string) error {
	if target == pretrade.Wildcard {
		return nil
	}
	switch scope {
	case store.ScopeSystem:
		return invalid(fmt.Sprintf("payload.target must be * for scope SYSTEM (a SYSTEM rule covers every account, channel and instrument), got %q", target))
	case store.ScopeChannel:
		if !slices.Contains(pretrade.Channels, target) {
			return invalid(fmt.Sprintf("payload.target %q is not a channel: CHANNEL rules target * or one of %s", target, strings.Join(pretrade.Channels, ", ")))
		}
	case store.ScopeSymbol:
		if s.instruments == nil {
			return nil
		}
		switch in, byISIN, byTicker := s.lookup(target); {
		case byTicker:
			return invalid(fmt.Sprintf("payload.target %s is a ticker: SYMBOL rules target an ISIN; use %s", target, in.ISIN))
		case !byISIN:
			return invalid(fmt.Sprintf("payload.target %s is not an instrument of the market: SYMBOL rules target * or a listed ISIN", target))
		}
	}
	return nil
}

// checkRuleAccount refuses an ACCOUNT rule whose target account does not
// exist when the rule is applied.
func checkRuleAccount(tx store.BackOfficeTx, scope, target string) error {
	if scope != store.ScopeAccount || target == pretrade.Wildcard {
		return nil
	}
	if _, found, err := tx.Account(target); err != nil || found {
		return err
	}
	return invalid(fmt.Sprintf("payload.target %q is not an account: ACCOUNT rules target * or an account code", target))
}

// checkRuleMatch refuses the match of an order restriction rule that no
// order can match: by the kind's subject, a market id (STO, STX, UPX,
// DVX), a product group of the master, or an ISIN or ticker of the
// master; "*" matches every order. Case does not matter, as in matching.
func (s *Service) checkRuleMatch(kind, match string) error {
	subject, ok := pretrade.BlockSubject(kind)
	if !ok || match == pretrade.Wildcard {
		return nil
	}
	switch subject {
	case "MARKET":
		ids := make([]string, len(market.Markets))
		for i, m := range market.Markets {
			ids[i] = string(m)
		}
		if !slices.ContainsFunc(ids, func(id string) bool { return strings.EqualFold(id, match) }) {
			return invalid(fmt.Sprintf("payload.match %q is not a market id: %s rules match * or one of %s", match, kind, strings.Join(ids, ", ")))
		}
	case "PRODUCT_GROUP":
		if s.instruments == nil {
			return nil
		}
		groups := s.productGroups()
		if !slices.ContainsFunc(groups, func(g string) bool { return strings.EqualFold(g, match) }) {
			return invalid(fmt.Sprintf("payload.match %q is not a product group of the market: %s rules match * or one of %s", match, kind, strings.Join(groups, ", ")))
		}
	case "SYMBOL":
		if s.instruments == nil {
			return nil
		}
		if _, byISIN, byTicker := s.lookup(match); !byISIN && !byTicker {
			if _, byISIN, byTicker = s.lookup(strings.ToUpper(match)); !byISIN && !byTicker {
				return invalid(fmt.Sprintf("payload.match %q is not an instrument of the market: %s rules match * or a listed ISIN or ticker", match, kind))
			}
		}
	}
	return nil
}

// productGroups are the master's product groups, sorted.
func (s *Service) productGroups() []string {
	var out []string
	for _, in := range s.instruments.All() {
		if in.ProductGroup != "" && !slices.Contains(out, in.ProductGroup) {
			out = append(out, in.ProductGroup)
		}
	}
	slices.Sort(out)
	return out
}
