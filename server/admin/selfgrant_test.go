package admin_test

import (
	"context"
	"testing"

	"github.com/vero-oms/omsd/server/admin"
	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/store"
)

// No one grants themselves, whatever their role, however the email is
// spelt; nothing is written or audited. Revoking one's own grant is
// allowed, and granting someone else still works.
func TestGrantToSelfIsRefused(t *testing.T) {
	ctx := context.Background()
	f := setup(t, "ACC1", "ACC2")
	cases := []struct {
		name, user string
		level      store.GrantLevel
		byAdmin    bool
	}{
		{"maker, TRADE", makerEmail, store.LevelTrade, false},
		{"maker, case and blanks", "  MAKER@oms.Example ", store.LevelView, false},
		{"admin, ADMIN", adminEmail, store.LevelAdmin, true},
		{"admin, unknown level", adminEmail, "OWNER", true},
	}
	for _, c := range cases {
		p := makerP
		if c.byAdmin {
			p = adminP
		}
		_, err := f.svc.Grant(ctx, p, c.user, "ACC1", c.level)
		wantCode(t, err, apperr.SelfGrant)
	}
	if gs, _ := f.st.Grants(ctx); len(gs) != 0 {
		t.Fatalf("self-grants were stored: %v", codesOf(gs))
	}
	if es := f.audit(t, store.AuditFilter{}); len(es) != 0 {
		t.Fatalf("refused self-grants were audited: %+v", es)
	}

	// Someone else grants the maker; the maker may revoke it.
	if _, err := f.svc.Grant(ctx, adminP, makerEmail, "ACC2", store.LevelTrade); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Revoke(ctx, makerP, "Maker@OMS.example", "ACC2"); err != nil {
		t.Fatalf("revoking one's own grant: %v", err)
	}
	if mine, _ := f.svc.MyGrants(ctx, makerP); len(mine) != 0 {
		t.Fatalf("maker's grants after the revoke: %v", codesOf(mine))
	}
}

// The shared change refuses a grant to its own actor, so no path (direct,
// workflow, a future one) can hand it out; other actors, including the
// seeding ones, grant as before.
func TestGrantPermissionChangeRefusesItsActor(t *testing.T) {
	ctx := context.Background()
	f := setup(t, "ACC1")
	_, err := f.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		_, err := admin.GrantPermission(tx, admin.Change{Actor: traderEmail, At: f.now, RequestID: 7}, " Trader@OMS.example", "ACC1", store.LevelTrade)
		return err
	})
	wantCode(t, err, apperr.SelfGrant)
	_, err = f.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		_, err := admin.GrantPermission(tx, admin.Change{Actor: makerEmail, At: f.now, RequestID: 8}, traderEmail, "ACC1", store.LevelTrade)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if gs, _ := f.st.Grants(ctx); len(gs) != 1 || gs[0].UserID != traderEmail || gs[0].GrantedBy != makerEmail {
		t.Fatalf("grants: %+v", gs)
	}
}
