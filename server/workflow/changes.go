package workflow

import (
	"fmt"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/admin"
	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/pretrade"
	"github.com/vero-oms/omsd/store"
)

// The account, cash, holding and risk-rule changes an approved request
// applies, each inside store.UpdateBackOffice with its audit entry. They
// check their preconditions against the state at apply time: an error
// here makes the request FAILED, and nothing of it is written.

// Audit actions and entity types of these changes.
const (
	ActionAccountCreated       = "ACCOUNT_CREATED"
	ActionAccountUpdated       = "ACCOUNT_UPDATED"
	ActionCashDeposited        = "CASH_DEPOSITED"
	ActionCashWithdrawn        = "CASH_WITHDRAWN"
	ActionStockAdded           = "STOCK_ADDED"
	ActionStockRemoved         = "STOCK_REMOVED"
	ActionRiskRuleSet          = "RISK_RULE_SET"
	ActionRiskRuleDeleted      = "RISK_RULE_DELETED"
	ActionOrderRiskRuleSet     = "ORDER_RISK_RULE_SET"
	ActionOrderRiskRuleDeleted = "ORDER_RISK_RULE_DELETED"
	EntityAccount              = admin.EntityAccount
	EntityRiskRule             = "RISK_RULE"
	EntityOrderRiskRule        = "ORDER_RISK_RULE"
)

// AccountFields are the account master's fields; nil leaves a field as it
// is on update (every one is set on create).
type AccountFields struct {
	Name, InternalClientCode, ClientCode, CompID *string
	AccountType                                  *int32
	InvestCode, FornInvestTypeCode               *string
	IsMMAccount                                  *bool
	SenderSubID, Email, Phone                    *string
	BypassCash, BypassStock                      *bool
}

func (f AccountFields) apply(a *store.Account) {
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&a.Name, f.Name)
	set(&a.InternalClientCode, f.InternalClientCode)
	set(&a.ClientCode, f.ClientCode)
	set(&a.CompID, f.CompID)
	set(&a.InvestCode, f.InvestCode)
	set(&a.FornInvestTypeCode, f.FornInvestTypeCode)
	set(&a.SenderSubID, f.SenderSubID)
	set(&a.Email, f.Email)
	set(&a.Phone, f.Phone)
	if f.AccountType != nil {
		a.AccountType = *f.AccountType
	}
	if f.IsMMAccount != nil {
		a.IsMMAccount = *f.IsMMAccount
	}
	if f.BypassCash != nil {
		a.BypassCash = *f.BypassCash
	}
	if f.BypassStock != nil {
		a.BypassStock = *f.BypassStock
	}
}

// checkReferences refuses comp_id / sender_sub_id values (nil: not given)
// missing from the controlled reference lists; prefix names where they
// came from in the message ("payload." when filed).
func checkReferences(tx store.BackOfficeTx, compID, senderSubID *string, prefix string) error {
	for _, ref := range []struct {
		kind string
		v    *string
	}{{store.RefCompID, compID}, {store.RefSenderSubID, senderSubID}} {
		if ref.v == nil {
			continue
		}
		ok, err := tx.HasReferenceValue(ref.kind, *ref.v)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.New(apperr.InvalidRequest, fmt.Sprintf("%s%s %q is not in the %s reference list", prefix, ref.kind, *ref.v, ref.kind))
		}
	}
	return nil
}

// CreateAccount opens an account with no cash and no holdings; Conflict
// when the code is taken.
func CreateAccount(tx store.BackOfficeTx, c admin.Change, code string, f AccountFields) (store.Account, error) {
	if _, found, err := tx.Account(code); err != nil {
		return store.Account{}, err
	} else if found {
		return store.Account{}, apperr.New(apperr.Conflict, fmt.Sprintf("account %q already exists", code))
	}
	if err := checkReferences(tx, f.CompID, f.SenderSubID, ""); err != nil {
		return store.Account{}, err
	}
	a := store.Account{AccountCode: code, CreatedAt: c.At, UpdatedAt: c.At}
	f.apply(&a)
	if err := tx.PutAccount(a); err != nil {
		return store.Account{}, err
	}
	tx.Audit(c.Audit(ActionAccountCreated, EntityAccount, code, masterDetail(a)))
	return a, nil
}

// UpdateAccount changes the fields f sets; cash and holdings stay.
func UpdateAccount(tx store.BackOfficeTx, c admin.Change, code string, f AccountFields) (store.Account, error) {
	a, err := account(tx, code)
	if err != nil {
		return store.Account{}, err
	}
	if err := checkReferences(tx, f.CompID, f.SenderSubID, ""); err != nil {
		return store.Account{}, err
	}
	before := masterDetail(a)
	f.apply(&a)
	a.UpdatedAt = c.At
	if err := tx.PutAccount(a); err != nil {
		return store.Account{}, err
	}
	after := masterDetail(a)
	changed := map[string]any{"account_code": code}
	for k, v := range after {
		if before[k] != v {
			changed[k] = v
		}
	}
	tx.Audit(c.Audit(ActionAccountUpdated, EntityAccount, code, changed))
	return a, nil
}

