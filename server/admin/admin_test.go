package admin_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/admin"
	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

const (
	adminEmail  = "admin@oms.example"
	makerEmail  = "maker@oms.example"
	traderEmail = "trader@oms.example"
	nobodyEmail = "nobody@oms.example"
)

var (
	adminP  = auth.Principal{Email: adminEmail, Roles: []string{"admin"}}
	makerP  = auth.Principal{Email: makerEmail, Roles: []string{"maker"}}
	traderP = auth.Principal{Email: traderEmail, Roles: []string{"trader"}}
	nobodyP = auth.Principal{Email: nobodyEmail, Roles: []string{"trader"}}
)

type fixture struct {
	st  *memory.Store
	svc *admin.Service
	now time.Time
	mu  sync.Mutex
}

func (f *fixture) clock() time.Time { f.mu.Lock(); defer f.mu.Unlock(); return f.now }
func (f *fixture) advance(d time.Duration) {
	f.mu.Lock()
	f.now = f.now.Add(d)
	f.mu.Unlock()
}

// setup returns a service over a memory store holding identities for the
// four principals above and the accounts codes.
func setup(t *testing.T, codes ...string) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{st: memory.New(), now: time.Date(2026, 11, 27, 9, 0, 0, 0, time.UTC)}
	for i, e := range []string{adminEmail, makerEmail, traderEmail, nobodyEmail} {
		if err := f.st.CreateIdentity(ctx, store.Identity{ID: fmt.Sprint("id-", i), Email: e, State: store.IdentityActive}); err != nil {
			t.Fatal(err)
		}
	}
	if len(codes) > 0 {
		if _, err := f.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			for _, c := range codes {
				if err := tx.PutAccount(store.Account{AccountCode: c, Name: c, CreatedAt: f.now, UpdatedAt: f.now}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	f.svc = admin.New(f.st, f.st, f.clock)
	return f
}

func wantCode(t *testing.T, err error, want apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); got != want {
		t.Fatalf("error %v (code %q), want code %q", err, got, want)
	}
}

func (f *fixture) audit(t *testing.T, filter store.AuditFilter) []store.AuditEntry {
	t.Helper()
	es, err := f.st.ListAudit(context.Background(), filter)
	if err != nil {
		t.Fatal(err)
	}
	return es
}

func codesOf(gs []store.Grant) []string {
	out := []string{}
	for _, g := range gs {
		out = append(out, g.AccountCode+"="+string(g.Level))
	}
	return out
}

func TestGrantUpsertChangesLevel(t *testing.T) {
	ctx := context.Background()
	f := setup(t, "ACC1", "ACC2")
	t0 := f.now

	g, err := f.svc.Grant(ctx, makerP, "  Trader@OMS.example ", "ACC1", store.LevelView)
	if err != nil {
		t.Fatal(err)
	}
	if g.UserID != traderEmail || g.Level != store.LevelView || g.GrantedBy != makerEmail || !g.CreatedAt.Equal(t0) {
		t.Fatalf("grant: %+v", g)
	}
	f.advance(time.Hour)
	g2, err := f.svc.Grant(ctx, adminP, traderEmail, "ACC1", store.LevelTrade)
	if err != nil {
		t.Fatal(err)
	}
	if g2.Level != store.LevelTrade || g2.GrantedBy != adminEmail || !g2.CreatedAt.Equal(t0) || !g2.UpdatedAt.Equal(t0.Add(time.Hour)) {
		t.Fatalf("upsert: %+v", g2)
	}
	mine, err := f.svc.MyGrants(ctx, traderP)
	if err != nil || fmt.Sprint(codesOf(mine)) != "[ACC1=TRADE]" {
		t.Fatalf("trader's grants after upsert: %v %v", codesOf(mine), err)
	}
	es := f.audit(t, store.AuditFilter{EntityType: admin.EntityPermission})
	if len(es) != 2 || es[0].Actor != adminEmail || es[1].Actor != makerEmail ||
		es[0].Action != admin.ActionPermissionGranted || es[0].EntityID != traderEmail+":ACC1" {
		t.Fatalf("audit: %+v", es)
	}
}

func TestGrantRefusals(t *testing.T) {
	ctx := context.Background()
	f := setup(t, "ACC1")
	_, err := f.svc.Grant(ctx, makerP, "ghost@oms.example", "ACC1", store.LevelView)
	wantCode(t, err, apperr.NotFound)
	_, err = f.svc.Grant(ctx, makerP, traderEmail, "NOPE", store.LevelView)
	wantCode(t, err, apperr.NotFound)
	_, err = f.svc.Grant(ctx, makerP, traderEmail, "ACC1", "OWNER")
	wantCode(t, err, apperr.InvalidRequest)
	_, err = f.svc.Grant(ctx, makerP, " ", "ACC1", store.LevelView)
	wantCode(t, err, apperr.InvalidRequest)
	if es := f.audit(t, store.AuditFilter{}); len(es) != 0 {
		t.Fatalf("refused grants were audited: %+v", es)
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	f := setup(t, "ACC1")
	_, err := f.svc.Revoke(ctx, makerP, traderEmail, "ACC1")
	wantCode(t, err, apperr.NotFound)
	if _, err := f.svc.Grant(ctx, makerP, traderEmail, "ACC1", store.LevelTrade); err != nil {
		t.Fatal(err)
	}
	user, err := f.svc.Revoke(ctx, adminP, "TRADER@oms.example", "ACC1")
	if err != nil || user != traderEmail {
		t.Fatalf("revoke: %q %v", user, err)
	}
	if mine, _ := f.svc.MyGrants(ctx, traderP); len(mine) != 0 {
		t.Fatalf("grants after revoke: %v", codesOf(mine))
	}
	_, err = f.svc.Revoke(ctx, adminP, traderEmail, "ACC1")
	wantCode(t, err, apperr.NotFound)
	es := f.audit(t, store.AuditFilter{Action: admin.ActionPermissionRevoked})
	if len(es) != 1 || es[0].Actor != adminEmail || es[0].EntityID != traderEmail+":ACC1" {
		t.Fatalf("audit: %+v", es)
	}
}

func TestAdminGrantListing(t *testing.T) {
	ctx := context.Background()
	f := setup(t, "ACC1", "ACC2")
	for _, g := range []struct {
		user, code string
		level      store.GrantLevel
	}{
		{traderEmail, "ACC1", store.LevelTrade}, {traderEmail, "ACC2", store.LevelView}, {makerEmail, "ACC2", store.LevelAdmin},
	} {
		if _, err := f.svc.Grant(ctx, adminP, g.user, g.code, g.level); err != nil {
			t.Fatal(err)
		}
	}
	list := func(flt admin.GrantFilter) (string, string) {
		t.Helper()
		user, gs, err := f.svc.Grants(ctx, adminP, flt)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, g := range gs {
			out = append(out, g.UserID+"/"+g.AccountCode)
		}
		return user, fmt.Sprint(out)
	}
	if u, got := list(admin.GrantFilter{}); u != "" || got != "[maker@oms.example/ACC2 trader@oms.example/ACC1 trader@oms.example/ACC2]" {
		t.Fatalf("every grant: %q %s", u, got)
	}
	if u, got := list(admin.GrantFilter{UserID: "Trader@oms.example"}); u != traderEmail || got != "[trader@oms.example/ACC1 trader@oms.example/ACC2]" {
		t.Fatalf("by user: %q %s", u, got)
	}
	if _, got := list(admin.GrantFilter{AccountCode: "ACC2"}); got != "[maker@oms.example/ACC2 trader@oms.example/ACC2]" {
		t.Fatalf("by account: %s", got)
	}
	if _, got := list(admin.GrantFilter{UserID: traderEmail, AccountCode: "ACC2"}); got != "[trader@oms.example/ACC2]" {
		t.Fatalf("by both: %s", got)
	}
	if _, got := list(admin.GrantFilter{UserID: nobodyEmail}); got != "[]" {
		t.Fatalf("user without grants: %s", got)
	}
}

func TestSearchIsScopedByGrants(t *testing.T) {
	ctx := context.Background()
	f := setup(t, "099C000001", "099C000002", "099X000003", "ZZZ")
	for _, code := range []string{"099X000003", "099C000002", "099C000001"} {
		if _, err := f.svc.Grant(ctx, adminP, traderEmail, code, store.LevelTrade); err != nil {
			t.Fatal(err)
		}
	}
	search := func(p auth.Principal, q string, limit int) string {
		t.Helper()
		gs, err := f.svc.Search(ctx, p, q, limit)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprint(codesOf(gs))
	}
	if got := search(traderP, "", 0); got != "[099C000001=TRADE 099C000002=TRADE 099X000003=TRADE]" {
		t.Fatalf("all granted: %s", got)
	}
	if got := search(traderP, "099c", 0); got != "[099C000001=TRADE 099C000002=TRADE]" {
		t.Fatalf("q=099c: %s", got)
	}
	if got := search(traderP, "x0", 0); got != "[099X000003=TRADE]" {
		t.Fatalf("q=x0: %s", got)
	}
	if got := search(traderP, "zzz", 0); got != "[]" {
		t.Fatalf("an account without a grant was found: %s", got)
	}
	if got := search(traderP, "", 2); got != "[099C000001=TRADE 099C000002=TRADE]" {
		t.Fatalf("limit 2: %s", got)
	}
	if got := search(nobodyP, "", 0); got != "[]" {
		t.Fatalf("no grants: %s", got)
	}
	// Role admin does not bypass grants.
	if got := search(adminP, "", 0); got != "[]" {
		t.Fatalf("admin without grants: %s", got)
	}
	_, err := f.svc.Search(ctx, traderP, "", -1)
	wantCode(t, err, apperr.InvalidRequest)
}

func TestSearchLimits(t *testing.T) {
	ctx := context.Background()
	var codes []string
	for i := range admin.MaxSearchLimit + 10 {
		codes = append(codes, fmt.Sprintf("A%04d", i))
	}
	f := setup(t, codes...)
	if _, err := f.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		c := admin.Change{Actor: adminEmail, At: f.now}
		for _, code := range codes {
			if _, err := admin.GrantPermission(tx, c, traderEmail, code, store.LevelView); err != nil {
				return err
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct{ limit, want int }{{0, admin.DefaultSearchLimit}, {1, 1}, {admin.MaxSearchLimit, admin.MaxSearchLimit}, {10000, admin.MaxSearchLimit}} {
		gs, err := f.svc.Search(ctx, traderP, "a", tc.limit)
		if err != nil || len(gs) != tc.want || gs[0].AccountCode != "A0000" {
			t.Fatalf("limit %d: %d results, want %d (%v)", tc.limit, len(gs), tc.want, err)
		}
	}
}

func TestCreateGroup(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	g, err := f.svc.CreateGroup(ctx, makerP, "  Desk A ", "first")
	if err != nil || g.ID == 0 || g.Name != "Desk A" || g.CreatedBy != makerEmail || g.Description != "first" {
		t.Fatalf("create: %+v %v", g, err)
	}
	_, err = f.svc.CreateGroup(ctx, adminP, "Desk A", "again")
	wantCode(t, err, apperr.Conflict)
	_, err = f.svc.CreateGroup(ctx, adminP, " \t", "")
	wantCode(t, err, apperr.InvalidRequest)
	g2, err := f.svc.CreateGroup(ctx, adminP, "Desk B", "")
	if err != nil || g2.ID <= g.ID {
		t.Fatalf("second group: %+v %v", g2, err)
	}
	gs, err := f.svc.Groups(ctx, traderP)
	if err != nil || len(gs) != 2 || gs[0].Name != "Desk A" || gs[1].Name != "Desk B" {
		t.Fatalf("groups: %+v %v", gs, err)
	}
	es := f.audit(t, store.AuditFilter{Action: admin.ActionGroupCreated})
	if len(es) != 2 || es[0].Actor != adminEmail || es[1].Actor != makerEmail || es[1].EntityID != fmt.Sprint(g.ID) {
		t.Fatalf("audit: %+v", es)
	}
}

// Sixteen makers create a group with one name at once: exactly one wins,
// the others get Conflict, and one group and one audit entry exist.
func TestConcurrentCreateGroupOneWinner(t *testing.T) {
	ctx := context.Background()
	f := setup(t)
	const n = 16
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			_, errs[i] = f.svc.CreateGroup(ctx, makerP, "Hot desk", fmt.Sprint("attempt ", i))
		}()
	}
	close(start)
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch apperr.CodeOf(err) {
		case "":
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			wins++
		case apperr.Conflict:
		default:
			t.Fatalf("unexpected error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners, want 1", wins)
	}
	gs, _ := f.svc.Groups(ctx, makerP)
	if len(gs) != 1 {
		t.Fatalf("groups: %+v", gs)
	}
	if es := f.audit(t, store.AuditFilter{Action: admin.ActionGroupCreated}); len(es) != 1 {
		t.Fatalf("audit: %+v", es)
	}
}

func TestMoveReplacesMembershipAndRemove(t *testing.T) {
	ctx := context.Background()
	f := setup(t, "ACC1", "ACC2")
	a, _ := f.svc.CreateGroup(ctx, makerP, "A", "")
	b, _ := f.svc.CreateGroup(ctx, makerP, "B", "")
	for _, code := range []string{"ACC1", "ACC2"} {
		if _, err := f.svc.Grant(ctx, adminP, traderEmail, code, store.LevelView); err != nil {
			t.Fatal(err)
		}
	}
	members := func(id int64) string {
		t.Helper()
		g, ms, err := f.svc.Members(ctx, traderP, id)
		if err != nil || g.ID != id {
			t.Fatalf("members of %d: %+v %v", id, g, err)
		}
		var out []string
		for _, m := range ms {
			out = append(out, m.AccountCode)
		}
		return fmt.Sprint(out)
	}
	m, g, err := f.svc.Move(ctx, makerP, "ACC1", a.ID)
	if err != nil || m.GroupID != a.ID || g.Name != "A" || m.MovedBy != makerEmail {
		t.Fatalf("move: %+v %+v %v", m, g, err)
	}
	if _, _, err := f.svc.Move(ctx, makerP, "ACC2", a.ID); err != nil {
		t.Fatal(err)
	}
	f.advance(time.Minute)
	m, g, err = f.svc.Move(ctx, adminP, "ACC1", b.ID)
	if err != nil || m.GroupID != b.ID || g.Name != "B" || m.MovedBy != adminEmail || !m.UpdatedAt.Equal(f.now) {
		t.Fatalf("move again: %+v %+v %v", m, g, err)
	}
	if got := members(a.ID); got != "[ACC2]" {
		t.Fatalf("A after the move: %s", got)
	}
	if got := members(b.ID); got != "[ACC1]" {
		t.Fatalf("B after the move: %s", got)
	}
	_, _, err = f.svc.Move(ctx, makerP, "NOPE", a.ID)
	wantCode(t, err, apperr.NotFound)
	_, _, err = f.svc.Move(ctx, makerP, "ACC1", 999)
	wantCode(t, err, apperr.NotFound)
	_, _, err = f.svc.Members(ctx, traderP, 999)
	wantCode(t, err, apperr.NotFound)

	if err := f.svc.RemoveMember(ctx, makerP, "ACC2"); err != nil {
		t.Fatal(err)
	}
	if got := members(a.ID); got != "[]" {
		t.Fatalf("A after the removal: %s", got)
	}
	wantCode(t, f.svc.RemoveMember(ctx, makerP, "ACC2"), apperr.NotFound)
	wantCode(t, f.svc.RemoveMember(ctx, makerP, "NOPE"), apperr.NotFound)

	es := f.audit(t, store.AuditFilter{EntityType: admin.EntityAccount})
	var got []string
	for _, e := range es {
		got = append(got, e.Action+" "+e.EntityID+" by "+e.Actor)
	}
	want := "[MEMBER_REMOVED ACC2 by maker@oms.example ACCOUNT_MOVED ACC1 by admin@oms.example ACCOUNT_MOVED ACC2 by maker@oms.example ACCOUNT_MOVED ACC1 by maker@oms.example]"
	if fmt.Sprint(got) != want {
		t.Fatalf("audit:\n%v\nwant\n%s", got, want)
	}
	if string(es[1].Detail) == "" || es[1].RequestID != 0 {
		t.Fatalf("move entry: %+v", es[1])
	}
}

// Members are scoped by the caller's grants, whatever the role.
func TestMembersScopedByGrants(t *testing.T) {
	ctx := context.Background()
	f := setup(t, "ACC1", "ACC2", "ACC3")
	g, _ := f.svc.CreateGroup(ctx, makerP, "Desk", "")
	for _, code := range []string{"ACC1", "ACC2", "ACC3"} {
		if _, _, err := f.svc.Move(ctx, makerP, code, g.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.svc.Grant(ctx, adminP, traderEmail, "ACC2", store.LevelView); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		p    auth.Principal
		want string
	}{{traderP, "[ACC2]"}, {nobodyP, "[]"}, {adminP, "[]"}} {
		_, ms, err := f.svc.Members(ctx, tc.p, g.ID)
		if err != nil {
			t.Fatal(err)
		}
		got := []string{}
		for _, m := range ms {
			got = append(got, m.AccountCode)
		}
		if fmt.Sprint(got) != tc.want {
			t.Fatalf("%s sees %v, want %s", tc.p.Email, got, tc.want)
		}
	}
}

// The tx-level changes (shared with the workflow) normalise user ids and
// group names themselves, so either path keys records alike.
func TestChangesNormalise(t *testing.T) {
	ctx := context.Background()
	f := setup(t, "ACC1")
	c := admin.Change{Actor: makerEmail, At: f.now}
	if _, err := f.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		if _, err := admin.GrantPermission(tx, c, " TRADER@oms.Example", "ACC1", store.LevelView); err != nil {
			return err
		}
		_, err := admin.CreateGroup(tx, c, " Desk ", "")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if mine, _ := f.svc.MyGrants(ctx, traderP); fmt.Sprint(codesOf(mine)) != "[ACC1=VIEW]" {
		t.Fatalf("grant via the change: %v", codesOf(mine))
	}
	_, err := f.svc.CreateGroup(ctx, makerP, "Desk", "")
	wantCode(t, err, apperr.Conflict)
	_, err = f.svc.CreateGroup(ctx, makerP, "a\x00b", "")
	wantCode(t, err, apperr.InvalidRequest)
	if _, err := f.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		return admin.RevokePermission(tx, c, "Trader@OMS.example", "ACC1")
	}); err != nil {
		t.Fatal(err)
	}
	if mine, _ := f.svc.MyGrants(ctx, traderP); len(mine) != 0 {
		t.Fatalf("revoke via the change: %v", codesOf(mine))
	}
}
