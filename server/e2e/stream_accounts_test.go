package e2e

import (
	"encoding/json"
	"slices"
	"testing"
	"time"

	centrifuge "github.com/centrifugal/centrifuge-go"
)

// "All my accounts": a client that connects with {"accounts":"all"} is
// subscribed by the server to the order and account channels of each
// account it holds a grant on (the reply's data lists them), receives the
// reports there, loses an account's channels when its grant is revoked and
// gets them again when it is granted again, within 2 s each.
func TestStreamAllMyAccounts(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		admin := e.login(nil, adminEmail, adminPass).jwt
		tr := e.login(nil, traderEmail, traderPass).jwt
		mine := grantedAccounts(t, e, tr)
		if !slices.Contains(mine, accountAn) || !slices.Contains(mine, accountBinh) {
			t.Fatalf("the demo trader's grants: %v", mine)
		}

		s := e.streamWithData(t, tr, []byte(`{"accounts":"all"}`))
		s.connect()
		var info struct{ Accounts []string }
		if err := json.Unmarshal(s.connectData, &info); err != nil || !slices.Equal(info.Accounts, mine) {
			t.Fatalf("connect reply data %s (%v), want the accounts %v", s.connectData, err, mine)
		}
		for _, a := range mine {
			s.within(5*time.Second, "server-side subscriptions of "+a, func() bool {
				return s.serverSubs[orderCh(a)] == 1 && s.serverSubs[accountCh(a)] == 1
			})
		}

		// The client's own subscription to a channel the server subscribed
		// is refused, 105 already subscribed; the client then removes it
		// (centrifuge-go hands a channel's publications to a client-side
		// subscription of it when there is one, even an unsubscribed one).
		own := s.subscribe(orderCh(accountBinh))
		s.within(2*time.Second, "the client's own subscription refused", func() bool {
			return len(s.unsubscribed[orderCh(accountBinh)]) > 0
		})
		s.mu.Lock()
		got := slices.Clone(s.unsubscribed[orderCh(accountBinh)])
		s.mu.Unlock()
		if got[0] != 105 {
			t.Fatalf("the client's own subscription to a server-side channel: unsubscribed with %v, want 105", got)
		}
		if err := s.c.RemoveSubscription(own); err != nil {
			t.Fatal(err)
		}

		e.fillPairs(t, tr, "all", 1)
		s.within(5*time.Second, "An's fill", lastFilled(s, orderCh(accountAn), "all-b0"))
		s.within(5*time.Second, "Binh's fill", lastFilled(s, orderCh(accountBinh), "all-s0"))
		s.within(5*time.Second, "An's cash", func() bool { return len(s.pubs[accountCh(accountAn)]) > 0 })

		// Recovery: what fills while the client is away comes on reconnect,
		// in order, none twice.
		if err := s.c.Disconnect(); err != nil {
			t.Fatal(err)
		}
		e.fillPairs(t, tr, "away", 5)
		s.connect()
		s.within(5*time.Second, "the missed fills", lastFilled(s, orderCh(accountAn), "away-b4"))
		s.mu.Lock()
		if !s.recovered[orderCh(accountAn)] {
			t.Errorf("An's order channel was not recovered on reconnect")
		}
		var filled []string
		for _, p := range s.pubs[orderCh(accountAn)] {
			if p.data["orderStatus"] == "FILLED" {
				filled = append(filled, p.data["originalReqID"].(string))
			}
		}
		s.mu.Unlock()
		if want := []string{"all-b0", "away-b0", "away-b1", "away-b2", "away-b3", "away-b4"}; !slices.Equal(filled, want) {
			t.Fatalf("An's fills after the reconnect: %v, want %v", filled, want)
		}

		s.mu.Lock()
		subs := s.serverSubs[orderCh(accountAn)] // 2: connected, reconnected
		s.mu.Unlock()
		grant := map[string]any{"user_id": traderEmail, "account_code": accountAn}
		expect(t, e.do(nil, "DELETE", "/api/v1/util/admin/permissions", grant, bearer(admin)...), 200, "")
		took := s.within(2*time.Second, "An's channels ended", func() bool {
			return s.serverUnsubs[orderCh(accountAn)] == 1 && s.serverUnsubs[accountCh(accountAn)] == 1
		})
		t.Logf("%s: grant revoked → server-side subscriptions ended in %v", kind, took)
		s.mu.Lock()
		binhEnded := s.serverUnsubs[orderCh(accountBinh)]
		s.mu.Unlock()
		if binhEnded != 0 {
			t.Fatalf("Binh's channels ended too (%d)", binhEnded)
		}

		grant["level"] = "TRADE"
		expect(t, e.post(nil, "/api/v1/util/admin/permissions", grant, bearer(admin)...), 200, "")
		took = s.within(2*time.Second, "An's channels again", func() bool {
			return s.serverSubs[orderCh(accountAn)] == subs+1 && s.serverSubs[accountCh(accountAn)] == subs+1
		})
		t.Logf("%s: granted again → subscribed again in %v", kind, took)
		e.fillPairs(t, tr, "again", 1)
		s.within(5*time.Second, "An's fill after the new grant", lastFilled(s, orderCh(accountAn), "again-b0"))
	})
}

// Connect data other than {"accounts":"all"} ends the connection with
// 3501 and the reason, and the client does not try again; without data a
// client gets no server-side subscription.
func TestStreamConnectData(t *testing.T) {
	t.Parallel()
	e := start(t, "memory", withDemoData)
	tr := e.login(nil, traderEmail, traderPass).jwt
	for _, data := range []string{`{"accounts":"mine"}`, `{"accounts":"all","x":1}`, `[]`, `not json`, `{"accounts":"all"} {}`} {
		s := e.streamWithData(t, tr, []byte(data))
		if err := s.c.Connect(); err != nil {
			t.Fatal(err)
		}
		s.within(2*time.Second, "disconnected for "+data, func() bool { return len(s.disconnects) > 0 })
		time.Sleep(300 * time.Millisecond)
		if s.disconnects[0] != 3501 || s.connected != 0 || s.c.State() != centrifuge.StateDisconnected {
			t.Errorf("connect data %s: disconnects %v, connected %d times, state %v; want 3501 once, never connected",
				data, s.disconnects, s.connected, s.c.State())
		}
	}
	s := e.stream(t, tr)
	time.Sleep(300 * time.Millisecond)
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.serverSubs) != 0 || len(s.connectData) != 0 {
		t.Fatalf("without connect data: server-side subscriptions %v, reply data %s", s.serverSubs, s.connectData)
	}
}

// grantedAccounts lists, in code order, the accounts of jwt's grants
// (GET /api/v1/util/permissions).
func grantedAccounts(t *testing.T, e *env, jwt string) []string {
	t.Helper()
	m := expect(t, e.do(nil, "GET", "/api/v1/util/permissions", nil, bearer(jwt)...), 200, "")
	var out []string
	for _, g := range m["grants"].([]any) {
		out = append(out, g.(map[string]any)["account_code"].(string))
	}
	slices.Sort(out)
	return out
}
