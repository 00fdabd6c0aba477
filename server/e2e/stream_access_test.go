package e2e

import (
	"errors"
	"testing"
	"time"

	centrifuge "github.com/centrifugal/centrifuge-go"
)

// Channel permissions live in the domain: an order or account channel
// needs a grant on an existing account (no grant and no account look the
// same); a channel without an account, or of no known kind, is unknown;
// market channels outside the master are not available; a bad token ends
// the connection.
func TestStreamPermissions(t *testing.T) {
	t.Parallel()
	e := start(t, "memory", withDemoData)
	tr := e.login(nil, traderEmail, traderPass).jwt
	s := e.stream(t, tr)
	cases := map[string]uint32{
		orderCh("099C999999"):        103, // no such account
		accountCh("099C999999"):      103,
		orderCh(""):                  102, // no account
		"order:Nothing:" + accountAn: 102,
		"elsewhere":                  102,
		"mkt:vnIndex:NOPE":           108, // no such index
		"mkt:depth:NOPE-G1":          108, // no such instrument
		"mkt:productStat:FPT-G9":     108, // no such board
		"mkt:OhlcvDTO:FPT:17":        108, // no such resolution
		orderCh(accountAn + ":x"):    102,
	}
	for ch := range cases {
		s.subscribe(ch)
	}
	for ch, code := range cases {
		s.within(5*time.Second, "refused "+ch, func() bool { return len(s.unsubscribed[ch]) > 0 || len(s.subErrors[ch]) > 0 })
		if got := refusal(s, ch); got != code {
			t.Errorf("%s: refused with %d, want %d (errors %v)", ch, got, code, s.subErrors[ch])
		}
	}
	// A user without a grant on the account is refused like a missing account.
	admin := e.login(nil, adminEmail, adminPass)
	revoke := map[string]any{"user_id": makerEmail, "account_code": accountAn}
	expect(t, e.do(nil, "DELETE", "/api/v1/util/admin/permissions", revoke, bearer(admin.jwt)...), 200, "")
	m := e.stream(t, e.login(nil, makerEmail, makerPass).jwt)
	m.subscribe(orderCh(accountAn))
	m.within(5*time.Second, "refused", func() bool {
		return len(m.unsubscribed[orderCh(accountAn)]) > 0 || len(m.subErrors[orderCh(accountAn)]) > 0
	})
	if got := refusal(m, orderCh(accountAn)); got != 103 {
		t.Errorf("no grant: refused with %d, want 103", got)
	}
	m.subscribeAll(orderCh(accountBinh)) // the grant it still holds

	// A bad token: disconnected with 3500 (invalid token), no reconnect.
	b := e.streamUnconnected(t, tr[:len(tr)-4]+"AAAA")
	_ = b.c.Connect()
	b.within(5*time.Second, "disconnected", func() bool { return len(b.disconnects) > 0 })
	if b.disconnects[0] != 3500 || b.c.State() != centrifuge.StateDisconnected {
		t.Errorf("bad token: disconnect %v, state %v", b.disconnects, b.c.State())
	}
}

// refusal is the code a refused subscription ended with.
func refusal(s *streamClient, ch string) uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, err := range s.subErrors[ch] {
		// centrifuge-go reports server errors as *Error (errorFromProto),
		// wrapped in a SubscriptionSubscribeError.
		var ce *centrifuge.Error
		if errors.As(err, &ce) {
			return ce.Code
		}
		var cv centrifuge.Error
		if errors.As(err, &cv) {
			return cv.Code
		}
	}
	if len(s.unsubscribed[ch]) > 0 {
		return s.unsubscribed[ch][0]
	}
	return 0
}

// Revocation reaches streams within 2 s: a revoked grant ends the
// subscription (2100, not resubscribed), logout and a disabled identity
// end the connection (4500, not reconnected).
func TestStreamRevocation(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		admin := e.login(nil, adminEmail, adminPass).jwt
		tl := e.login(nil, traderEmail, traderPass)
		s := e.stream(t, tl.jwt)
		s.subscribeAll(orderCh(accountAn), orderCh(accountBinh))

		revoke := map[string]any{"user_id": traderEmail, "account_code": accountAn}
		expect(t, e.do(nil, "DELETE", "/api/v1/util/admin/permissions", revoke, bearer(admin)...), 200, "")
		took := s.within(2*time.Second, "unsubscribed", func() bool { return len(s.unsubscribed[orderCh(accountAn)]) > 0 })
		t.Logf("%s: grant revoked → unsubscribed in %v", kind, took)
		if got := s.unsubscribed[orderCh(accountAn)]; got[0] != 2100 {
			t.Errorf("revoked grant: unsubscribed with %v, want 2100", got)
		}
		if sub, _ := s.c.GetSubscription(orderCh(accountBinh)); sub.State() != centrifuge.SubStateSubscribed {
			t.Errorf("the other account's subscription: %v", sub.State())
		}
		// Subscribing again is refused.
		sub, _ := s.c.GetSubscription(orderCh(accountAn))
		_ = sub.Subscribe()
		s.within(2*time.Second, "refused again", func() bool {
			return len(s.unsubscribed[orderCh(accountAn)]) > 1 || len(s.subErrors[orderCh(accountAn)]) > 0
		})

		expect(t, e.post(nil, "/api/auth/logout", nil, "X-Session-Token", tl.token), 204, "")
		took = s.within(2*time.Second, "disconnected", func() bool { return len(s.disconnects) > 0 })
		t.Logf("%s: logout → disconnected in %v", kind, took)
		if s.disconnects[0] != 4500 {
			t.Errorf("logout: disconnected with %v, want 4500", s.disconnects)
		}
		time.Sleep(300 * time.Millisecond)
		if st := s.c.State(); st != centrifuge.StateDisconnected {
			t.Errorf("after logout the client is %v (reconnecting?)", st)
		}

		m := e.stream(t, e.login(nil, makerEmail, makerPass).jwt)
		if _, err := e.app.Identities.DisableIdentity(t.Context(), makerEmail); err != nil {
			t.Fatal(err)
		}
		m.within(2*time.Second, "disconnected", func() bool { return len(m.disconnects) > 0 })
		if m.disconnects[0] != 4500 {
			t.Errorf("disabled identity: disconnected with %v, want 4500", m.disconnects)
		}
	})
}

// A deposit approved through the workflow produces one AccountCashReport
// with the balance GET /oms/risk/accounts/{id} reads.
func TestStreamDepositReport(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		maker, checker := e.login(nil, makerEmail, makerPass), e.login(nil, checkerEmail, checkerPass)
		s := e.stream(t, maker.jwt)
		s.subscribeAll(accountCh(accountBinh))
		r := e.fileRequest(t, maker.jwt, "DEPOSIT", map[string]any{"account_id": accountBinh, "amount": 1000000.25})
		expect(t, e.post(nil, "/api/v1/util/requests/"+wfID(t, r)+"/approve", map[string]any{"note": "ok"}, bearer(checker.jwt)...), 200, "")
		s.within(5*time.Second, "cash report", func() bool { return len(s.pubs[accountCh(accountBinh)]) > 0 })
		time.Sleep(100 * time.Millisecond) // nothing else follows
		pubs := s.received(accountCh(accountBinh))
		cash, hold, _ := e.account(t, maker.jwt, accountBinh)
		if len(pubs) != 1 || pubs[0].data["type"] != "account" || pubs[0].data["cash_available"] != cash ||
			pubs[0].data["cash_hold"] != hold || cash != 251000000.75 {
			t.Fatalf("after the deposit: %v; REST cash %v hold %v", pubs, cash, hold)
		}
	})
}
