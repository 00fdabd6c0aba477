package e2e

import (
	"fmt"
	"net/url"
	"testing"
	"time"
)

const (
	checkerEmail = "checker@oms.example"
	checkerPass  = "demo-checker-pass"
)

// auditEntries reads GET /api/v1/util/audit?query as jwt.
func (e *env) auditEntries(t *testing.T, jwt, query string) []map[string]any {
	t.Helper()
	m := expect(t, e.do(nil, "GET", "/api/v1/util/audit?"+query, nil, bearer(jwt)...), 200, "")
	raw, _ := m["entries"].([]any)
	out := make([]map[string]any, 0, len(raw))
	for _, r := range raw {
		out = append(out, r.(map[string]any))
	}
	return out
}

// wantEntries fails unless es are exactly want (action, entity_id), in order,
// every one by actor.
func wantEntries(t *testing.T, es []map[string]any, actor string, want ...[2]string) {
	t.Helper()
	if len(es) != len(want) {
		t.Fatalf("%d audit entries, want %d: %v", len(es), len(want), es)
	}
	for i, w := range want {
		e := es[i]
		if e["action"] != w[0] || e["entity_id"] != w[1] || e["actor"] != actor {
			t.Fatalf("entry %d = %v, want %s %s by %s", i, e, w[0], w[1], actor)
		}
	}
}

// Reference lists: a maker adds and removes values, adding twice changes
// nothing, a trader reads but cannot change them, every change is audited.
func TestReferenceValues(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		maker := e.login(nil, makerEmail, makerPass)
		trader := e.login(nil, traderEmail, traderPass)
		body := map[string]string{"kind": "comp_id", "value": "VERO1"}

		m := expect(t, e.post(nil, "/api/v1/util/reference", body, bearer(maker.jwt)...), 200, "")
		if m["kind"] != "comp_id" || m["value"] != "VERO1" || m["created_by"] != makerEmail || m["created_at"] == nil {
			t.Fatalf("added value: %v", m)
		}
		again := expect(t, e.post(nil, "/api/v1/util/reference", body, bearer(maker.jwt)...), 200, "")
		if fmt.Sprint(again) != fmt.Sprint(m) {
			t.Fatalf("adding again changed the record: %v then %v", m, again)
		}
		for _, jwt := range []string{maker.jwt, trader.jwt} {
			l := expect(t, e.do(nil, "GET", "/api/v1/util/reference?kind=comp_id", nil, bearer(jwt)...), 200, "")
			vs, _ := l["values"].([]any)
			if l["kind"] != "comp_id" || len(vs) != 1 || vs[0].(map[string]any)["value"] != "VERO1" {
				t.Fatalf("list: %v", l)
			}
		}
		l := expect(t, e.do(nil, "GET", "/api/v1/util/reference?kind=sender_sub_id", nil, bearer(maker.jwt)...), 200, "")
		if vs, _ := l["values"].([]any); len(vs) != 0 {
			t.Fatalf("sender_sub_id list: %v", l)
		}

		expect(t, e.post(nil, "/api/v1/util/reference", body, bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.do(nil, "DELETE", "/api/v1/util/reference", body, bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.post(nil, "/api/v1/util/reference", map[string]string{"kind": "venue", "value": "X"}, bearer(maker.jwt)...), 400, "invalid_request")
		expect(t, e.do(nil, "GET", "/api/v1/util/reference?kind=venue", nil, bearer(maker.jwt)...), 400, "invalid_request")
		expect(t, e.post(nil, "/api/v1/util/reference", map[string]string{"kind": "comp_id", "value": " "}, bearer(maker.jwt)...), 400, "invalid_request")

		d := expect(t, e.do(nil, "DELETE", "/api/v1/util/reference", body, bearer(maker.jwt)...), 200, "")
		if d["kind"] != "comp_id" || d["value"] != "VERO1" || d["status"] != "removed" {
			t.Fatalf("removed: %v", d)
		}
		nf := expect(t, e.do(nil, "DELETE", "/api/v1/util/reference", body, bearer(maker.jwt)...), 404, "not_found")
		if nf["status"] != float64(404) || nf["message"] == "" {
			t.Fatalf("404 not in the util envelope: %v", nf)
		}

		es := e.auditEntries(t, maker.jwt, "")
		wantEntries(t, es, makerEmail,
			[2]string{"REFERENCE_REMOVED", "comp_id:VERO1"},
			[2]string{"REFERENCE_ADDED", "comp_id:VERO1"})
		if es[1]["entity_type"] != "REFERENCE" {
			t.Fatalf("entity type: %v", es[1])
		}
		if det, _ := es[1]["detail"].(map[string]any); det["kind"] != "comp_id" || det["value"] != "VERO1" {
			t.Fatalf("detail: %v", es[1])
		}
	})
}

