package redis_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

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

	keys, err := raw.Keys(ctx, p+"*").Result()
	must(t, err)
	slices.Sort(keys)
	want := []string{p + "{bo}:audit", p + "{bo}:audit-seq", p + "{bo}:firm-traders", p + "{bo}:ref:comp_id"}
	if !slices.Equal(keys, want) {
		t.Errorf("keys\n got %q\nwant %q", keys, want)
	}
	for _, k := range keys {
		if n := pttl(t, raw, k); n != -1 {
			t.Errorf("PTTL %s = %d, want -1 (durable)", k, n)
		}
	}
	if v := get(t, raw, p+"{bo}:audit-seq"); v != "4" {
		t.Errorf("audit-seq = %s, want 4", v)
	}
	ids, err := raw.HKeys(ctx, p+"{bo}:audit").Result()
	must(t, err)
	slices.Sort(ids)
	if !slices.Equal(ids, []string{"1", "2", "3", "4"}) {
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
}
