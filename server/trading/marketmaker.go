package trading

import (
	"context"
	"fmt"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/admin"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/workflow"
	"github.com/vero-oms/omsd/store"
)

// The dev market maker (OMS_DEV_MARKET_MAKER; dev mode only): an account
// with ample cash and stock that rests orders around each reference price,
// so a demo order has something to trade with. Its orders go through the
// same pipeline as anyone's (holds included).
const (
	MarketMakerAccount = "099MM00001"
	MarketMakerUser    = "dev-market-maker@oms.example"
	// marketMakerLevels is how many price levels it quotes on each side.
	marketMakerLevels = 3
)

// SeedMarketMaker creates the market maker's account (once) and rests, on
// every active instrument trading LO, asks at the reference price and the
// next ticks up and bids at the ticks below it. It returns the number of
// orders placed.
func (s *Service) SeedMarketMaker(ctx context.Context) (int, error) {
	c := admin.Change{Actor: workflow.DemoActor, At: s.now()}
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		if _, found, err := tx.Account(MarketMakerAccount); err != nil || found {
			return err
		}
		name, code, yes, typ := "Dev market maker", MarketMakerAccount, true, int32(1)
		if _, err := workflow.CreateAccount(tx, c, MarketMakerAccount, workflow.AccountFields{
			Name: &name, InternalClientCode: &code, ClientCode: &code, AccountType: &typ, IsMMAccount: &yes,
		}); err != nil {
			return err
		}
		if _, err := workflow.Deposit(tx, c, MarketMakerAccount, decimal.New(1, 13)); err != nil {
			return err
		}
		for _, in := range s.master.All() {
			if in.IsFuture() {
				continue // futures are not held, they are opened: the market maker goes short or long
			}
			if _, err := workflow.AddStock(tx, c, MarketMakerAccount, in.ISIN, 10_000_000, in.ReferencePrice); err != nil {
				return err
			}
		}
		_, err := admin.GrantPermission(tx, c, MarketMakerUser, MarketMakerAccount, store.LevelTrade)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("dev market maker account: %w", err)
	}
	placed := 0
	for _, in := range s.master.All() {
		if in.Status != market.Active || !containsType(in.OrderTypes, market.LO) || in.Expired(s.clock.TradingDate()) {
			continue
		}
		qty := min(100*in.LotSize, in.MaxOrderQty)
		qty -= qty % in.LotSize
		for _, q := range quotes(in) {
			p := q.price.String()
			if _, err := s.Submit(ctx, MarketMakerUser, NewOrder{Account: MarketMakerAccount, Symbol: in.Ticker, Side: q.side,
				Type: "LO", Price: &p, Qty: qty}); err != nil {
				return placed, fmt.Errorf("dev market maker order on %s: %w", in.Ticker, err)
			}
			placed++
		}
	}
	return placed, nil
}

type quote struct {
	side  string
	price decimal.Decimal
}

// quotes are the market maker's prices on in: asks from the reference up,
// bids from one tick below it down, all inside the band.
func quotes(in market.Instrument) []quote {
	var out []quote
	p := in.ReferencePrice
	for range marketMakerLevels {
		if p.GreaterThan(in.Ceiling) {
			break
		}
		out = append(out, quote{"S", p})
		p = p.Add(in.TickTable.TickAt(p))
	}
	p = in.ReferencePrice
	for range marketMakerLevels {
		p = p.Sub(tickBelow(in, p))
		if p.LessThan(in.Floor) {
			break
		}
		out = append(out, quote{"B", p})
	}
	return out
}

// tickBelow is the tick that applies just below p (a band edge may change
// the tick size).
func tickBelow(in market.Instrument, p decimal.Decimal) decimal.Decimal {
	t := in.TickTable.TickAt(p)
	if below := in.TickTable.TickAt(p.Sub(t)); below.LessThan(t) && !in.TickTable.OnTick(p.Sub(t)) {
		return below
	}
	return t
}

func containsType(ts []market.OrderType, t market.OrderType) bool {
	for _, x := range ts {
		if strings.EqualFold(string(x), string(t)) {
			return true
		}
	}
	return false
}
