package redis_test

import (
	"encoding/json"
	"slices"
	"strings"
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
		p + "{bo}:grants", p + "{bo}:grants-of:ann@example.com", p + "{bo}:ref:comp_id", p + "{bo}:request-seq", p + "{bo}:requests"}
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
