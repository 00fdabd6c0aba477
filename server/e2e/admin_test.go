package e2e

import (
	"fmt"
	"net/url"
	"sync"
	"testing"
)

// Demo back office (withDemoData): these accounts, in group "Retail desk",
// with grants admin ADMIN, maker VIEW, checker VIEW, trader TRADE on both.
const (
	demoAccount1 = "099C000001"
	demoAccount2 = "099C000002"
)

// grantsOf returns "account=LEVEL" for each grant of a list field.
func grantsOf(t *testing.T, m map[string]any, field string) string {
	t.Helper()
	raw, ok := m[field].([]any)
	if !ok {
		t.Fatalf("no %s list: %v", field, m)
	}
	out := []string{}
	for _, x := range raw {
		g := x.(map[string]any)
		out = append(out, fmt.Sprintf("%s=%s", g["account_code"], g["level"]))
	}
	return fmt.Sprint(out)
}

// search answers GET /api/v1/util/search?query as jwt: "account=LEVEL" each.
func (e *env) search(t *testing.T, jwt, query string) string {
	t.Helper()
	m := expect(t, e.do(nil, "GET", "/api/v1/util/search?"+query, nil, bearer(jwt)...), 200, "")
	return grantsOf(t, m, "accounts")
}

func (e *env) myGrants(t *testing.T, jwt string) string {
	t.Helper()
	return grantsOf(t, expect(t, e.do(nil, "GET", "/api/v1/util/permissions", nil, bearer(jwt)...), 200, ""), "grants")
}

