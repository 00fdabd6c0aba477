package redis_test

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// The documented back-office layout: everything under the {bo} tag, no TTL,
// audit entries keyed by id with their detail kept as a string.
func TestBackOfficeKeyLayout(t *testing.T) {
	srv := redistest.SharedRedis(t)
	raw := srv.NewClient(t)
	s, p := open(t, srv, redis.Options{URL: srv.URL()})
	ctx, now := t.Context(), time.Now()
	audit := func(action, entity string) store.AuditEntry {
		return store.AuditEntry{Actor: "maker@example.com", Action: action, EntityID: entity, Detail: json.RawMessage(`{"v": 1}`), CreatedAt: now}
	}

	_, _, err := s.PutReferenceValue(ctx, store.ReferenceValue{Kind: store.RefCompID, Value: "VOS", CreatedAt: now}, audit("REFERENCE_ADDED", "comp_id:VOS"))
	must(t, err)
	_, _, err = s.PutReferenceValue(ctx, store.ReferenceValue{Kind: store.RefSenderSubID, Value: "00991", CreatedAt: now}, audit("REFERENCE_ADDED", "sender_sub_id:00991"))
	must(t, err)
	_, _, err = s.PutFirmTrader(ctx, store.FirmTrader{FirmID: "011", TraderID: "00111", CreatedAt: now}, audit("FIRM_TRADER_ADDED", "011:00111"))
	must(t, err)
	_, err = s.DeleteReferenceValue(ctx, store.RefSenderSubID, "00991", audit("REFERENCE_REMOVED", "sender_sub_id:00991"))
	must(t, err)
	var req store.WorkflowRequest
	written, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		if err := tx.PutAccount(store.Account{AccountCode: "A1", CashAvailable: decimal.RequireFromString("123456789012345.6789"), CreatedAt: now}); err != nil {
			return err
		}
		if err := tx.PutGrant(store.Grant{UserID: "ann@example.com", AccountCode: "A1", Level: store.LevelTrade, CreatedAt: now}); err != nil {
			return err
		}
		var err error
		if req, err = tx.NewRequest(store.WorkflowRequest{Type: "ACCOUNT_UPDATE", Payload: json.RawMessage(`{ "code": "A1" }`), Status: store.StatusPending, RequestedBy: "maker@example.com", CreatedAt: now}); err != nil {
			return err
		}
		tx.Audit(audit("ACCOUNT_CREATED", "A1"))
		return nil
	})
	must(t, err)
	if len(written) != 1 || written[0].ID != 5 {
		t.Errorf("back-office audit entries %+v, want one with ID 5", written)
	}
	if req.ID != 1 {
		t.Errorf("first request ID %d, want 1", req.ID)
	}

	keys, err := raw.Keys(ctx, p+"*").Result()
	must(t, err)
	slices.Sort(keys)
	want := []string{p + "{bo}:accounts", p + "{bo}:audit", p + "{bo}:audit-seq", p + "{bo}:firm-traders",
		p + "{bo}:grants", p + "{bo}:grants-of:ann@example.com", p + "{bo}:outbox", p + "{bo}:outbox-seq",
		p + "{bo}:ref:comp_id", p + "{bo}:request-seq", p + "{bo}:requests"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys\n got %q\nwant %q", keys, want)
	}
	for _, k := range keys {
		if n := pttl(t, raw, k); n != -1 {
			t.Errorf("PTTL %s = %d, want -1 (durable)", k, n)
		}
	}
	if v := get(t, raw, p+"{bo}:audit-seq"); v != "5" {
		t.Errorf("audit-seq = %s, want 5", v)
	}
	if v := get(t, raw, p+"{bo}:request-seq"); v != "1" {
		t.Errorf("request-seq = %s, want 1", v)
	}
	ids, err := raw.HKeys(ctx, p+"{bo}:audit").Result()
	must(t, err)
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"1", "2", "3", "4", "5"}) {
		t.Errorf("audit ids %q", ids)
	}
	entry, err := raw.HGet(ctx, p+"{bo}:audit", "4").Result()
	must(t, err)
	if !strings.Contains(entry, `"action":"REFERENCE_REMOVED"`) || !strings.Contains(entry, `"detail":"{\"v\": 1}"`) {
		t.Errorf("audit entry 4 = %s", entry)
	}
	if ok, err := raw.HExists(ctx, p+"{bo}:firm-traders", "011\x0000111").Result(); err != nil || !ok {
		t.Errorf("firm trader field: %v %v", ok, err)
	}
	// One field per record, named by its key; money as an exact string,
	// the payload byte for byte.
	for _, c := range []struct{ key, field, contains string }{
		{"{bo}:accounts", "A1", `"cash_available":"123456789012345.6789"`},
		{"{bo}:grants", "ann@example.com\x00A1", `"level":"TRADE"`},
		{"{bo}:grants-of:ann@example.com", "A1", `"level":"TRADE"`},
		{"{bo}:requests", "1", `"payload":"{ \"code\": \"A1\" }"`},
	} {
		fields, err := raw.HKeys(ctx, p+c.key).Result()
		must(t, err)
		if !slices.Equal(fields, []string{c.field}) {
			t.Errorf("%s fields %q, want %q", c.key, fields, c.field)
			continue
		}
		v, err := raw.HGet(ctx, p+c.key, c.field).Result()
		must(t, err)
		if !strings.Contains(v, c.contains) {
			t.Errorf("%s %q = %s, want it to hold %s", c.key, c.field, v, c.contains)
		}
	}
}

