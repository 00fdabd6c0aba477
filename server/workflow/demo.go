package workflow

import (
	"context"
	"fmt"
	"time"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/admin"
	"github.com/vero-oms/omsd/store"
)

// DemoActor is the audit actor of the dev-mode demo data.
const DemoActor = "demo-seed@oms.example"

// Demo account codes (README walk-through).
const (
	DemoAccountAn   = "099C000001"
	DemoAccountBinh = "099C000002"
)

// DemoStore is what seeding needs.
type DemoStore interface {
	store.BackOffice
	PutReferenceValue(ctx context.Context, v store.ReferenceValue, audit store.AuditEntry) (store.ReferenceValue, store.AuditEntry, error)
}

// SeedDemo writes the dev-mode demo back office: reference values, two
// accounts with cash and holdings, grants for the demo identities (named
// by email in grants), a group and a risk rule of each kind. It does
// nothing when the demo accounts exist already (a kept Redis), and returns
// whether it wrote. Every record is audited under DemoActor. Production
// never calls it.
func SeedDemo(ctx context.Context, st DemoStore, now time.Time, grants map[string]store.GrantLevel) (bool, error) {
	c := admin.Change{Actor: DemoActor, At: now}
	for _, ref := range []store.ReferenceValue{
		{Kind: store.RefCompID, Value: "VOS"}, {Kind: store.RefCompID, Value: "VOSX"},
		{Kind: store.RefSenderSubID, Value: "00991"}, {Kind: store.RefSenderSubID, Value: "00992"},
	} {
		ref.CreatedBy, ref.CreatedAt = DemoActor, now
		a := c.Audit("REFERENCE_ADDED", "REFERENCE", ref.Kind+":"+ref.Value, map[string]string{"kind": ref.Kind, "value": ref.Value})
		if _, _, err := st.PutReferenceValue(ctx, ref, a); err != nil {
			return false, fmt.Errorf("demo reference values: %w", err)
		}
	}
	wrote := false
	_, err := st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		wrote = false
		if _, found, err := tx.Account(DemoAccountAn); err != nil || found {
			return err
		}
		wrote = true
		return seedDemoBackOffice(tx, c, grants)
	})
	if err != nil {
		return false, fmt.Errorf("demo back office: %w", err)
	}
	return wrote, nil
}

// demoStock is a demo account's opening position.
type demoStock struct {
	isin  string
	qty   int64
	price string
}

// demoAccounts are the demo clients.
var demoAccounts = []struct {
	code, name, email, phone, cash string
	stock                          []demoStock
}{
	{DemoAccountAn, "Nguyen Van An", "an.nguyen@example.vn", "+84901000001", "1000000000",
		[]demoStock{{"VN000000FPT1", 10000, "120000"}, {"VN000000VNM8", 5000, "65500"}}},
	{DemoAccountBinh, "Tran Thi Binh", "binh.tran@example.vn", "+84901000002", "250000000.50",
		[]demoStock{{"VN000000HPG4", 20000, "27350"}}},
}

// seedDemoBackOffice writes the demo accounts, grants, group and rules.
func seedDemoBackOffice(tx store.BackOfficeTx, c admin.Change, grants map[string]store.GrantLevel) error {
	str := func(s string) *string { return &s }
	typ, no := int32(1), false
	for _, acct := range demoAccounts {
		f := AccountFields{Name: str(acct.name), InternalClientCode: str(acct.code), ClientCode: str(acct.code),
			CompID: str("VOS"), AccountType: &typ, InvestCode: str("8000"), FornInvestTypeCode: str("00"),
			IsMMAccount: &no, SenderSubID: str("00991"), Email: str(acct.email), Phone: str(acct.phone)}
		if _, err := CreateAccount(tx, c, acct.code, f); err != nil {
			return err
		}
		if _, err := Deposit(tx, c, acct.code, decimal.RequireFromString(acct.cash)); err != nil {
			return err
		}
		for _, s := range acct.stock {
			if _, err := AddStock(tx, c, acct.code, s.isin, s.qty, decimal.RequireFromString(s.price)); err != nil {
				return err
			}
		}
	}
	for user, level := range grants {
		for _, code := range []string{DemoAccountAn, DemoAccountBinh} {
			if _, err := admin.GrantPermission(tx, c, user, code, level); err != nil {
				return err
			}
		}
	}
	g, err := admin.CreateGroup(tx, c, "Retail desk", "Demo retail clients")
	if err != nil {
		return err
	}
	for _, code := range []string{DemoAccountAn, DemoAccountBinh} {
		if _, _, err := admin.MoveAccount(tx, c, code, g.ID); err != nil {
			return err
		}
	}
	if err := SetRiskRule(tx, c, store.RiskRule{Kind: store.RuleShortAllowed, Scope: store.ScopeSystem, Target: "*", Value: decimal.Zero}); err != nil {
		return err
	}
	return SetOrderRiskRule(tx, c, store.OrderRiskRule{Kind: "ORDER_BLOCK_TRADE_MARKET_ALL", Scope: store.ScopeSystem, Target: "*", Match: "UPX", Value: decimal.Zero})
}
