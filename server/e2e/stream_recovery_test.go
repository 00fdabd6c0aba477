package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/cli"
)

// fillPairs has Binh rest a sell of 100 HPG and An take it, n times: four
// order reports (two per account) and account reports per pair.
func (e *env) fillPairs(t *testing.T, jwt, prefix string, n int) {
	t.Helper()
	for i := range n {
		e.order(t, jwt, lo(accountBinh, "HPG", "S", 100, "27500", fmt.Sprintf("%s-s%d", prefix, i)))
		e.order(t, jwt, lo(accountAn, "HPG", "B", 100, "27500", fmt.Sprintf("%s-b%d", prefix, i)))
	}
}

// wantAllFilled checks each of the n pairs' orders was reported exactly
// as it happened, once, in order.
func wantAllFilled(t *testing.T, s *streamClient, prefix string, n int) {
	t.Helper()
	binh, an := s.received(orderCh(accountBinh)), s.received(orderCh(accountAn))
	wantContiguous(t, orderCh(accountBinh), binh)
	wantContiguous(t, orderCh(accountAn), an)
	for i := range n {
		if got := statuses(binh, fmt.Sprintf("%s-s%d", prefix, i)); !slices.Equal(got, []string{"NEW", "FILLED"}) {
			t.Fatalf("sell %d: %v", i, got)
		}
		if got := statuses(an, fmt.Sprintf("%s-b%d", prefix, i)); !slices.Equal(got, []string{"PENDING_NEW", "FILLED"}) {
			t.Fatalf("buy %d: %v", i, got)
		}
	}
}

func lastFilled(s *streamClient, ch, reqID string) func() bool {
	return func() bool { return slices.Contains(statuses(s.pubs[ch], reqID), "FILLED") }
}

// A client that drops its connection while 200 orders fill, then
// reconnects, recovers every report it missed, in order, none twice.
func TestStreamRecovery(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		tr := e.login(nil, traderEmail, traderPass).jwt
		s := e.stream(t, tr)
		chans := []string{orderCh(accountAn), orderCh(accountBinh), accountCh(accountAn), accountCh(accountBinh)}
		s.subscribeAll(chans...)
		e.fillPairs(t, tr, "before", 2)
		s.within(5*time.Second, "live reports", lastFilled(s, orderCh(accountAn), "before-b1"))

		if err := s.c.Disconnect(); err != nil {
			t.Fatal(err)
		}
		e.fillPairs(t, tr, "away", 100)
		e.published(t)
		s.connect()
		for _, ch := range chans {
			s.within(5*time.Second, "resubscribed to "+ch, func() bool { return len(s.subscribed[ch]) == 2 })
			if ev := s.subscribed[ch][1]; !ev.WasRecovering || !ev.Recovered {
				t.Fatalf("%s: resubscribed without recovery: %+v", ch, ev)
			}
		}
		s.within(10*time.Second, "recovered", lastFilled(s, orderCh(accountAn), "away-b99"))
		s.within(10*time.Second, "recovered", lastFilled(s, orderCh(accountBinh), "away-s99"))
		s.settle()
		wantAllFilled(t, s, "before", 2)
		wantAllFilled(t, s, "away", 100)
		for _, acct := range []string{accountAn, accountBinh} {
			wantContiguous(t, accountCh(acct), s.received(accountCh(acct)))
			wantAccountReports(t, e, tr, acct, s.received(accountCh(acct)))
		}
	})
}

// A position that fell out of history is not recovered, and the client is
// told so (it reloads the snapshot over REST).
func TestStreamRecoveryFailsPastHistory(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData, func(c *cli.Config) { c.StreamHistorySize = 5 })
		tr := e.login(nil, traderEmail, traderPass).jwt
		s := e.stream(t, tr)
		s.subscribeAll(orderCh(accountAn))
		e.fillPairs(t, tr, "before", 1)
		s.within(5*time.Second, "live reports", lastFilled(s, orderCh(accountAn), "before-b0"))
		if err := s.c.Disconnect(); err != nil {
			t.Fatal(err)
		}
		e.fillPairs(t, tr, "away", 10)
		e.published(t)
		s.connect()
		s.within(5*time.Second, "resubscribed", func() bool { return len(s.subscribed[orderCh(accountAn)]) == 2 })
		if ev := s.subscribed[orderCh(accountAn)][1]; !ev.WasRecovering || ev.Recovered {
			t.Fatalf("recovery past the history: %+v", ev)
		}
	})
}

// Two instances on one Redis: a client of the instance without the venue
// receives, in order, the reports of orders matched on the venue owner.
func TestStreamAcrossInstances(t *testing.T) {
	t.Parallel()
	a := start(t, "redis", withDemoData)
	b := start(t, "memory", func(c *cli.Config) {
		c.RedisURL, c.RedisPrefix, c.DevRedis, c.KeyFile, c.Venue = a.cfg.RedisURL, a.cfg.RedisPrefix, true, a.cfg.KeyFile, "off"
	})
	s := b.stream(t, b.login(nil, traderEmail, traderPass).jwt)
	s.subscribeAll(orderCh(accountAn), orderCh(accountBinh))
	tr := a.login(nil, traderEmail, traderPass).jwt
	a.fillPairs(t, tr, "x", 20)
	s.within(10*time.Second, "reports from the other instance", lastFilled(s, orderCh(accountAn), "x-b19"))
	s.within(10*time.Second, "reports from the other instance", lastFilled(s, orderCh(accountBinh), "x-s19"))
	wantAllFilled(t, s, "x", 20)
	if n := b.app.Stream.Published(); n != 0 {
		t.Errorf("the venue-off instance published %d entries", n)
	}
}

// A deposit approved on an OMS_VENUE=off instance reaches the stream at
// once: its commit wakes the venue owner's publisher (its poll here is an
// hour, so nothing else would).
func TestStreamDepositAcrossInstances(t *testing.T) {
	t.Parallel()
	a := start(t, "redis", withDemoData, func(c *cli.Config) { c.StreamOutboxPoll = time.Hour })
	b := start(t, "memory", func(c *cli.Config) {
		c.RedisURL, c.RedisPrefix, c.DevRedis, c.KeyFile, c.Venue = a.cfg.RedisURL, a.cfg.RedisPrefix, true, a.cfg.KeyFile, "off"
	})
	maker, checker := b.login(nil, makerEmail, makerPass), b.login(nil, checkerEmail, checkerPass)
	s := b.stream(t, maker.jwt)
	// No wait for the owner's subscription: the subscription itself wakes
	// the publisher once, for anything committed before it.
	s.subscribeAll(accountCh(accountBinh))
	r := b.fileRequest(t, maker.jwt, "DEPOSIT", map[string]any{"account_id": accountBinh, "amount": 1000000.25})
	expect(t, b.post(nil, "/api/v1/util/requests/"+wfID(t, r)+"/approve", map[string]any{"note": "ok"}, bearer(checker.jwt)...), 200, "")
	s.within(2*time.Second, "the cash report of a deposit approved on the other instance",
		func() bool { return len(s.pubs[accountCh(accountBinh)]) > 0 })
	pubs := s.received(accountCh(accountBinh))
	if cash, _, _ := b.account(t, maker.jwt, accountBinh); pubs[0].data["cash_available"] != cash || cash != 251000000.75 {
		t.Fatalf("after the deposit: %v; REST cash %v", pubs, cash)
	}
}
