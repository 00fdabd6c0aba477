package workflow_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/workflow"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

const (
	maker   = "maker@oms.example"
	checker = "checker@oms.example"
	trader  = "trader@oms.example"
	acct    = workflow.DemoAccountAn
)

type fixture struct {
	ctx context.Context
	st  *memory.Store
	s   *workflow.Service
	at  time.Time
}

// newFixture is a memory store with the demo back office (reference
// values, two accounts) and three identities.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	st := memory.New()
	at := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	for i, email := range []string{maker, checker, trader} {
		if err := st.CreateIdentity(ctx, store.Identity{ID: fmt.Sprint("id-", i), Email: email, Roles: []string{"maker"},
			PasswordHash: "x", State: store.IdentityActive, CreatedAt: at, UpdatedAt: at}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := workflow.SeedDemo(ctx, st, at, nil); err != nil {
		t.Fatal(err)
	}
	return &fixture{ctx: ctx, st: st, s: workflow.New(st, st, func() time.Time { return at }), at: at}
}

func (f *fixture) create(t testing.TB, typ, payload string) store.WorkflowRequest {
	t.Helper()
	r, err := f.s.Create(f.ctx, maker, typ, json.RawMessage(payload))
	if err != nil {
		t.Fatalf("create %s %s: %v", typ, payload, err)
	}
	if r.Status != store.StatusPending || r.RequestedBy != maker || r.ID <= 0 {
		t.Fatalf("created: %+v", r)
	}
	return r
}

func (f *fixture) approve(t testing.TB, typ, payload string) store.WorkflowRequest {
	t.Helper()
	r := f.create(t, typ, payload)
	got, err := f.s.Approve(f.ctx, checker, r.ID, "ok")
	if err != nil {
		t.Fatalf("approve %s: %v", typ, err)
	}
	return got
}

func (f *fixture) account(t testing.TB, code string) store.Account {
	t.Helper()
	a, err := f.st.Account(f.ctx, code)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// actions lists the audit actions of request id (and of the changes it
// made), oldest first.
func (f *fixture) actions(t testing.TB, id int64) []string {
	t.Helper()
	es, err := f.st.ListAudit(f.ctx, store.AuditFilter{Limit: store.MaxAuditLimit})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for i := len(es) - 1; i >= 0; i-- {
		if es[i].RequestID == id {
			out = append(out, es[i].Action+" by "+es[i].Actor)
		}
	}
	return out
}

func codeOf(err error) apperr.Code { return apperr.CodeOf(err) }

func wantCode(t *testing.T, err error, code apperr.Code, contains string) {
	t.Helper()
	if codeOf(err) != code {
		t.Fatalf("error %v, want code %s", err, code)
	}
	if contains != "" && !strings.Contains(err.Error(), contains) {
		t.Fatalf("error %q does not mention %q", err, contains)
	}
}

func TestEveryTypeApplies(t *testing.T) {
	f := newFixture(t)
	const code = "099C000777"
	steps := []struct {
		typ, payload, change string
	}{
		{workflow.TypeCreateAccount, `{"account_code":"` + code + `","name":"Le Van Cuong","internal_client_code":"I1","client_code":"C1",
			"comp_id":"VOS","account_type":1,"invest_code":"8000","forn_invest_type_code":"00","is_mm_account":false,
			"sender_sub_id":"00991","email":"c@example.vn","phone":"+84"}`, "ACCOUNT_CREATED"},
		{workflow.TypeUpdateAccount, `{"account_code":"` + code + `","name":"Le Van C.","comp_id":"VOSX","bypass_cash":true}`, "ACCOUNT_UPDATED"},
		{workflow.TypeDeposit, `{"account_id":"` + code + `","amount":1000000.05}`, "CASH_DEPOSITED"},
		{workflow.TypeWithdraw, `{"account_id":"` + code + `","amount":0.05}`, "CASH_WITHDRAWN"},
		{workflow.TypeAddStock, `{"account_id":"` + code + `","symbol":"VN000000FPT1","quantity":300,"avg_price":118500.5}`, "STOCK_ADDED"},
		{workflow.TypeRemoveStock, `{"account_id":"` + code + `","symbol":"VN000000FPT1","quantity":100}`, "STOCK_REMOVED"},
		{workflow.TypeGrantPermission, `{"user_id":" Trader@OMS.example ","account_code":"` + code + `","level":"TRADE"}`, "PERMISSION_GRANTED"},
		{workflow.TypeCreateGroup, `{"name":"Desk 7","description":"d"}`, "GROUP_CREATED"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_MARGIN_RATE_SYMBOL_ISIN","scope":"SYMBOL","target":"VN000000FPT1","value":"0.35"}`, "RISK_RULE_SET"},
		{workflow.TypeDeleteRiskRule, `{"kind":"OMS_MARGIN_RATE_SYMBOL_ISIN","scope":"SYMBOL","target":"VN000000FPT1"}`, "RISK_RULE_DELETED"},
		{workflow.TypeCreateOrderRiskRule, `{"kind":"ORDER_BLOCK_TRADE_SYMBOL_BUY","scope":"ACCOUNT","target":"` + code + `","match":"VN000000FPT1","value":1}`, "ORDER_RISK_RULE_SET"},
		{workflow.TypeDeleteOrderRiskRule, `{"kind":"ORDER_BLOCK_TRADE_SYMBOL_BUY","scope":"ACCOUNT","target":"` + code + `","match":"VN000000FPT1"}`, "ORDER_RISK_RULE_DELETED"},
		{workflow.TypeRevokePermission, `{"user_id":"trader@oms.example","account_code":"` + code + `"}`, "PERMISSION_REVOKED"},
	}
	for _, s := range steps {
		got := f.approve(t, s.typ, s.payload)
		if got.Status != store.StatusApplied || got.ReviewedBy != checker || got.ReviewNote != "ok" ||
			!got.ReviewedAt.Equal(f.at) || !got.AppliedAt.Equal(f.at) || got.ApplyError != "" {
			t.Fatalf("%s: %+v", s.typ, got)
		}
		want := []string{"REQUEST_CREATED by " + maker, "REQUEST_APPROVED by " + checker, s.change + " by " + checker, "REQUEST_APPLIED by " + checker}
		if a := f.actions(t, got.ID); fmt.Sprint(a) != fmt.Sprint(want) {
			t.Fatalf("%s audit: %v, want %v", s.typ, a, want)
		}
		stored, err := f.s.Get(f.ctx, got.ID)
		if err != nil || stored.Status != store.StatusApplied {
			t.Fatalf("stored %s: %+v %v", s.typ, stored, err)
		}
	}
	a := f.account(t, code)
	if a.Name != "Le Van C." || a.CompID != "VOSX" || !a.BypassCash || a.SenderSubID != "00991" {
		t.Fatalf("account master: %+v", a)
	}
	if !a.CashAvailable.Equal(decimal.RequireFromString("1000000")) || a.CashAvailable.String() != "1000000" {
		t.Fatalf("cash %s, want exactly 1000000", a.CashAvailable)
	}
	h, ok := a.Holding("VN000000FPT1")
	if !ok || h.SellableQty != 200 || !h.AvgPrice.Equal(decimal.RequireFromString("118500.5")) {
		t.Fatalf("holding: %+v", h)
	}
	if _, found, _ := grantOf(f, trader, code); found {
		t.Fatal("the grant survived its revocation")
	}
	gs, _ := f.st.Groups(f.ctx)
	var desk int64
	for _, g := range gs {
		if g.Name == "Desk 7" {
			desk = g.ID
		}
	}
	if desk == 0 {
		t.Fatalf("group not created: %+v", gs)
	}
	moved := f.approve(t, workflow.TypeMoveAccount, fmt.Sprintf(`{"account_code":%q,"group_id":%d}`, code, desk))
	if moved.Status != store.StatusApplied {
		t.Fatalf("move: %+v", moved)
	}
	ms, _ := f.st.GroupMembers(f.ctx, desk)
	if len(ms) != 1 || ms[0].AccountCode != code {
		t.Fatalf("members: %+v", ms)
	}
	rules, _ := f.st.RiskRules(f.ctx)
	for _, r := range rules {
		if r.Kind == store.RuleMarginRateSymbolISIN {
			t.Fatalf("deleted rule still there: %+v", r)
		}
	}
}

func grantOf(f *fixture, user, code string) (store.Grant, bool, error) {
	gs, err := f.st.GrantsOfUser(f.ctx, user)
	for _, g := range gs {
		if g.AccountCode == code {
			return g, true, err
		}
	}
	return store.Grant{}, false, err
}

func TestGrantNormalisesTheUser(t *testing.T) {
	f := newFixture(t)
	f.approve(t, workflow.TypeGrantPermission, `{"user_id":" Trader@OMS.example ","account_code":"`+acct+`","level":"VIEW"}`)
	g, found, err := grantOf(f, trader, acct)
	if err != nil || !found || g.Level != store.LevelView || g.GrantedBy != checker {
		t.Fatalf("grant: %+v %v %v", g, found, err)
	}
}

// Refused changes make the request FAILED with apply_error, and nothing of
// the change is written or audited.
func TestRefusedChangesFail(t *testing.T) {
	f := newFixture(t)
	before := f.account(t, acct)
	cases := []struct{ typ, payload, errPart string }{
		{workflow.TypeWithdraw, `{"account_id":"` + acct + `","amount":1000000000.01}`, "insufficient cash"},
		{workflow.TypeRemoveStock, `{"account_id":"` + acct + `","symbol":"VN000000FPT1","quantity":10001}`, "insufficient stock"},
		{workflow.TypeRemoveStock, `{"account_id":"` + acct + `","symbol":"VN000000XXX0","quantity":1}`, "insufficient stock"},
		{workflow.TypeDeposit, `{"account_id":"NOPE","amount":1}`, "does not exist"},
		{workflow.TypeMoveAccount, `{"account_code":"` + acct + `","group_id":999}`, "group 999"},
		{workflow.TypeCreateAccount, `{"account_code":"` + acct + `","name":"x","internal_client_code":"x","client_code":"x",
			"comp_id":"VOS","account_type":1,"invest_code":"x","forn_invest_type_code":"x","is_mm_account":false,
			"sender_sub_id":"00991","email":"x","phone":"x"}`, "already exists"},
		{workflow.TypeRevokePermission, `{"user_id":"nobody@x","account_code":"` + acct + `"}`, "no grant"},
		{workflow.TypeDeleteRiskRule, `{"kind":"OMS_MARGIN_ALLOWED","scope":"ACCOUNT","target":"x"}`, "no OMS_MARGIN_ALLOWED rule"},
	}
	for _, c := range cases {
		got := f.approve(t, c.typ, c.payload)
		if got.Status != store.StatusFailed || !strings.Contains(got.ApplyError, c.errPart) ||
			got.ReviewedBy != checker || got.ReviewNote != "ok" || !got.AppliedAt.Equal(f.at) {
			t.Fatalf("%s %s: %+v", c.typ, c.payload, got)
		}
		want := []string{"REQUEST_CREATED by " + maker, "REQUEST_APPROVED by " + checker, "REQUEST_FAILED by " + checker}
		if a := f.actions(t, got.ID); fmt.Sprint(a) != fmt.Sprint(want) {
			t.Fatalf("%s audit: %v, want %v", c.typ, a, want)
		}
		stored, _ := f.s.Get(f.ctx, got.ID)
		if stored.Status != store.StatusFailed || stored.ApplyError != got.ApplyError {
			t.Fatalf("stored: %+v", stored)
		}
		// A failed request is final.
		_, err := f.s.Approve(f.ctx, checker, got.ID, "")
		wantCode(t, err, apperr.InvalidState, "FAILED")
	}
	after := f.account(t, acct)
	if !after.CashAvailable.Equal(before.CashAvailable) || fmt.Sprint(after.Holdings) != fmt.Sprint(before.Holdings) {
		t.Fatalf("account changed: %+v -> %+v", before, after)
	}
	es, _ := f.st.ListAudit(f.ctx, store.AuditFilter{Action: workflow.ActionCashWithdrawn})
	if len(es) != 0 {
		t.Fatalf("a CASH_WITHDRAWN entry was written: %+v", es)
	}
}

func TestFourEyesAndStates(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, workflow.TypeDeposit, `{"account_id":"`+acct+`","amount":5}`)
	_, err := f.s.Approve(f.ctx, maker, r.ID, "")
	wantCode(t, err, apperr.SameUserReview, "")
	_, err = f.s.Reject(f.ctx, maker, r.ID, "")
	wantCode(t, err, apperr.SameUserReview, "")
	_, err = f.s.Cancel(f.ctx, checker, r.ID)
	wantCode(t, err, apperr.Forbidden, "")
	if got, _ := f.s.Get(f.ctx, r.ID); got.Status != store.StatusPending {
		t.Fatalf("after refused reviews: %+v", got)
	}
	// Admins too: an admin's own request needs another reviewer.
	own, err := f.s.Create(f.ctx, "admin@oms.example", workflow.TypeDeposit, json.RawMessage(`{"account_id":"`+acct+`","amount":5}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = f.s.Approve(f.ctx, "admin@oms.example", own.ID, "")
	wantCode(t, err, apperr.SameUserReview, "")

	rej, err := f.s.Reject(f.ctx, checker, r.ID, "no")
	if err != nil || rej.Status != store.StatusRejected || rej.ReviewedBy != checker || rej.ReviewNote != "no" || !rej.AppliedAt.IsZero() {
		t.Fatalf("reject: %+v %v", rej, err)
	}
	for _, try := range []func() error{
		func() error { _, err := f.s.Approve(f.ctx, checker, r.ID, ""); return err },
		func() error { _, err := f.s.Reject(f.ctx, checker, r.ID, ""); return err },
		func() error { _, err := f.s.Cancel(f.ctx, maker, r.ID); return err },
	} {
		wantCode(t, try(), apperr.InvalidState, "REJECTED")
	}
	if a := f.actions(t, r.ID); fmt.Sprint(a) != fmt.Sprint([]string{"REQUEST_CREATED by " + maker, "REQUEST_REJECTED by " + checker}) {
		t.Fatalf("audit: %v", a)
	}

	c := f.create(t, workflow.TypeDeposit, `{"account_id":"`+acct+`","amount":5}`)
	got, err := f.s.Cancel(f.ctx, maker, c.ID)
	if err != nil || got.Status != store.StatusCancelled || got.ReviewedBy != "" {
		t.Fatalf("cancel: %+v %v", got, err)
	}
	_, err = f.s.Approve(f.ctx, checker, c.ID, "")
	wantCode(t, err, apperr.InvalidState, "CANCELLED")
	if a := f.actions(t, c.ID); fmt.Sprint(a) != fmt.Sprint([]string{"REQUEST_CREATED by " + maker, "REQUEST_CANCELLED by " + maker}) {
		t.Fatalf("audit: %v", a)
	}

	for _, id := range []int64{0, -1, 1 << 40} {
		_, err = f.s.Approve(f.ctx, checker, id, "")
		wantCode(t, err, apperr.NotFound, "")
		_, err = f.s.Reject(f.ctx, checker, id, "")
		wantCode(t, err, apperr.NotFound, "")
		_, err = f.s.Cancel(f.ctx, maker, id)
		wantCode(t, err, apperr.NotFound, "")
		_, err = f.s.Get(f.ctx, id)
		wantCode(t, err, apperr.NotFound, "")
	}
	for _, s := range []string{"", "abc", "0", "-3", "1.5", "99999999999999999999"} {
		_, err := workflow.ParseID(s)
		wantCode(t, err, apperr.NotFound, "positive integers")
	}
	if id, err := workflow.ParseID("42"); err != nil || id != 42 {
		t.Fatalf("ParseID(42) = %d, %v", id, err)
	}
}

// 16 reviewers approve one deposit at once: exactly one wins, the deposit
// lands once, the audit holds one approval and one deposit.
func TestConcurrentApprovals(t *testing.T) {
	f := newFixture(t)
	before := f.account(t, acct).CashAvailable
	r := f.create(t, workflow.TypeDeposit, `{"account_id":"`+acct+`","amount":1000.01}`)
	var wg sync.WaitGroup
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = f.s.Approve(f.ctx, fmt.Sprintf("checker%d@oms.example", i), r.ID, "")
		})
	}
	wg.Wait()
	wins := 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case codeOf(err) != apperr.InvalidState:
			t.Fatalf("loser error: %v", err)
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners", wins)
	}
	if got := f.account(t, acct).CashAvailable; !got.Equal(before.Add(decimal.RequireFromString("1000.01"))) {
		t.Fatalf("cash %s, want %s + 1000.01", got, before)
	}
	var approved, deposited int
	for _, a := range f.actions(t, r.ID) {
		approved += strings.Count(a, "REQUEST_APPROVED")
		deposited += strings.Count(a, "CASH_DEPOSITED")
	}
	if approved != 1 || deposited != 1 {
		t.Fatalf("audit: %v", f.actions(t, r.ID))
	}
}

// Concurrent approvals of a request whose change is refused: one FAILED,
// the rest InvalidState.
func TestConcurrentApprovalsOfAFailingRequest(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, workflow.TypeWithdraw, `{"account_id":"`+acct+`","amount":99999999999}`)
	var wg sync.WaitGroup
	res := make([]store.WorkflowRequest, 16)
	errs := make([]error, 16)
	for i := range errs {
		wg.Go(func() {
			res[i], errs[i] = f.s.Approve(f.ctx, fmt.Sprintf("checker%d@oms.example", i), r.ID, "")
		})
	}
	wg.Wait()
	wins := 0
	for i, err := range errs {
		switch {
		case err == nil && res[i].Status == store.StatusFailed:
			wins++
		case codeOf(err) != apperr.InvalidState:
			t.Fatalf("error %v, request %+v", err, res[i])
		}
	}
	if wins != 1 {
		t.Fatalf("%d winners", wins)
	}
	if a := f.actions(t, r.ID); len(a) != 3 {
		t.Fatalf("audit: %v", a)
	}
}

func TestPayloadValidation(t *testing.T) {
	f := newFixture(t)
	acctPayload := func(drop string, set ...string) string {
		m := map[string]any{"account_code": "099C000900", "name": "n", "internal_client_code": "i", "client_code": "c",
			"comp_id": "VOS", "account_type": 1, "invest_code": "8000", "forn_invest_type_code": "00", "is_mm_account": false,
			"sender_sub_id": "00991", "email": "e", "phone": "p"}
		delete(m, drop)
		for i := 0; i+1 < len(set); i += 2 {
			m[set[i]] = json.RawMessage(set[i+1])
		}
		b, _ := json.Marshal(m)
		return string(b)
	}
	cases := []struct{ typ, payload, want string }{
		{"NOPE", `{}`, "request_type"},
		{"", `{}`, "request_type"},
		{workflow.TypeDeposit, `[]`, "payload must be a JSON object"},
		{workflow.TypeDeposit, `null`, "payload must be a JSON object"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":1} {}`, "one JSON object"},
		{workflow.TypeDeposit, `{"account_id":"a"}`, "payload.amount is required"},
		{workflow.TypeDeposit, `{"amount":1}`, "payload.account_id is required"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":null}`, "payload.amount is required"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":"5"}`, "payload.amount must be a number"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":0}`, "payload.amount must be greater than 0"},
		{workflow.TypeWithdraw, `{"account_id":"a","amount":-1}`, "payload.amount must be greater than 0"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":1e400}`, "payload.amount is out of range"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":1e30}`, "payload.amount is out of range"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":1e-19}`, "payload.amount is out of range"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":1000000000000000.01}`, "payload.amount must be at most 1000000000000000"},
		{workflow.TypeWithdraw, `{"account_id":"a","amount":1e16}`, "payload.amount must be at most 1000000000000000"},
		{workflow.TypeAddStock, `{"account_id":"a","symbol":"S","quantity":9223372036854775807}`, "payload.quantity must be at most 1000000000000"},
		{workflow.TypeAddStock, `{"account_id":"a","symbol":"S","quantity":1,"avg_price":1000000000001}`, "payload.avg_price must be at most 1000000000000"},
		{workflow.TypeRemoveStock, `{"account_id":"a","symbol":"S","quantity":1000000000001}`, "payload.quantity must be at most 1000000000000"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":1e-999999999}`, "payload.amount"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":0e9999}`, "payload.amount must be greater than 0"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM","target":"*","value":"1e9999"}`, "payload.value is out of range"},
		{workflow.TypeDeposit, `{"account_id":"","amount":1}`, "payload.account_id must not be empty"},
		{workflow.TypeDeposit, `{"account_id":5,"amount":1}`, "payload.account_id must be a string"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":1,"foo":1}`, "payload.foo is not a field of DEPOSIT"},
		{workflow.TypeWithdraw, `{"account_id":"a","amount":1,"symbol":"x"}`, "payload.symbol is not a field of WITHDRAW"},
		{workflow.TypeDeposit, `{"account_id":"a","AMOUNT":1}`, "payload.AMOUNT is not a field of DEPOSIT"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":1,"amount":1000000}`, "payload.amount is given twice"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":1,"withdraw":true}`, "payload.withdraw is not a field of DEPOSIT"},
		{workflow.TypeDeposit, `{"account_id":"a","amount":1`, "payload is not valid JSON"},
		{workflow.TypeAddStock, `{"account_id":"a","symbol":"S"}`, "payload.quantity is required"},
		{workflow.TypeAddStock, `{"account_id":"a","symbol":"S","quantity":1.5}`, "payload.quantity must be an integer"},
		{workflow.TypeAddStock, `{"account_id":"a","symbol":"S","quantity":0}`, "payload.quantity must be greater than 0"},
		{workflow.TypeAddStock, `{"account_id":"a","symbol":"S","quantity":1,"avg_price":-1}`, "payload.avg_price must not be negative"},
		{workflow.TypeRemoveStock, `{"account_id":"a","symbol":"S","quantity":-2}`, "payload.quantity must be greater than 0"},
		{workflow.TypeRemoveStock, `{"account_id":"a","symbol":"S","quantity":1,"avg_price":1}`, "payload.avg_price is not a field of REMOVE_STOCK"},
		{workflow.TypeGrantPermission, `{"user_id":"trader@oms.example","account_code":"a","level":"OWNER"}`, "payload.level"},
		{workflow.TypeGrantPermission, `{"user_id":"trader@oms.example","account_code":"a"}`, "payload.level is required"},
		{workflow.TypeGrantPermission, `{"user_id":"ghost@oms.example","account_code":"a","level":"VIEW"}`, "payload.user_id"},
		{workflow.TypeRevokePermission, `{"user_id":"trader@oms.example","account_code":"a","level":"VIEW"}`, "payload.level is not a field of REVOKE_PERMISSION"},
		{workflow.TypeCreateGroup, `{"description":"d"}`, "payload.name is required"},
		{workflow.TypeCreateGroup, `{"name":"g","account_code":"x"}`, "payload.account_code is not a field of CREATE_GROUP"},
		{workflow.TypeMoveAccount, `{"account_code":"a"}`, "payload.group_id is required"},
		{workflow.TypeMoveAccount, `{"account_code":"a","group_id":"1"}`, "payload.group_id must be an integer"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_NOPE","scope":"SYSTEM","target":"*","value":1}`, "payload.kind"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"GALAXY","target":"*","value":1}`, "payload.scope"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM","target":"*"}`, "payload.value is required"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM","target":"*","value":"abc"}`, "payload.value must be a number or a numeric string"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM","target":"*","value":true}`, "payload.value must be a number or a numeric string"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM","target":"*","value":1,"match":"x"}`, "payload.match is not a field of CREATE_RISK_RULE"},
		{workflow.TypeDeleteRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM"}`, "payload.target is required"},
		{workflow.TypeCreateOrderRiskRule, `{"kind":"ORDER_BLOCK_TRADE_MOON_ALL","scope":"SYSTEM","target":"*","match":"x","value":1}`, "payload.kind"},
		{workflow.TypeCreateOrderRiskRule, `{"kind":"ORDER_BLOCK_TRADE_MARKET_ALL","scope":"SYSTEM","target":"*","value":1}`, "payload.match is required"},
		{workflow.TypeDeleteOrderRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM","target":"*","match":"x"}`, "payload.kind"},
		{workflow.TypeCreateAccount, acctPayload("phone"), "payload.phone is required"},
		{workflow.TypeCreateAccount, acctPayload("is_mm_account"), "payload.is_mm_account is required"},
		{workflow.TypeCreateAccount, acctPayload("", "comp_id", `"NOPE"`), "payload.comp_id \"NOPE\" is not in the comp_id reference list"},
		{workflow.TypeCreateAccount, acctPayload("", "sender_sub_id", `"77777"`), "payload.sender_sub_id"},
		{workflow.TypeCreateAccount, acctPayload("", "account_type", `"1"`), "payload.account_type must be an integer"},
		{workflow.TypeCreateAccount, acctPayload("", "is_mm_account", `"no"`), "payload.is_mm_account must be a boolean"},
		{workflow.TypeCreateAccount, acctPayload("", "cash", `5`), "payload.cash is not a field of CREATE_ACCOUNT"},
		{workflow.TypeUpdateAccount, `{"name":"x"}`, "payload.account_code is required"},
		{workflow.TypeUpdateAccount, `{"account_code":"a","comp_id":"NOPE"}`, "payload.comp_id"},
		{workflow.TypeUpdateAccount, `{"account_code":"a","amount":1}`, "payload.amount is not a field of UPDATE_ACCOUNT"},
	}
	for _, c := range cases {
		_, err := f.s.Create(f.ctx, maker, c.typ, json.RawMessage(c.payload))
		if codeOf(err) != apperr.InvalidRequest {
			t.Fatalf("%s %s: error %v, want invalid_request", c.typ, c.payload, err)
		}
		var ae *apperr.Error
		_ = errorsAs(err, &ae)
		if !strings.Contains(ae.Message, c.want) {
			t.Fatalf("%s %s: message %q does not say %q", c.typ, c.payload, ae.Message, c.want)
		}
	}
	if rs, _ := f.s.List(f.ctx, store.RequestFilter{}); len(rs) != 0 {
		t.Fatalf("refused payloads were stored: %+v", rs)
	}
	// Valid variants: a numeric string rule value; UPDATE_ACCOUNT with the code alone.
	f.create(t, workflow.TypeCreateRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM","target":"*","value":" 1 "}`)
	f.create(t, workflow.TypeUpdateAccount, `{"account_code":"a"}`)
	f.create(t, workflow.TypeAddStock, `{"account_id":"a","symbol":"S","quantity":1,"avg_price":0}`)
	f.create(t, workflow.TypeDeposit, `{"account_id":"a","amount":0.100000000000000000000}`)
	f.create(t, workflow.TypeDeposit, `{"account_id":"a","amount":1000000000000000}`) // the bound itself
	z := f.create(t, workflow.TypeCreateRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM","target":"*","value":0e9999}`)
	if got, err := f.s.Approve(f.ctx, checker, z.ID, ""); err != nil || got.Status != store.StatusApplied {
		t.Fatalf("zero rule: %+v %v", got, err)
	}
}

func TestPayloadAndAuditKeptExactly(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, workflow.TypeDeposit, "{ \"account_id\": \""+acct+"\",\n \"amount\": 1000000.05 }")
	if string(r.Payload) != `{"account_id":"`+acct+`","amount":1000000.05}` {
		t.Fatalf("payload %s", r.Payload)
	}
	es, _ := f.st.ListAudit(f.ctx, store.AuditFilter{Action: workflow.ActionRequestCreated})
	if len(es) != 1 || es[0].EntityType != workflow.EntityRequest || es[0].EntityID != fmt.Sprint(r.ID) ||
		es[0].RequestID != r.ID || es[0].Actor != maker ||
		string(es[0].Detail) != `{"payload":{"account_id":"`+acct+`","amount":1000000.05},"request_type":"DEPOSIT"}` {
		t.Fatalf("created entry: %+v %s", es, es[0].Detail)
	}
}

func TestList(t *testing.T) {
	f := newFixture(t)
	var ids []int64
	for i := range 5 {
		r := f.create(t, workflow.TypeDeposit, fmt.Sprintf(`{"account_id":"%s","amount":%d}`, acct, i+1))
		ids = append(ids, r.ID)
	}
	if _, err := f.s.Approve(f.ctx, checker, ids[1], ""); err != nil {
		t.Fatal(err)
	}
	other, err := f.s.Create(f.ctx, "admin@oms.example", workflow.TypeCreateGroup, json.RawMessage(`{"name":"g"}`))
	if err != nil {
		t.Fatal(err)
	}
	all, err := f.s.List(f.ctx, store.RequestFilter{})
	if err != nil || len(all) != 6 || all[0].ID != other.ID || all[5].ID != ids[0] {
		t.Fatalf("all (newest first): %+v %v", all, err)
	}
	pending, _ := f.s.List(f.ctx, store.RequestFilter{Status: store.StatusPending, RequestedBy: " Maker@OMS.example"})
	if len(pending) != 4 {
		t.Fatalf("pending of maker: %+v", pending)
	}
	page, _ := f.s.List(f.ctx, store.RequestFilter{Type: workflow.TypeDeposit, Limit: 2, Offset: 1})
	if len(page) != 2 || page[0].ID != ids[3] || page[1].ID != ids[2] {
		t.Fatalf("page: %+v", page)
	}
	for _, bad := range []store.RequestFilter{{Limit: -1}, {Limit: store.MaxRequestLimit + 1}, {Offset: -1}, {Status: "DONE"}, {Type: "NOPE"}} {
		_, err := f.s.List(f.ctx, bad)
		wantCode(t, err, apperr.InvalidRequest, "")
	}
}

// Approve, reject and cancel racing on one request: exactly one wins and
// the request ends in that winner's state.
func TestConcurrentMixedReviews(t *testing.T) {
	f := newFixture(t)
	for round := range 5 {
		r := f.create(t, workflow.TypeDeposit, `{"account_id":"`+acct+`","amount":1}`)
		var wg sync.WaitGroup
		res := make([]store.WorkflowRequest, 16)
		errs := make([]error, 16)
		for i := range errs {
			wg.Go(func() {
				reviewer := fmt.Sprintf("checker%d@oms.example", i)
				switch (i + round) % 3 {
				case 0:
					res[i], errs[i] = f.s.Approve(f.ctx, reviewer, r.ID, "")
				case 1:
					res[i], errs[i] = f.s.Reject(f.ctx, reviewer, r.ID, "")
				default:
					res[i], errs[i] = f.s.Cancel(f.ctx, maker, r.ID)
				}
			})
		}
		wg.Wait()
		var winner store.WorkflowRequest
		wins := 0
		for i, err := range errs {
			switch {
			case err == nil:
				wins++
				winner = res[i]
			case codeOf(err) != apperr.InvalidState:
				t.Fatalf("loser error: %v", err)
			}
		}
		stored, _ := f.s.Get(f.ctx, r.ID)
		if wins != 1 || stored.Status != winner.Status {
			t.Fatalf("round %d: %d winners, stored %s, winner %s", round, wins, stored.Status, winner.Status)
		}
		if n := len(f.actions(t, r.ID)); (winner.Status == store.StatusApplied && n != 4) || (winner.Status != store.StatusApplied && n != 2) {
			t.Fatalf("round %d: audit %v", round, f.actions(t, r.ID))
		}
	}
}

// downStore fails every back-office transaction as an unreachable backend.
type downStore struct{ *memory.Store }

func (downStore) UpdateBackOffice(context.Context, func(store.BackOfficeTx) error) ([]store.AuditEntry, error) {
	return nil, fmt.Errorf("redis: dial: %w", store.ErrUnavailable)
}

func (downStore) WorkflowRequests(context.Context, store.RequestFilter) ([]store.WorkflowRequest, error) {
	return nil, fmt.Errorf("redis: dial: %w", store.ErrUnavailable)
}

// Backend failures go back unchanged (the transport answers 502), never as
// a FAILED request or a domain code.
func TestStoreDownPassesThrough(t *testing.T) {
	f := newFixture(t)
	r := f.create(t, workflow.TypeDeposit, `{"account_id":"`+acct+`","amount":1}`)
	s := workflow.New(downStore{f.st}, f.st, nil)
	for name, call := range map[string]func() error{
		"create": func() error {
			_, err := s.Create(f.ctx, maker, workflow.TypeDeposit, json.RawMessage(`{"account_id":"a","amount":1}`))
			return err
		},
		"approve": func() error { _, err := s.Approve(f.ctx, checker, r.ID, ""); return err },
		"reject":  func() error { _, err := s.Reject(f.ctx, checker, r.ID, ""); return err },
		"cancel":  func() error { _, err := s.Cancel(f.ctx, maker, r.ID); return err },
		"list":    func() error { _, err := s.List(f.ctx, store.RequestFilter{}); return err },
	} {
		if err := call(); !errorsIs(err, store.ErrUnavailable) || codeOf(err) != "" {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if got, _ := f.s.Get(f.ctx, r.ID); got.Status != store.StatusPending {
		t.Fatalf("request changed: %+v", got)
	}
}

// Nothing a request adds can wrap: a position or a balance past its bound
// is refused at approval (FAILED, nothing moves), and stock added to a
// short covers it (the average is the fill price of what is left long).
func TestApprovalBoundsAndShorts(t *testing.T) {
	f := newFixture(t)
	const acct = workflow.DemoAccountBinh
	r := f.approve(t, workflow.TypeAddStock, `{"account_id":"`+acct+`","symbol":"BIG","quantity":1000000000000}`)
	if r.Status != store.StatusApplied {
		t.Fatalf("a bounded quantity: %+v", r)
	}
	for range 999 {
		f.approve(t, workflow.TypeAddStock, `{"account_id":"`+acct+`","symbol":"BIG","quantity":1000000000000}`)
	}
	r = f.approve(t, workflow.TypeAddStock, `{"account_id":"`+acct+`","symbol":"BIG","quantity":1}`)
	if r.Status != store.StatusFailed || !strings.Contains(r.ApplyError, "the most a holding may reach") {
		t.Fatalf("past the position bound: %+v", r)
	}
	if h, _ := f.account(t, acct).Holding("BIG"); h.SellableQty != store.MaxPosition {
		t.Fatalf("position %d, want %d", h.SellableQty, store.MaxPosition)
	}
	failed := 0
	for range 1001 {
		before := f.account(t, acct).CashAvailable
		r = f.approve(t, workflow.TypeDeposit, `{"account_id":"`+acct+`","amount":1000000000000000}`)
		if r.Status == store.StatusFailed {
			failed++
			if !f.account(t, acct).CashAvailable.Equal(before) || !strings.Contains(r.ApplyError, "the most an account may hold") {
				t.Fatalf("a refused deposit: %+v", r)
			}
		}
	}
	if cash := f.account(t, acct).CashAvailable; failed < 2 || cash.GreaterThan(store.MaxCash) {
		t.Fatalf("%d deposits refused; cash %s (bound %s)", failed, cash, store.MaxCash)
	}

	// A short of 300 (as a short sale's fill leaves it) covered by 500.
	_, err := f.st.UpdateBackOffice(f.ctx, func(tx store.BackOfficeTx) error {
		a, _, err := tx.Account(acct)
		if err != nil {
			return err
		}
		a.SetHolding(store.Holding{Symbol: "SHORT", SellableQty: -300, AvgPrice: decimal.RequireFromString("50000")})
		return tx.PutAccount(a)
	})
	if err != nil {
		t.Fatal(err)
	}
	f.approve(t, workflow.TypeAddStock, `{"account_id":"`+acct+`","symbol":"SHORT","quantity":300}`)
	if _, ok := f.account(t, acct).Holding("SHORT"); ok {
		t.Fatal("a short covered exactly is flat")
	}
	f.approve(t, workflow.TypeAddStock, `{"account_id":"`+acct+`","symbol":"SHORT","quantity":500,"avg_price":40000}`)
	if h, _ := f.account(t, acct).Holding("SHORT"); h.SellableQty != 500 || !h.AvgPrice.Equal(decimal.RequireFromString("40000")) {
		t.Fatalf("after a long from flat: %+v", h)
	}
}

// ADD_STOCK and REMOVE_STOCK move shares: a future, by ISIN or ticker, is
// refused when the request is made, and when one made without the master
// is approved (its contracts would have no margin and no mark-to-market
// basis, and the next mark would pay their whole value into cash).
func TestStockRequestsRefuseFutures(t *testing.T) {
	f := newFixture(t)
	withMaster := f.withDevMaster(t)
	const future = "VN41I1G20009" // VN30F2612 in the dev file
	for _, c := range []struct{ typ, payload string }{
		{workflow.TypeAddStock, `{"account_id":"099C000001","symbol":"` + future + `","quantity":10}`},
		{workflow.TypeAddStock, `{"account_id":"099C000001","symbol":"VN30F2612","quantity":10,"avg_price":1350}`},
		{workflow.TypeRemoveStock, `{"account_id":"099C000001","symbol":"` + future + `","quantity":1}`},
	} {
		_, err := withMaster.Create(f.ctx, maker, c.typ, json.RawMessage(c.payload))
		wantCode(t, err, apperr.InvalidRequest, "is a future (VN30F2612)")
	}
	// Made without the master, refused at approval: FAILED, nothing added.
	r := f.create(t, workflow.TypeAddStock, `{"account_id":"099C000001","symbol":"`+future+`","quantity":10}`)
	got, err := withMaster.Approve(f.ctx, checker, r.ID, "ok")
	if err != nil || got.Status != store.StatusFailed || !strings.Contains(got.ApplyError, "is a future") {
		t.Fatalf("approving ADD_STOCK of a future: %+v %v", got, err)
	}
	if _, held := f.account(t, "099C000001").Holding(future); held {
		t.Fatal("a futures position was added")
	}
	// Shares still move.
	if got := f.approveWith(t, withMaster, workflow.TypeAddStock, `{"account_id":"099C000001","symbol":"VN000000FPT1","quantity":5}`); got.Status != store.StatusApplied {
		t.Fatalf("ADD_STOCK of FPT: %+v", got)
	}
}

// Holdings are kept by ISIN: a ticker is refused with the ISIN to use (its
// shares would be a second position no order can sell), and ADD_STOCK of
// a symbol the master does not list is refused; REMOVE_STOCK of one goes
// on (an instrument that left the master) and finds no shares.
func TestStockRequestsTakeListedISINs(t *testing.T) {
	f := newFixture(t)
	withMaster := f.withDevMaster(t)
	for _, c := range []struct{ typ, payload, want string }{
		{workflow.TypeAddStock, `{"account_id":"099C000001","symbol":"FPT","quantity":10}`, "payload.symbol FPT is a ticker: holdings are kept by ISIN; use VN000000FPT1"},
		{workflow.TypeRemoveStock, `{"account_id":"099C000001","symbol":"FPT","quantity":1}`, "use VN000000FPT1"},
		{workflow.TypeAddStock, `{"account_id":"099C000001","symbol":"VN000000XXX0","quantity":10}`, "payload.symbol VN000000XXX0 is not an instrument of the market"},
	} {
		_, err := withMaster.Create(f.ctx, maker, c.typ, json.RawMessage(c.payload))
		wantCode(t, err, apperr.InvalidRequest, c.want)
	}
	// Made without the master, refused at approval: FAILED, nothing added.
	r := f.create(t, workflow.TypeAddStock, `{"account_id":"099C000001","symbol":"FPT","quantity":10}`)
	got, err := withMaster.Approve(f.ctx, checker, r.ID, "ok")
	if err != nil || got.Status != store.StatusFailed || !strings.Contains(got.ApplyError, "is a ticker") {
		t.Fatalf("approving ADD_STOCK of a ticker: %+v %v", got, err)
	}
	if _, held := f.account(t, "099C000001").Holding("FPT"); held {
		t.Fatal("a position under a ticker was added")
	}
	// An unlisted ISIN may be removed: the request is made and fails on
	// the shares, not the symbol.
	r, err = withMaster.Create(f.ctx, maker, workflow.TypeRemoveStock, json.RawMessage(`{"account_id":"099C000001","symbol":"VN000000XXX0","quantity":1}`))
	if err != nil {
		t.Fatalf("REMOVE_STOCK of an unlisted ISIN refused: %v", err)
	}
	got, err = withMaster.Approve(f.ctx, checker, r.ID, "ok")
	if err != nil || got.Status != store.StatusFailed || !strings.Contains(got.ApplyError, "insufficient stock") {
		t.Fatalf("approving REMOVE_STOCK of an unlisted ISIN: %+v %v", got, err)
	}
}

// A rule that names nothing of the market would be stored and apply to no
// order, silently: its target and match are checked against the master
// when the request is made and when it is applied (ACCOUNT targets then).
func TestRulesNameTheMarket(t *testing.T) {
	f := newFixture(t)
	withMaster := f.withDevMaster(t)
	block := func(kind, scope, target, match string) string {
		return `{"kind":"` + kind + `","scope":"` + scope + `","target":"` + target + `","match":"` + match + `","value":1}`
	}
	for _, c := range []struct{ typ, payload, want string }{
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_SHORT_ALLOWED","scope":"SYSTEM","target":"099C000001","value":1}`, "payload.target must be * for scope SYSTEM"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_MARGIN_RATE_SYMBOL_ISIN","scope":"SYMBOL","target":"FPT","value":"0.5"}`, "payload.target FPT is a ticker: SYMBOL rules target an ISIN; use VN000000FPT1"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_MARGIN_RATE_SYMBOL_ISIN","scope":"SYMBOL","target":"VN000000XXX0","value":"0.5"}`, "payload.target VN000000XXX0 is not an instrument of the market"},
		{workflow.TypeCreateRiskRule, `{"kind":"OMS_MARGIN_ALLOWED","scope":"CHANNEL","target":"WEB","value":1}`, `payload.target "WEB" is not a channel: CHANNEL rules target * or one of REST, FIX`},
		{workflow.TypeCreateOrderRiskRule, block("ORDER_BLOCK_TRADE_MARKET_ALL", "SYSTEM", "*", "HOSE"), `payload.match "HOSE" is not a market id: ORDER_BLOCK_TRADE_MARKET_ALL rules match * or one of STO, STX, UPX, DVX`},
		{workflow.TypeCreateOrderRiskRule, block("ORDER_BLOCK_TRADE_PRODUCT_GROUP_BUY", "SYSTEM", "*", "BONDS"), `payload.match "BONDS" is not a product group of the market: ORDER_BLOCK_TRADE_PRODUCT_GROUP_BUY rules match * or one of FIO, STO, STX, UPX`},
		{workflow.TypeCreateOrderRiskRule, block("ORDER_BLOCK_TRADE_SYMBOL_SELL", "SYSTEM", "*", "NOPE"), `payload.match "NOPE" is not an instrument of the market`},
		{workflow.TypeCreateOrderRiskRule, block("ORDER_BLOCK_TRADE_SYMBOL_SELL", "SYMBOL", "HPG", "HPG"), "payload.target HPG is a ticker"},
	} {
		_, err := withMaster.Create(f.ctx, maker, c.typ, json.RawMessage(c.payload))
		wantCode(t, err, apperr.InvalidRequest, c.want)
	}
	// What matching accepts is accepted: any case, ISIN or ticker, "*".
	for _, p := range []string{
		block("ORDER_BLOCK_TRADE_MARKET_ALL", "SYSTEM", "*", "upx"),
		block("ORDER_BLOCK_TRADE_PRODUCT_GROUP_SELL", "CHANNEL", "REST", "FIO"),
		block("ORDER_BLOCK_TRADE_SYMBOL_BUY", "SYMBOL", "VN000000HPG4", "hpg"),
		block("ORDER_BLOCK_TRADE_SYMBOL_ALL", "ACCOUNT", "099C000001", "VN000000FPT1"),
		block("ORDER_BLOCK_TRADE_SYMBOL_ALL", "ACCOUNT", "*", "*"),
	} {
		if got := f.approveWith(t, withMaster, workflow.TypeCreateOrderRiskRule, p); got.Status != store.StatusApplied {
			t.Errorf("%s: %+v", p, got)
		}
	}
	// An ACCOUNT target must exist when the rule is applied.
	r, err := withMaster.Create(f.ctx, maker, workflow.TypeCreateRiskRule, json.RawMessage(`{"kind":"OMS_MARGIN_ALLOWED","scope":"ACCOUNT","target":"099C999999","value":1}`))
	if err != nil {
		t.Fatal(err)
	}
	got, err := withMaster.Approve(f.ctx, checker, r.ID, "ok")
	if err != nil || got.Status != store.StatusFailed || !strings.Contains(got.ApplyError, `payload.target "099C999999" is not an account`) {
		t.Fatalf("approving a rule for a missing account: %+v %v", got, err)
	}
	// Made without the master, refused at approval: FAILED, no rule.
	r = f.create(t, workflow.TypeCreateOrderRiskRule, block("ORDER_BLOCK_TRADE_SYMBOL_ALL", "SYSTEM", "*", "NOPE"))
	if got, err = withMaster.Approve(f.ctx, checker, r.ID, "ok"); err != nil || got.Status != store.StatusFailed {
		t.Fatalf("approving a rule that matches nothing: %+v %v", got, err)
	}
}

// withDevMaster is the fixture's service checking requests against the
// dev instrument master.
func (f *fixture) withDevMaster(t testing.TB) *workflow.Service {
	t.Helper()
	cfg, err := market.Dev()
	if err != nil {
		t.Fatal(err)
	}
	return f.s.WithInstruments(cfg.Instruments)
}

// approveWith is approve through s.
func (f *fixture) approveWith(t testing.TB, s *workflow.Service, typ, payload string) store.WorkflowRequest {
	t.Helper()
	r, err := s.Create(f.ctx, maker, typ, json.RawMessage(payload))
	if err != nil {
		t.Fatalf("create %s: %v", typ, err)
	}
	got, err := s.Approve(f.ctx, checker, r.ID, "ok")
	if err != nil {
		t.Fatalf("approve %s: %v", typ, err)
	}
	return got
}