// Grants: who may grant and list, what each user sees through their own
// grants, a grant and a revoke taking effect on the very next request, the
// 404s and 400s, and the audit trail.
func TestAdminPermissionsAndSearch(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		admin := e.login(nil, adminEmail, adminPass)
		maker := e.login(nil, makerEmail, makerPass)
		checker := e.login(nil, checkerEmail, checkerPass)
		trader := e.login(nil, traderEmail, traderPass)
		both := fmt.Sprintf("[%s=TRADE %s=TRADE]", demoAccount1, demoAccount2)

		// No bearer: 401 on every one of them.
		for _, r := range []struct{ method, path string }{
			{"GET", "/api/v1/util/permissions"}, {"GET", "/api/v1/util/search"}, {"GET", "/api/v1/util/admin/permissions"},
			{"POST", "/api/v1/util/admin/permissions"}, {"DELETE", "/api/v1/util/admin/permissions"},
		} {
			expect(t, e.do(nil, r.method, r.path, nil), 401, "unauthorized")
		}

		// Own grants and the search: the trader sees exactly the two demo accounts.
		p := expect(t, e.do(nil, "GET", "/api/v1/util/permissions", nil, bearer(trader.jwt)...), 200, "")
		if p["user_id"] != traderEmail || grantsOf(t, p, "grants") != both {
			t.Fatalf("trader's permissions: %v", p)
		}
		s := expect(t, e.do(nil, "GET", "/api/v1/util/search", nil, bearer(trader.jwt)...), 200, "")
		if s["query"] != "" || grantsOf(t, s, "accounts") != both {
			t.Fatalf("trader's search: %v", s)
		}
		g0 := s["accounts"].([]any)[0].(map[string]any)
		if g0["user_id"] != traderEmail || g0["granted_by"] == nil || g0["created_at"] == nil {
			t.Fatalf("search result is not the caller's grant: %v", g0)
		}
		if got := e.search(t, trader.jwt, "q=099c"); got != both {
			t.Fatalf("q=099c (case): %s", got)
		}
		if got := e.search(t, trader.jwt, "q=000002"); got != "["+demoAccount2+"=TRADE]" {
			t.Fatalf("q=000002: %s", got)
		}
		if got := e.search(t, trader.jwt, "q=nothing-like-it"); got != "[]" {
			t.Fatalf("q=nothing-like-it: %s", got)
		}
		if got := e.search(t, trader.jwt, "limit=1"); got != "["+demoAccount1+"=TRADE]" {
			t.Fatalf("limit=1: %s", got)
		}
		expect(t, e.do(nil, "GET", "/api/v1/util/search?limit=0", nil, bearer(trader.jwt)...), 400, "invalid_request")
		expect(t, e.do(nil, "GET", "/api/v1/util/search?limit=201", nil, bearer(trader.jwt)...), 400, "invalid_request")

		// Roles: maker|admin grant and revoke; only admin lists every grant.
		grant := func(user, code, level string) map[string]any {
			return map[string]any{"user_id": user, "account_code": code, "level": level}
		}
		revoke := func(user, code string) map[string]any { return map[string]any{"user_id": user, "account_code": code} }
		expect(t, e.post(nil, "/api/v1/util/admin/permissions", grant(traderEmail, demoAccount1, "ADMIN"), bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.post(nil, "/api/v1/util/admin/permissions", grant(checkerEmail, demoAccount1, "ADMIN"), bearer(checker.jwt)...), 403, "forbidden")
		expect(t, e.do(nil, "DELETE", "/api/v1/util/admin/permissions", revoke(makerEmail, demoAccount1), bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.do(nil, "GET", "/api/v1/util/admin/permissions", nil, bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.do(nil, "GET", "/api/v1/util/admin/permissions", nil, bearer(maker.jwt)...), 403, "forbidden")

		all := expect(t, e.do(nil, "GET", "/api/v1/util/admin/permissions", nil, bearer(admin.jwt)...), 200, "")
		if _, has := all["user_id"]; has || len(all["grants"].([]any)) != 8 {
			t.Fatalf("every grant: %v", all)
		}
		byUser := expect(t, e.do(nil, "GET", "/api/v1/util/admin/permissions?user_id="+url.QueryEscape(traderEmail), nil, bearer(admin.jwt)...), 200, "")
		if byUser["user_id"] != traderEmail || grantsOf(t, byUser, "grants") != both {
			t.Fatalf("grants of the trader: %v", byUser)
		}
		byAcct := expect(t, e.do(nil, "GET", "/api/v1/util/admin/permissions?account_code="+demoAccount2, nil, bearer(admin.jwt)...), 200, "")
		var users []string
		for _, x := range byAcct["grants"].([]any) {
			g := x.(map[string]any)
			users = append(users, fmt.Sprint(g["user_id"], "=", g["level"]))
		}
		if got := fmt.Sprint(users); got != "[admin@oms.example=ADMIN checker@oms.example=VIEW maker@oms.example=VIEW trader@oms.example=TRADE]" {
			t.Fatalf("grants on %s: %s", demoAccount2, got)
		}
		bothF := expect(t, e.do(nil, "GET", "/api/v1/util/admin/permissions?user_id="+url.QueryEscape(makerEmail)+"&account_code="+demoAccount1, nil, bearer(admin.jwt)...), 200, "")
		if grantsOf(t, bothF, "grants") != "["+demoAccount1+"=VIEW]" {
			t.Fatalf("maker on %s: %v", demoAccount1, bothF)
		}

		// Revoke: the checker's grants are gone on the very next request.
		for _, code := range []string{demoAccount1, demoAccount2} {
			r := expect(t, e.do(nil, "DELETE", "/api/v1/util/admin/permissions", revoke(checkerEmail, code), bearer(maker.jwt)...), 200, "")
			if r["status"] != "revoked" || r["user_id"] != checkerEmail || r["account_code"] != code {
				t.Fatalf("revoked: %v", r)
			}
		}
		if got := e.search(t, checker.jwt, ""); got != "[]" {
			t.Fatalf("a user without grants finds: %s", got)
		}
		if got := e.myGrants(t, checker.jwt); got != "[]" {
			t.Fatalf("checker's grants after the revoke: %s", got)
		}
		expect(t, e.do(nil, "DELETE", "/api/v1/util/admin/permissions", revoke(checkerEmail, demoAccount1), bearer(maker.jwt)...), 404, "not_found")

		// Grant (email in any case): the grantee sees it on the next request.
		g := expect(t, e.post(nil, "/api/v1/util/admin/permissions", grant("  Checker@OMS.example", demoAccount2, "TRADE"), bearer(maker.jwt)...), 200, "")
		if g["user_id"] != checkerEmail || g["account_code"] != demoAccount2 || g["level"] != "TRADE" || g["granted_by"] != makerEmail {
			t.Fatalf("granted: %v", g)
		}
		if got := e.search(t, checker.jwt, "q=099C"); got != "["+demoAccount2+"=TRADE]" {
			t.Fatalf("checker's search after the grant: %s", got)
		}
		if got := e.myGrants(t, checker.jwt); got != "["+demoAccount2+"=TRADE]" {
			t.Fatalf("checker's grants after the grant: %s", got)
		}
		// Upsert: one grant per (user, account), the level replaced.
		g = expect(t, e.post(nil, "/api/v1/util/admin/permissions", grant(checkerEmail, demoAccount2, "VIEW"), bearer(admin.jwt)...), 200, "")
		if g["level"] != "VIEW" || g["granted_by"] != adminEmail {
			t.Fatalf("re-granted: %v", g)
		}
		if got := e.myGrants(t, checker.jwt); got != "["+demoAccount2+"=VIEW]" {
			t.Fatalf("checker's grants after the upsert: %s", got)
		}

		// Unknown user or account: 404; a level outside the enum: 400.
		expect(t, e.post(nil, "/api/v1/util/admin/permissions", grant("ghost@oms.example", demoAccount1, "VIEW"), bearer(maker.jwt)...), 404, "not_found")
		expect(t, e.post(nil, "/api/v1/util/admin/permissions", grant(checkerEmail, "099C999999", "VIEW"), bearer(maker.jwt)...), 404, "not_found")
		expect(t, e.post(nil, "/api/v1/util/admin/permissions", grant(checkerEmail, demoAccount1, "OWNER"), bearer(maker.jwt)...), 400, "invalid_request")

		// The audit trail, each change by its actor.
		wantEntries(t, e.auditEntries(t, maker.jwt, "entity_type=PERMISSION&actor="+url.QueryEscape(makerEmail)), makerEmail,
			[2]string{"PERMISSION_GRANTED", checkerEmail + ":" + demoAccount2},
			[2]string{"PERMISSION_REVOKED", checkerEmail + ":" + demoAccount2},
			[2]string{"PERMISSION_REVOKED", checkerEmail + ":" + demoAccount1})
		wantEntries(t, e.auditEntries(t, admin.jwt, "entity_type=PERMISSION&actor="+url.QueryEscape(adminEmail)), adminEmail,
			[2]string{"PERMISSION_GRANTED", checkerEmail + ":" + demoAccount2})
	})
}

// Groups: anyone lists them; maker|admin create, move and remove; names
// are unique; a move replaces the membership; members are scoped by the
// caller's grants; unknown group or account: 404; every change audited.
func TestAdminGroups(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind, withDemoData)
		admin := e.login(nil, adminEmail, adminPass)
		maker := e.login(nil, makerEmail, makerPass)
		checker := e.login(nil, checkerEmail, checkerPass)
		trader := e.login(nil, traderEmail, traderPass)

		for _, r := range []struct{ method, path string }{
			{"GET", "/api/v1/util/groups"}, {"POST", "/api/v1/util/groups"}, {"GET", "/api/v1/util/groups/members?group_id=1"},
			{"DELETE", "/api/v1/util/groups/members"}, {"POST", "/api/v1/util/groups/move"},
		} {
			expect(t, e.do(nil, r.method, r.path, nil), 401, "unauthorized")
		}

		groups := func(jwt string) []map[string]any {
			t.Helper()
			m := expect(t, e.do(nil, "GET", "/api/v1/util/groups", nil, bearer(jwt)...), 200, "")
			var out []map[string]any
			for _, x := range m["groups"].([]any) {
				out = append(out, x.(map[string]any))
			}
			return out
		}
		gs := groups(trader.jwt)
		if len(gs) != 1 || gs[0]["name"] != "Retail desk" {
			t.Fatalf("demo groups: %v", gs)
		}
		retail := int64(gs[0]["id"].(float64))
		members := func(jwt string, id int64) string {
			t.Helper()
			m := expect(t, e.do(nil, "GET", fmt.Sprint("/api/v1/util/groups/members?group_id=", id), nil, bearer(jwt)...), 200, "")
			if m["group_id"] != float64(id) {
				t.Fatalf("members answer names group %v, want %d", m["group_id"], id)
			}
			out := []string{}
			for _, x := range m["members"].([]any) {
				mm := x.(map[string]any)
				out = append(out, fmt.Sprintf("%s@%s", mm["account_code"], mm["group_name"]))
			}
			return fmt.Sprint(out)
		}
		if got := members(trader.jwt, retail); got != "[099C000001@Retail desk 099C000002@Retail desk]" {
			t.Fatalf("demo members: %s", got)
		}

		// Roles.
		expect(t, e.post(nil, "/api/v1/util/groups", map[string]any{"name": "X"}, bearer(checker.jwt)...), 403, "forbidden")
		expect(t, e.post(nil, "/api/v1/util/groups", map[string]any{"name": "X"}, bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.post(nil, "/api/v1/util/groups/move", map[string]any{"account_code": demoAccount1, "group_id": retail}, bearer(trader.jwt)...), 403, "forbidden")
		expect(t, e.do(nil, "DELETE", "/api/v1/util/groups/members", map[string]any{"account_code": demoAccount1}, bearer(checker.jwt)...), 403, "forbidden")

		// Create; a taken name is 409, a blank one 400.
		g := expect(t, e.post(nil, "/api/v1/util/groups", map[string]any{"name": "Prop desk", "description": "Proprietary"}, bearer(maker.jwt)...), 200, "")
		if g["name"] != "Prop desk" || g["description"] != "Proprietary" || g["created_by"] != makerEmail || g["id"] == nil {
			t.Fatalf("created: %v", g)
		}
		prop := int64(g["id"].(float64))
		expect(t, e.post(nil, "/api/v1/util/groups", map[string]any{"name": "Retail desk"}, bearer(admin.jwt)...), 409, "conflict")
		expect(t, e.post(nil, "/api/v1/util/groups", map[string]any{"name": "Prop desk"}, bearer(maker.jwt)...), 409, "conflict")
		expect(t, e.post(nil, "/api/v1/util/groups", map[string]any{"name": "   "}, bearer(maker.jwt)...), 400, "invalid_request")
		if gs := groups(checker.jwt); len(gs) != 2 || gs[0]["name"] != "Retail desk" || gs[1]["name"] != "Prop desk" {
			t.Fatalf("groups by id: %v", gs)
		}

		// Move replaces the membership.
		m := expect(t, e.post(nil, "/api/v1/util/groups/move", map[string]any{"account_code": demoAccount1, "group_id": prop}, bearer(maker.jwt)...), 200, "")
		if m["account_code"] != demoAccount1 || m["group_id"] != float64(prop) || m["group_name"] != "Prop desk" || m["moved_by"] != makerEmail || m["updated_at"] == nil {
			t.Fatalf("moved: %v", m)
		}
		if got := members(trader.jwt, retail); got != "[099C000002@Retail desk]" {
			t.Fatalf("Retail desk after the move: %s", got)
		}
		if got := members(trader.jwt, prop); got != "[099C000001@Prop desk]" {
			t.Fatalf("Prop desk after the move: %s", got)
		}

		// 404s.
		expect(t, e.post(nil, "/api/v1/util/groups/move", map[string]any{"account_code": demoAccount1, "group_id": 9999}, bearer(maker.jwt)...), 404, "not_found")
		expect(t, e.post(nil, "/api/v1/util/groups/move", map[string]any{"account_code": "099C999999", "group_id": prop}, bearer(maker.jwt)...), 404, "not_found")
		expect(t, e.do(nil, "GET", "/api/v1/util/groups/members?group_id=9999", nil, bearer(trader.jwt)...), 404, "not_found")

		// Remove; a second time (in no group) or an unknown account: 404.
		r := expect(t, e.do(nil, "DELETE", "/api/v1/util/groups/members", map[string]any{"account_code": demoAccount2}, bearer(admin.jwt)...), 200, "")
		if r["status"] != "removed" || r["account_code"] != demoAccount2 {
			t.Fatalf("removed: %v", r)
		}
		if got := members(trader.jwt, retail); got != "[]" {
			t.Fatalf("Retail desk after the removal: %s", got)
		}
		expect(t, e.do(nil, "DELETE", "/api/v1/util/groups/members", map[string]any{"account_code": demoAccount2}, bearer(admin.jwt)...), 404, "not_found")
		expect(t, e.do(nil, "DELETE", "/api/v1/util/groups/members", map[string]any{"account_code": "099C999999"}, bearer(admin.jwt)...), 404, "not_found")

		// Members are scoped by grants: without a grant the checker sees none.
		expect(t, e.do(nil, "DELETE", "/api/v1/util/admin/permissions", map[string]any{"user_id": checkerEmail, "account_code": demoAccount1}, bearer(admin.jwt)...), 200, "")
		if got := members(checker.jwt, prop); got != "[]" {
			t.Fatalf("checker without a grant sees members: %s", got)
		}
		if got := members(trader.jwt, prop); got != "[099C000001@Prop desk]" {
			t.Fatalf("trader's view of Prop desk: %s", got)
		}

		// The audit trail.
		wantEntries(t, e.auditEntries(t, checker.jwt, "entity_type=GROUP&actor="+url.QueryEscape(makerEmail)), makerEmail,
			[2]string{"GROUP_CREATED", fmt.Sprint(prop)})
		wantEntries(t, e.auditEntries(t, checker.jwt, "entity_type=ACCOUNT&actor="+url.QueryEscape(makerEmail)), makerEmail,
			[2]string{"ACCOUNT_MOVED", demoAccount1})
		wantEntries(t, e.auditEntries(t, checker.jwt, "action=MEMBER_REMOVED"), adminEmail,
			[2]string{"MEMBER_REMOVED", demoAccount2})
	})
}