func masterDetail(a store.Account) map[string]any {
	return map[string]any{
		"account_code": a.AccountCode, "name": a.Name, "internal_client_code": a.InternalClientCode,
		"client_code": a.ClientCode, "comp_id": a.CompID, "account_type": a.AccountType,
		"invest_code": a.InvestCode, "forn_invest_type_code": a.FornInvestTypeCode,
		"is_mm_account": a.IsMMAccount, "sender_sub_id": a.SenderSubID, "email": a.Email, "phone": a.Phone,
		"bypass_cash": a.BypassCash, "bypass_stock": a.BypassStock,
	}
}

func account(tx store.BackOfficeTx, code string) (store.Account, error) {
	a, found, err := tx.Account(code)
	if err != nil {
		return store.Account{}, err
	}
	if !found {
		return store.Account{}, apperr.New(apperr.NotFound, fmt.Sprintf("account %q does not exist", code))
	}
	return a, nil
}

// Deposit adds amount (> 0) to the available cash.
func Deposit(tx store.BackOfficeTx, c admin.Change, code string, amount decimal.Decimal) (store.Account, error) {
	if !amount.IsPositive() {
		return store.Account{}, apperr.New(apperr.InvalidRequest, "amount must be greater than 0")
	}
	a, err := account(tx, code)
	if err != nil {
		return store.Account{}, err
	}
	if a.CashAvailable.Add(a.CashHold).Add(amount).GreaterThan(store.MaxCash) {
		return store.Account{}, apperr.New(apperr.InvalidRequest,
			fmt.Sprintf("the deposit would take the account's cash past %s, the most an account may hold", store.MaxCash))
	}
	before := a.CashAvailable
	a.CashAvailable = a.CashAvailable.Add(amount)
	a.UpdatedAt = c.At
	if err := tx.PutAccount(a); err != nil {
		return store.Account{}, err
	}
	tx.Audit(c.Audit(ActionCashDeposited, EntityAccount, code, map[string]string{
		"account_id": code, "amount": amount.String(),
		"cash_available_before": before.String(), "cash_available_after": a.CashAvailable.String(),
	}))
	return a, nil
}

// Withdraw takes amount (> 0) from the available cash; more than is
// available is refused and nothing changes.
func Withdraw(tx store.BackOfficeTx, c admin.Change, code string, amount decimal.Decimal) (store.Account, error) {
	if !amount.IsPositive() {
		return store.Account{}, apperr.New(apperr.InvalidRequest, "amount must be greater than 0")
	}
	a, err := account(tx, code)
	if err != nil {
		return store.Account{}, err
	}
	if amount.GreaterThan(a.CashAvailable) {
		return store.Account{}, apperr.New(apperr.InvalidRequest,
			fmt.Sprintf("insufficient cash: withdrawing %s from %s available", amount, a.CashAvailable))
	}
	before := a.CashAvailable
	a.CashAvailable = a.CashAvailable.Sub(amount)
	a.UpdatedAt = c.At
	if err := tx.PutAccount(a); err != nil {
		return store.Account{}, err
	}
	tx.Audit(c.Audit(ActionCashWithdrawn, EntityAccount, code, map[string]string{
		"account_id": code, "amount": amount.String(),
		"cash_available_before": before.String(), "cash_available_after": a.CashAvailable.String(),
	}))
	return a, nil
}

// AddStock adds qty (> 0) sellable shares of symbol. A positive avgPrice
// re-weights the average cost; zero leaves it as it is (a new position
// then starts at zero cost).
func AddStock(tx store.BackOfficeTx, c admin.Change, code, symbol string, qty int64, avgPrice decimal.Decimal) (store.Account, error) {
	if qty <= 0 {
		return store.Account{}, apperr.New(apperr.InvalidRequest, "quantity must be greater than 0")
	}
	if avgPrice.IsNegative() {
		return store.Account{}, apperr.New(apperr.InvalidRequest, "avg_price must not be negative")
	}
	a, err := account(tx, code)
	if err != nil {
		return store.Account{}, err
	}
	h, _ := a.Holding(symbol)
	before := h
	held := h.SellableQty + h.HoldQty
	if held+qty > store.MaxPosition {
		return store.Account{}, apperr.New(apperr.InvalidRequest,
			fmt.Sprintf("the position in %s would be %d shares, past %d, the most a holding may reach", symbol, held+qty, store.MaxPosition))
	}
	h.AvgPrice = addedAvgPrice(h.AvgPrice, held, qty, avgPrice)
	h.SellableQty += qty
	a.SetHolding(h)
	a.UpdatedAt = c.At
	if err := tx.PutAccount(a); err != nil {
		return store.Account{}, err
	}
	tx.Audit(c.Audit(ActionStockAdded, EntityAccount, code, map[string]any{
		"account_id": code, "symbol": symbol, "quantity": qty, "avg_price": avgPrice.String(),
		"sellable_qty_before": before.SellableQty, "sellable_qty_after": h.SellableQty,
		"avg_price_after": h.AvgPrice.String(),
	}))
	return a, nil
}