// Two instances on one prefix: each remembers the accounts, grants, rules
// version and orders it last saw and may start a transaction from them, but an
// answer is never given on a remembered value the other instance has since
// changed (backoffice.Options.Remember).
func TestBackOfficeGuessesNeverDecide(t *testing.T) {
	_, a, b, _ := twoInstances(t)
	ctx, now := t.Context(), time.Now()
	const user, code = "ann@example.com", "G1"
	pf := store.Prefetch{Accounts: []string{code}, Grants: [][2]string{{user, code}}, RulesVersion: true}
	setCash := func(s *redis.Store, cash string) {
		t.Helper()
		_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			acct, _, err := tx.Account(code)
			if err != nil {
				return err
			}
			acct.AccountCode, acct.CashAvailable, acct.CreatedAt = code, decimal.RequireFromString(cash), now
			return tx.PutAccount(acct)
		})
		must(t, err)
	}
	errNoGrant := errors.New("no grant")
	// debit takes 100 from the account on instance s if the user holds a
	// grant; it returns the cash each run saw and how often fn ran.
	debit := func(s *redis.Store) (seen []string, err error) {
		_, err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			if err := tx.Prefetch(pf); err != nil {
				return err
			}
			if _, err := tx.RulesVersion(); err != nil {
				return err
			}
			acct, _, err := tx.Account(code)
			if err != nil {
				return err
			}
			seen = append(seen, acct.CashAvailable.String())
			if _, ok, err := tx.Grant(user, code); err != nil || !ok {
				return cmp.Or(err, errNoGrant)
			}
			acct.CashAvailable = acct.CashAvailable.Sub(decimal.NewFromInt(100))
			return tx.PutAccount(acct)
		})
		return seen, err
	}
	cash := func(s *redis.Store) string {
		t.Helper()
		acct, err := s.Account(ctx, code)
		must(t, err)
		return acct.CashAvailable.String()
	}

	setCash(a, "1000")
	// No grant yet: A remembers its absence ...
	if _, err := debit(a); !errors.Is(err, errNoGrant) {
		t.Fatalf("debit without a grant: %v", err)
	}
	// ... B grants: A's next debit must not refuse on the remembered absence.
	_, err := b.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		return tx.PutGrant(store.Grant{UserID: user, AccountCode: code, Level: store.LevelTrade, CreatedAt: now})
	})
	must(t, err)
	seen, err := debit(a)
	must(t, err)
	if !slices.Equal(seen, []string{"1000", "1000"}) {
		t.Errorf("debit after B's grant saw %v, want a refused guess then a fresh run", seen)
	}
	if got := cash(b); got != "900" {
		t.Fatalf("cash %s, want 900", got)
	}
	// A remembers 900 (what it wrote) and debits from it in one run.
	if seen, err := debit(a); err != nil || !slices.Equal(seen, []string{"900"}) {
		t.Fatalf("debit on A's own value: %v %v", seen, err)
	}
	// B deposits: A's guess (800) is stale; the commit refuses it and the
	// debit is made on B's 5000.
	setCash(b, "5000")
	if seen, err := debit(a); err != nil || !slices.Equal(seen, []string{"800", "5000"}) {
		t.Fatalf("debit after B's deposit saw %v (%v), want the guess then 5000", seen, err)
	}
	if got := cash(b); got != "4900" {
		t.Fatalf("cash %s, want 4900", got)
	}
	// B revokes the grant: A's remembered grant decides nothing.
	_, err = b.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error { return tx.DeleteGrant(user, code) })
	must(t, err)
	if _, err := debit(a); !errors.Is(err, errNoGrant) {
		t.Fatalf("debit after B's revocation: %v", err)
	}
	if got := cash(b); got != "4900" {
		t.Fatalf("cash %s after a refused debit, want 4900", got)
	}
	// A read-only transaction answers on fresh values, not on the guess.
	setCash(b, "7")
	var read string
	_, err = a.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		acct, _, err := tx.Account(code)
		read = acct.CashAvailable.String()
		return err
	})
	must(t, err)
	if read != "7" {
		t.Fatalf("read-only transaction saw %s, want 7", read)
	}
	// A ClOrdID taken on B is found on A although A guesses new ids unused.
	order := func(s *redis.Store, reqID string) (found bool, err error) {
		_, err = s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			if err := tx.Prefetch(store.Prefetch{NewOrderReqIDs: []store.OrderKey{{User: "u", ReqID: reqID}}}); err != nil {
				return err
			}
			_, found, err = tx.OrderByReqID("u", reqID)
			if err != nil || found {
				return err
			}
			_, err = tx.NewOrder(store.Order{OriginalReqID: reqID, ClOrdID: reqID, User: "u", AccountCode: code, Status: store.OrderNew, CreatedAt: now, UpdatedAt: now}, true)
			return err
		})
		return found, err
	}
	if found, err := order(b, "R1"); err != nil || found {
		t.Fatalf("first entry of R1 on B: %v %v", found, err)
	}
	if found, err := order(a, "R1"); err != nil || !found {
		t.Fatalf("second entry of R1 on A: found %v, %v", found, err)
	}
	os, err := a.Orders(ctx, store.OrderFilter{OriginalReqID: "R1"})
	if err != nil || len(os) != 1 {
		t.Fatalf("orders under R1: %v %v", os, err)
	}
	// An order A wrote last (and remembers) that B has changed since: A's
	// next change starts from its guess, the commit refuses it, and the
	// change is made on B's.
	retext := func(s *redis.Store, text string) (seen []string) {
		_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			o, _, err := tx.Order(os[0].ID)
			if err != nil {
				return err
			}
			seen = append(seen, o.Text)
			o.Text = text
			return tx.PutOrder(o)
		})
		must(t, err)
		return seen
	}
	retext(a, "A1")
	if seen := retext(a, "A2"); !slices.Equal(seen, []string{"A1"}) {
		t.Fatalf("A's change of its own order saw %v, want [A1] in one run", seen)
	}
	retext(b, "B1")
	if seen := retext(a, "A3"); !slices.Equal(seen, []string{"A2", "B1"}) {
		t.Fatalf("A's change after B's saw %v, want the guess A2, then B1", seen)
	}
	if o, err := b.Order(ctx, os[0].ID); err != nil || o.Text != "A3" {
		t.Fatalf("the order's text is %q (%v), want A3", o.Text, err)
	}
}