// Sixteen makers create a group with one name at once, on each store:
// exactly one 200, the others 409 `conflict`, one group and one audit entry.
func TestAdminGroupNameRace(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		e := start(t, kind)
		maker := e.login(nil, makerEmail, makerPass)
		const n = 16
		statuses := make([]response, n)
		var wg sync.WaitGroup
		gate := make(chan struct{})
		for i := range n {
			wg.Add(1)
			c, _ := e.newClient()
			go func() {
				defer wg.Done()
				<-gate
				statuses[i] = e.post(c, "/api/v1/util/groups", map[string]any{"name": "Hot desk"}, bearer(maker.jwt)...)
			}()
		}
		close(gate)
		wg.Wait()
		won := 0
		for _, r := range statuses {
			switch {
			case r.status == 200:
				won++
			case r.status == 409 && r.json(t)["error"] == "conflict":
			default:
				t.Fatalf("status %d: %s", r.status, r.body)
			}
		}
		if won != 1 {
			t.Fatalf("%d creations succeeded, want 1", won)
		}
		m := expect(t, e.do(nil, "GET", "/api/v1/util/groups", nil, bearer(maker.jwt)...), 200, "")
		if gs := m["groups"].([]any); len(gs) != 1 {
			t.Fatalf("groups: %v", gs)
		}
		if es := e.auditEntries(t, maker.jwt, "action=GROUP_CREATED"); len(es) != 1 {
			t.Fatalf("audit: %v", es)
		}
	})
}
