package workflow_test

import (
	"testing"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/workflow"
	"github.com/vero-oms/omsd/store"
)

// A GRANT_PERMISSION naming its reviewer is refused (SelfGrant) and stays
// PENDING for another reviewer; the grantee may still reject it. Filing a
// request for oneself is allowed: someone else must approve it.
func TestApprovingOwnGrantIsRefused(t *testing.T) {
	f := newFixture(t)
	grant := `{"user_id":" Checker@OMS.example ","account_code":"` + acct + `","level":"TRADE"}`
	r := f.create(t, workflow.TypeGrantPermission, grant)
	_, err := f.s.Approve(f.ctx, checker, r.ID, "")
	wantCode(t, err, apperr.SelfGrant, "another user must approve it")
	if got, _ := f.s.Get(f.ctx, r.ID); got.Status != store.StatusPending {
		t.Fatalf("after the refusal: %+v", got)
	}
	if a := f.actions(t, r.ID); len(a) != 1 {
		t.Fatalf("audit: %v", a)
	}
	got, err := f.s.Approve(f.ctx, "admin@oms.example", r.ID, "")
	if err != nil || got.Status != store.StatusApplied {
		t.Fatalf("approved by another: %+v %v", got, err)
	}
	if g, found, _ := grantOf(f, checker, acct); !found || g.GrantedBy != "admin@oms.example" {
		t.Fatalf("grant: %+v", g)
	}
	// A maker may file a grant for themselves; four eyes then decide.
	own := f.create(t, workflow.TypeGrantPermission, `{"user_id":"maker@oms.example","account_code":"`+acct+`","level":"VIEW"}`)
	_, err = f.s.Approve(f.ctx, maker, own.ID, "")
	wantCode(t, err, apperr.SameUserReview, "")
	if got, err := f.s.Approve(f.ctx, checker, own.ID, ""); err != nil || got.Status != store.StatusApplied {
		t.Fatalf("the maker's own request, approved by a checker: %+v %v", got, err)
	}
	rej, err := f.s.Reject(f.ctx, checker, f.create(t, workflow.TypeGrantPermission, grant).ID, "no thanks")
	if err != nil || rej.Status != store.StatusRejected {
		t.Fatalf("the grantee rejects: %+v %v", rej, err)
	}
}