// Firm traders: same rules, listed per firm or all together.
func TestFirmTraders(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		maker := e.login(nil, makerEmail, makerPass)
		trader := e.login(nil, traderEmail, traderPass)
		a1 := map[string]string{"firm_id": "FIRM-A", "trader_id": "T1"}
		a2 := map[string]string{"firm_id": "FIRM-A", "trader_id": "T2"}
		b1 := map[string]string{"firm_id": "FIRM-B", "trader_id": "T1"}

		m := expect(t, e.post(nil, "/api/v1/util/firms/traders", a1, bearer(maker.jwt)...), 200, "")
		if m["firm_id"] != "FIRM-A" || m["trader_id"] != "T1" || m["created_by"] != makerEmail {
			t.Fatalf("mapped: %v", m)
		}
		again := expect(t, e.post(nil, "/api/v1/util/firms/traders", a1, bearer(maker.jwt)...), 200, "")
		if fmt.Sprint(again) != fmt.Sprint(m) {
			t.Fatalf("mapping again changed the record: %v then %v", m, again)
		}
		expect(t, e.post(nil, "/api/v1/util/firms/traders", a2, bearer(maker.jwt)...), 200, "")
		expect(t, e.post(nil, "/api/v1/util/firms/traders", b1, bearer(maker.jwt)...), 200, "")
		expect(t, e.post(nil, "/api/v1/util/firms/traders", a1, bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.do(nil, "DELETE", "/api/v1/util/firms/traders", a1, bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.post(nil, "/api/v1/util/firms/traders", map[string]string{"firm_id": "", "trader_id": "T9"}, bearer(maker.jwt)...), 400, "invalid_request")

		list := func(q string) []string {
			l := expect(t, e.do(nil, "GET", "/api/v1/util/firms/traders"+q, nil, bearer(trader.jwt)...), 200, "")
			var got []string
			for _, x := range l["traders"].([]any) {
				f := x.(map[string]any)
				got = append(got, f["firm_id"].(string)+":"+f["trader_id"].(string))
			}
			return got
		}
		if got := fmt.Sprint(list("")); got != "[FIRM-A:T1 FIRM-A:T2 FIRM-B:T1]" {
			t.Fatalf("all mappings: %s", got)
		}
		if got := fmt.Sprint(list("?firm_id=FIRM-A")); got != "[FIRM-A:T1 FIRM-A:T2]" {
			t.Fatalf("FIRM-A mappings: %s", got)
		}

		d := expect(t, e.do(nil, "DELETE", "/api/v1/util/firms/traders", a2, bearer(maker.jwt)...), 200, "")
		if d["firm_id"] != "FIRM-A" || d["trader_id"] != "T2" || d["status"] != "removed" {
			t.Fatalf("unmapped: %v", d)
		}
		expect(t, e.do(nil, "DELETE", "/api/v1/util/firms/traders", a2, bearer(maker.jwt)...), 404, "not_found")
		if got := fmt.Sprint(list("?firm_id=FIRM-A")); got != "[FIRM-A:T1]" {
			t.Fatalf("FIRM-A after unmapping: %s", got)
		}

		wantEntries(t, e.auditEntries(t, maker.jwt, "entity_type=FIRM_TRADER"), makerEmail,
			[2]string{"FIRM_TRADER_REMOVED", "FIRM-A:T2"},
			[2]string{"FIRM_TRADER_ADDED", "FIRM-B:T1"},
			[2]string{"FIRM_TRADER_ADDED", "FIRM-A:T2"},
			[2]string{"FIRM_TRADER_ADDED", "FIRM-A:T1"})
	})
}