// Two instances debit one account at once, each from what it remembers:
// exactly the affordable debits commit and the balance never goes below 0.
func TestBackOfficeGuessesRaceAcrossInstances(t *testing.T) {
	_, a, b, _ := twoInstances(t)
	ctx := t.Context()
	_, err := a.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		return tx.PutAccount(store.Account{AccountCode: "R1", CashAvailable: decimal.NewFromInt(1000), CreatedAt: time.Now()})
	})
	must(t, err)
	errBroke := errors.New("not enough cash")
	debit := func(s *redis.Store) error {
		_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			if err := tx.Prefetch(store.Prefetch{Accounts: []string{"R1"}}); err != nil {
				return err
			}
			acct, _, err := tx.Account("R1")
			if err != nil {
				return err
			}
			if acct.CashAvailable.LessThan(decimal.NewFromInt(100)) {
				return errBroke
			}
			acct.CashAvailable = acct.CashAvailable.Sub(decimal.NewFromInt(100))
			return tx.PutAccount(acct)
		})
		return err
	}
	// Both instances remember the account before the race.
	for _, s := range []*redis.Store{a, b} {
		_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			_, _, err := tx.Account("R1")
			return err
		})
		must(t, err)
	}
	var wg sync.WaitGroup
	var ok, broke atomic.Int32
	for i := range 16 {
		wg.Go(func() {
			switch err := debit([]*redis.Store{a, b}[i%2]); {
			case err == nil:
				ok.Add(1)
			case errors.Is(err, errBroke):
				broke.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	acct, err := b.Account(ctx, "R1")
	must(t, err)
	if ok.Load() != 10 || broke.Load() != 6 || !acct.CashAvailable.IsZero() {
		t.Fatalf("%d debits, %d refused, cash %s; want 10, 6, 0", ok.Load(), broke.Load(), acct.CashAvailable)
	}
}

// A store written before the open-orders index existed (no
// {bo}:open-orders, no marker) is indexed on the first OpenOrders: the
// open orders are found, the done ones are not, and the marker is set.
func TestOpenOrdersIndexesAnOlderStore(t *testing.T) {
	srv := redistest.SharedRedis(t)
	raw := srv.NewClient(t)
	s, p := open(t, srv, redis.Options{URL: srv.URL()})
	ctx, now := t.Context(), time.Now()
	var ids []int64
	_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		ids = ids[:0]
		for i, st := range []store.OrderStatus{store.OrderNew, store.OrderFilled, store.OrderPendingNew} {
			o, err := tx.NewOrder(store.Order{OriginalReqID: fmt.Sprintf("old-%d", i), ClOrdID: fmt.Sprintf("old-%d", i), AccountCode: "A1",
				User: "ann@example.com", Symbol: "FPT", ISIN: "VN000000FPT1", Side: "B", Type: "LO", Qty: 100, Status: st, CreatedAt: now, UpdatedAt: now}, true)
			if err != nil {
				return err
			}
			ids = append(ids, o.ID)
		}
		return nil
	})
	must(t, err)
	// What an older omsd left: the orders, no index.
	must(t, raw.Del(ctx, p+"{bo}:open-orders").Err())
	must(t, raw.HDel(ctx, p+"{bo}:meta", "open-orders-indexed").Err())
	s2, err := redis.Open(ctx, redis.Options{URL: srv.URL(), Prefix: p})
	must(t, err)
	t.Cleanup(func() { _ = s2.Close() })
	got, err := s2.OpenOrders(ctx)
	must(t, err)
	if len(got) != 2 || got[0].ID != ids[2] || got[1].ID != ids[0] {
		t.Fatalf("OpenOrders on an older store: %d orders %+v, want %d and %d", len(got), got, ids[2], ids[0])
	}
	if n := raw.HLen(ctx, p+"{bo}:open-orders").Val(); n != 2 {
		t.Errorf("{bo}:open-orders holds %d ids after indexing, want 2", n)
	}
	if v := raw.HGet(ctx, p+"{bo}:meta", "open-orders-indexed").Val(); v != "1" {
		t.Errorf("marker %q, want 1", v)
	}
}