// addedAvgPrice is the average price after qty shares at price join a
// position of held (negative: a short). A price of 0 keeps the average,
// and a position that becomes long from flat or short at price 0 starts at
// zero cost; a positive price re-weights as a buy fill would.
func addedAvgPrice(avg decimal.Decimal, held, qty int64, price decimal.Decimal) decimal.Decimal {
	switch {
	case price.IsPositive():
		return pretrade.AvgPrice(avg, held, qty, price)
	case held+qty == 0, held <= 0:
		return decimal.Zero
	}
	return avg
}

// RemoveStock takes qty (> 0) sellable shares of symbol; more than is
// sellable is refused and nothing changes.
func RemoveStock(tx store.BackOfficeTx, c admin.Change, code, symbol string, qty int64) (store.Account, error) {
	if qty <= 0 {
		return store.Account{}, apperr.New(apperr.InvalidRequest, "quantity must be greater than 0")
	}
	a, err := account(tx, code)
	if err != nil {
		return store.Account{}, err
	}
	h, _ := a.Holding(symbol)
	if qty > h.SellableQty {
		return store.Account{}, apperr.New(apperr.InvalidRequest,
			fmt.Sprintf("insufficient stock: removing %d %s from %d sellable", qty, symbol, h.SellableQty))
	}
	before := h.SellableQty
	h.SellableQty -= qty
	a.SetHolding(h)
	a.UpdatedAt = c.At
	if err := tx.PutAccount(a); err != nil {
		return store.Account{}, err
	}
	tx.Audit(c.Audit(ActionStockRemoved, EntityAccount, code, map[string]any{
		"account_id": code, "symbol": symbol, "quantity": qty,
		"sellable_qty_before": before, "sellable_qty_after": h.SellableQty,
	}))
	return a, nil
}

// SetRiskRule creates or replaces an OMS risk rule.
func SetRiskRule(tx store.BackOfficeTx, c admin.Change, r store.RiskRule) error {
	r.UpdatedBy, r.UpdatedAt = c.Actor, c.At
	if err := tx.PutRiskRule(r); err != nil {
		return err
	}
	tx.Audit(c.Audit(ActionRiskRuleSet, EntityRiskRule, r.Kind+":"+r.Scope+":"+r.Target, map[string]string{
		"kind": r.Kind, "scope": r.Scope, "target": r.Target, "value": r.Value.String(),
	}))
	return nil
}

// DeleteRiskRule removes an OMS risk rule; NotFound when there is none.
func DeleteRiskRule(tx store.BackOfficeTx, c admin.Change, kind, scope, target string) error {
	if _, found, err := tx.RiskRule(kind, scope, target); err != nil {
		return err
	} else if !found {
		return apperr.New(apperr.NotFound, fmt.Sprintf("no %s rule for %s %q", kind, scope, target))
	}
	if err := tx.DeleteRiskRule(kind, scope, target); err != nil {
		return err
	}
	tx.Audit(c.Audit(ActionRiskRuleDeleted, EntityRiskRule, kind+":"+scope+":"+target, map[string]string{
		"kind": kind, "scope": scope, "target": target,
	}))
	return nil
}

// SetOrderRiskRule creates or replaces an order restriction rule.
func SetOrderRiskRule(tx store.BackOfficeTx, c admin.Change, r store.OrderRiskRule) error {
	r.UpdatedBy, r.UpdatedAt = c.Actor, c.At
	if err := tx.PutOrderRiskRule(r); err != nil {
		return err
	}
	tx.Audit(c.Audit(ActionOrderRiskRuleSet, EntityOrderRiskRule, r.Kind+":"+r.Scope+":"+r.Target+":"+r.Match, map[string]string{
		"kind": r.Kind, "scope": r.Scope, "target": r.Target, "match": r.Match, "value": r.Value.String(),
	}))
	return nil
}

// DeleteOrderRiskRule removes an order restriction rule; NotFound when
// there is none.
func DeleteOrderRiskRule(tx store.BackOfficeTx, c admin.Change, kind, scope, target, match string) error {
	if _, found, err := tx.OrderRiskRule(kind, scope, target, match); err != nil {
		return err
	} else if !found {
		return apperr.New(apperr.NotFound, fmt.Sprintf("no %s rule for %s %q matching %q", kind, scope, target, match))
	}
	if err := tx.DeleteOrderRiskRule(kind, scope, target, match); err != nil {
		return err
	}
	tx.Audit(c.Audit(ActionOrderRiskRuleDeleted, EntityOrderRiskRule, kind+":"+scope+":"+target+":"+match, map[string]string{
		"kind": kind, "scope": scope, "target": target, "match": match,
	}))
	return nil
}