// The audit log: readable by makers, checkers and admins, newest first,
// filtered by actor, action, entity and time, and paged.
func TestAuditLog(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		maker := e.login(nil, makerEmail, makerPass)
		admin := e.login(nil, adminEmail, adminPass)
		checker := e.login(nil, checkerEmail, checkerPass)
		trader := e.login(nil, traderEmail, traderPass)

		expect(t, e.do(nil, "GET", "/api/v1/util/audit", nil, bearer(trader.jwt)...), 403, "forbidden")
		if es := e.auditEntries(t, checker.jwt, ""); len(es) != 0 {
			t.Fatalf("audit log of a fresh store: %v", es)
		}

		for _, v := range []string{"C1", "C2", "C3"} {
			expect(t, e.post(nil, "/api/v1/util/reference", map[string]string{"kind": "comp_id", "value": v}, bearer(maker.jwt)...), 200, "")
		}
		e.clock.Advance(time.Minute)
		adminAt := e.clock.Now().UTC().Truncate(time.Millisecond)
		expect(t, e.post(nil, "/api/v1/util/reference", map[string]string{"kind": "sender_sub_id", "value": "S1"}, bearer(admin.jwt)...), 200, "")
		expect(t, e.do(nil, "DELETE", "/api/v1/util/reference", map[string]string{"kind": "comp_id", "value": "C1"}, bearer(admin.jwt)...), 200, "")

		all := e.auditEntries(t, checker.jwt, "")
		if len(all) != 5 {
			t.Fatalf("%d entries, want 5: %v", len(all), all)
		}
		for i := 1; i < len(all); i++ {
			if all[i-1]["id"].(float64) <= all[i]["id"].(float64) {
				t.Fatalf("not newest first: %v", all)
			}
		}
		wantEntries(t, e.auditEntries(t, admin.jwt, "actor="+url.QueryEscape(adminEmail)), adminEmail,
			[2]string{"REFERENCE_REMOVED", "comp_id:C1"},
			[2]string{"REFERENCE_ADDED", "sender_sub_id:S1"})
		wantEntries(t, e.auditEntries(t, admin.jwt, "actor="+url.QueryEscape(makerEmail)+"&action=REFERENCE_ADDED"), makerEmail,
			[2]string{"REFERENCE_ADDED", "comp_id:C3"},
			[2]string{"REFERENCE_ADDED", "comp_id:C2"},
			[2]string{"REFERENCE_ADDED", "comp_id:C1"})
		if es := e.auditEntries(t, admin.jwt, "entity_type=REFERENCE&entity_id=comp_id:C1"); len(es) != 2 {
			t.Fatalf("history of comp_id:C1: %v", es)
		}
		wantEntries(t, e.auditEntries(t, maker.jwt, "actor="+url.QueryEscape(makerEmail)+"&limit=2"), makerEmail,
			[2]string{"REFERENCE_ADDED", "comp_id:C3"},
			[2]string{"REFERENCE_ADDED", "comp_id:C2"})
		wantEntries(t, e.auditEntries(t, maker.jwt, "actor="+url.QueryEscape(makerEmail)+"&limit=2&offset=2"), makerEmail,
			[2]string{"REFERENCE_ADDED", "comp_id:C1"})
		if es := e.auditEntries(t, maker.jwt, "offset=5"); len(es) != 0 {
			t.Fatalf("past the end: %v", es)
		}

		// Time window: from is inclusive, to exclusive.
		if got, _ := time.Parse(time.RFC3339Nano, all[0]["created_at"].(string)); !got.Equal(adminAt) {
			t.Fatalf("created_at %v, want %v", all[0]["created_at"], adminAt)
		}
		at := url.QueryEscape(adminAt.Format(time.RFC3339Nano))
		wantEntries(t, e.auditEntries(t, maker.jwt, "from="+at), adminEmail,
			[2]string{"REFERENCE_REMOVED", "comp_id:C1"},
			[2]string{"REFERENCE_ADDED", "sender_sub_id:S1"})
		if es := e.auditEntries(t, maker.jwt, "to="+at); len(es) != 3 || es[0]["entity_id"] != "comp_id:C3" {
			t.Fatalf("entries before the admin's: %v", es)
		}

		for _, q := range []string{"limit=1001", "limit=0", "offset=-1", "from=yesterday", "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z"} {
			expect(t, e.do(nil, "GET", "/api/v1/util/audit?"+q, nil, bearer(maker.jwt)...), 400, "invalid_request")
		}
	})
}

// A store that stops answering gives 502 in the util envelope on these
// routes, like on every other.
func TestReferenceStoreDownAnswers502(t *testing.T) {
	t.Parallel()
	e := start(t, "redis")
	maker := e.login(nil, makerEmail, makerPass)
	e.redis.Stop()
	defer e.redis.Start()
	for _, r := range []response{
		e.do(nil, "GET", "/api/v1/util/reference?kind=comp_id", nil, bearer(maker.jwt)...),
		e.post(nil, "/api/v1/util/reference", map[string]string{"kind": "comp_id", "value": "X"}, bearer(maker.jwt)...),
		e.do(nil, "DELETE", "/api/v1/util/firms/traders", map[string]string{"firm_id": "F", "trader_id": "T"}, bearer(maker.jwt)...),
		e.do(nil, "GET", "/api/v1/util/audit", nil, bearer(maker.jwt)...),
	} {
		if m := expect(t, r, 502, "upstream_unavailable"); m["status"] != float64(502) {
			t.Fatalf("502 not in the util envelope: %v", m)
		}
	}
}
