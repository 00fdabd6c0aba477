package workflow

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/server/admin"
	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/store"
)

// Request types (the contract's WorkflowRequestPayload.request_type).
const (
	TypeCreateRiskRule      = "CREATE_RISK_RULE"
	TypeDeleteRiskRule      = "DELETE_RISK_RULE"
	TypeCreateOrderRiskRule = "CREATE_ORDER_RISK_RULE"
	TypeDeleteOrderRiskRule = "DELETE_ORDER_RISK_RULE"
	TypeGrantPermission     = "GRANT_PERMISSION"
	TypeRevokePermission    = "REVOKE_PERMISSION"
	TypeCreateGroup         = "CREATE_GROUP"
	TypeMoveAccount         = "MOVE_ACCOUNT"
	TypeCreateAccount       = "CREATE_ACCOUNT"
	TypeUpdateAccount       = "UPDATE_ACCOUNT"
	TypeDeposit             = "DEPOSIT"
	TypeWithdraw            = "WITHDRAW"
	TypeAddStock            = "ADD_STOCK"
	TypeRemoveStock         = "REMOVE_STOCK"
)

// change is a validated payload: what an approved request of its type does.
type change interface {
	// check verifies, after decoding, what the payload alone can tell
	// (required fields, positive amounts, known kinds); the error names
	// the field.
	check() error
	// apply makes the change inside tx, with its audit entries; an apperr
	// error is a refusal that makes the request FAILED.
	apply(ctx context.Context, s *Service, tx store.BackOfficeTx, c admin.Change) error
}

// createChecker is a change with checks against the store at creation
// (values that must be in the reference lists).
type createChecker interface {
	checkAtCreate(tx store.BackOfficeTx) error
}

// newChange returns the empty payload of a request type.
func newChange(requestType string) (change, bool) {
	switch requestType {
	case TypeCreateRiskRule:
		return &riskRulePayload{}, true
	case TypeDeleteRiskRule:
		return &deleteRiskRulePayload{}, true
	case TypeCreateOrderRiskRule:
		return &orderRiskRulePayload{}, true
	case TypeDeleteOrderRiskRule:
		return &deleteOrderRiskRulePayload{}, true
	case TypeGrantPermission:
		return &grantPayload{}, true
	case TypeRevokePermission:
		return &revokePayload{}, true
	case TypeCreateGroup:
		return &createGroupPayload{}, true
	case TypeMoveAccount:
		return &moveAccountPayload{}, true
	case TypeCreateAccount:
		return &createAccountPayload{}, true
	case TypeUpdateAccount:
		return &updateAccountPayload{}, true
	case TypeDeposit:
		return &cashPayload{withdraw: false}, true
	case TypeWithdraw:
		return &cashPayload{withdraw: true}, true
	case TypeAddStock:
		return &addStockPayload{}, true
	case TypeRemoveStock:
		return &removeStockPayload{}, true
	}
	return nil, false
}

// RequestTypes lists every request type.
var RequestTypes = []string{
	TypeCreateRiskRule, TypeDeleteRiskRule, TypeGrantPermission, TypeRevokePermission,
	TypeCreateGroup, TypeMoveAccount, TypeCreateAccount, TypeUpdateAccount,
	TypeDeposit, TypeWithdraw, TypeAddStock, TypeRemoveStock,
	TypeCreateOrderRiskRule, TypeDeleteOrderRiskRule,
}

// parsePayload decodes raw as requestType's payload, refusing unknown
// keys, wrong types and missing or invalid fields with an InvalidRequest
// naming the field.
func parsePayload(requestType string, raw []byte) (change, error) {
	ch, ok := newChange(requestType)
	if !ok {
		return nil, invalid(fmt.Sprintf("request_type %q is not one of %s", requestType, strings.Join(RequestTypes, ", ")))
	}
	if t := bytes.TrimSpace(raw); len(t) == 0 || t[0] != '{' {
		return nil, invalid("payload must be a JSON object")
	}
	if err := checkKeys(requestType, raw, ch); err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(ch); err != nil {
		return nil, decodeErr(requestType, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, invalid("payload must be one JSON object")
	}
	if err := ch.check(); err != nil {
		return nil, err
	}
	return ch, nil
}

// checkKeys refuses what encoding/json would let through: a key that
// matches a field only up to case ("AMOUNT") and a key given twice (the
// checker must see exactly what will be applied).
func checkKeys(requestType string, raw []byte, ch change) error {
	known := map[string]bool{}
	t := reflect.TypeOf(ch).Elem()
	for i := range t.NumField() {
		if name, _, _ := strings.Cut(t.Field(i).Tag.Get("json"), ","); name != "" && name != "-" {
			known[name] = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	if _, err := dec.Token(); err != nil { // the opening brace
		return invalid("payload is not valid JSON")
	}
	seen := map[string]bool{}
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return invalid("payload is not valid JSON")
		}
		key, _ := tok.(string)
		switch {
		case !known[key]:
			return invalid(fmt.Sprintf("payload.%s is not a field of %s", key, requestType))
		case seen[key]:
			return invalid(fmt.Sprintf("payload.%s is given twice", key))
		}
		seen[key] = true
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return invalid("payload is not valid JSON")
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return invalid("payload is not valid JSON")
	}
	return nil
}

func invalid(msg string) error { return apperr.New(apperr.InvalidRequest, msg) }

// decodeErr names the field a decoding error is about.
func decodeErr(requestType string, err error) error {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te):
		if te.Field == "" {
			return invalid("payload must be a JSON object")
		}
		return invalid(fmt.Sprintf("payload.%s must be %s", te.Field, describe(te.Type)))
	case errors.As(err, &se), errors.Is(err, io.ErrUnexpectedEOF):
		return invalid("payload is not valid JSON")
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if u, uerr := strconv.Unquote(name); uerr == nil {
			name = u
		}
		return invalid(fmt.Sprintf("payload.%s is not a field of %s", name, requestType))
	}
	return invalid("payload is not valid: " + err.Error())
}

var (
	typeExact     = reflect.TypeFor[exactNumber]()
	typeRuleValue = reflect.TypeFor[ruleValue]()
)

func describe(t reflect.Type) string {
	for t != nil && t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t {
	case nil:
		return "of another type"
	case typeExact:
		return "a number"
	case typeRuleValue:
		return "a number or a numeric string"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "a boolean"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return fmt.Sprintf("an integer (%d bits)", t.Bits())
	}
	return "of another type"
}

// exactNumber is a JSON number (never a string), kept exact.
type exactNumber struct{ d decimal.Decimal }

func (n *exactNumber) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return &json.UnmarshalTypeError{Value: "non-number", Type: typeExact}
	}
	d, err := decimal.NewFromString(string(b))
	if err != nil {
		return &json.UnmarshalTypeError{Value: "number", Type: typeExact}
	}
	if d.IsZero() {
		d = decimal.Zero // 0e999999999 would expand to a billion digits
	}
	n.d = d
	return nil
}

// ruleValue is a rule's value: a JSON number or a string holding one.
type ruleValue struct{ d decimal.Decimal }

func (v *ruleValue) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	s := string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return &json.UnmarshalTypeError{Value: "string", Type: typeRuleValue}
		}
		s = strings.TrimSpace(s)
	} else if len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return &json.UnmarshalTypeError{Value: "non-number", Type: typeRuleValue}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return &json.UnmarshalTypeError{Value: "string", Type: typeRuleValue}
	}
	if d.IsZero() {
		d = decimal.Zero
	}
	v.d = d
	return nil
}

// inRange refuses numbers no account could hold (and whose decimal
// expansion would be huge): at most 30 digits before the point and 18
// after it.
func inRange(name string, d decimal.Decimal) error {
	exp := d.Exponent()
	ok := exp >= -40 && int64(d.NumDigits())+int64(exp) <= 30
	if ok && exp < -18 {
		ok = d.Equal(d.Truncate(18))
	}
	if !ok {
		return invalid(fmt.Sprintf("payload.%s is out of range (at most 30 integer digits and 18 decimals)", name))
	}
	return nil
}

// checkQuantity accepts 1..store.MaxQuantity (sums must never wrap).
func checkQuantity(q int64) error {
	if q <= 0 {
		return invalid("payload.quantity must be greater than 0")
	}
	if q > store.MaxQuantity {
		return invalid(fmt.Sprintf("payload.quantity must be at most %d, got %d", store.MaxQuantity, q))
	}
	return nil
}

// atMostAmount refuses an amount or price above bound.
func atMostAmount(name string, d, bound decimal.Decimal) error {
	if d.GreaterThan(bound) {
		return invalid(fmt.Sprintf("payload.%s must be at most %s, got %s", name, bound, d))
	}
	return nil
}

// Field checks. Each names the field in the caller's terms (payload.x).

func required(name string, present bool) error {
	if !present {
		return invalid(fmt.Sprintf("payload.%s is required", name))
	}
	return nil
}

// requiredString: present, not blank, no NUL.
func requiredString(name string, v *string) error {
	if err := required(name, v != nil); err != nil {
		return err
	}
	return optionalString(name, v)
}

// optionalString: absent, or not blank and no NUL.
func optionalString(name string, v *string) error {
	if v == nil {
		return nil
	}
	if strings.TrimSpace(*v) == "" {
		return invalid(fmt.Sprintf("payload.%s must not be empty", name))
	}
	if strings.ContainsRune(*v, 0) {
		return invalid(fmt.Sprintf("payload.%s must not hold NUL characters", name))
	}
	return nil
}

func oneOf(name string, v string, allowed []string) error {
	if !slices.Contains(allowed, v) {
		return invalid(fmt.Sprintf("payload.%s %q is not one of %s", name, v, strings.Join(allowed, ", ")))
	}
	return nil
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// ---- risk rules ----

type riskRulePayload struct {
	Kind   *string    `json:"kind"`
	Scope  *string    `json:"scope"`
	Target *string    `json:"target"`
	Value  *ruleValue `json:"value"`
}

func (p *riskRulePayload) check() error {
	if err := firstErr(checkRuleKey(p.Kind, p.Scope, p.Target, store.RiskRuleKinds), required("value", p.Value != nil)); err != nil {
		return err
	}
	return inRange("value", p.Value.d)
}

func checkRuleKey(kind, scope, target *string, kinds []string) error {
	if err := firstErr(requiredString("kind", kind), requiredString("scope", scope), requiredString("target", target)); err != nil {
		return err
	}
	return firstErr(oneOf("kind", *kind, kinds), oneOf("scope", *scope, store.RuleScopes))
}

func (p *riskRulePayload) checkMarket(s *Service) error {
	return s.checkRuleTarget(*p.Scope, *p.Target)
}

func (p *riskRulePayload) apply(_ context.Context, s *Service, tx store.BackOfficeTx, c admin.Change) error {
	if err := firstErr(p.checkMarket(s), checkRuleAccount(tx, *p.Scope, *p.Target)); err != nil {
		return err
	}
	return SetRiskRule(tx, c, store.RiskRule{Kind: *p.Kind, Scope: *p.Scope, Target: *p.Target, Value: p.Value.d})
}

type deleteRiskRulePayload struct {
	Kind   *string `json:"kind"`
	Scope  *string `json:"scope"`
	Target *string `json:"target"`
}

func (p *deleteRiskRulePayload) check() error {
	return checkRuleKey(p.Kind, p.Scope, p.Target, store.RiskRuleKinds)
}

func (p *deleteRiskRulePayload) apply(_ context.Context, _ *Service, tx store.BackOfficeTx, c admin.Change) error {
	return DeleteRiskRule(tx, c, *p.Kind, *p.Scope, *p.Target)
}

type orderRiskRulePayload struct {
	Kind   *string    `json:"kind"`
	Scope  *string    `json:"scope"`
	Target *string    `json:"target"`
	Match  *string    `json:"match"`
	Value  *ruleValue `json:"value"`
}

func (p *orderRiskRulePayload) check() error {
	if err := firstErr(checkRuleKey(p.Kind, p.Scope, p.Target, store.OrderRiskRuleKinds),
		requiredString("match", p.Match), required("value", p.Value != nil)); err != nil {
		return err
	}
	return inRange("value", p.Value.d)
}

func (p *orderRiskRulePayload) checkMarket(s *Service) error {
	return firstErr(s.checkRuleTarget(*p.Scope, *p.Target), s.checkRuleMatch(*p.Kind, *p.Match))
}

func (p *orderRiskRulePayload) apply(_ context.Context, s *Service, tx store.BackOfficeTx, c admin.Change) error {
	if err := firstErr(p.checkMarket(s), checkRuleAccount(tx, *p.Scope, *p.Target)); err != nil {
		return err
	}
	return SetOrderRiskRule(tx, c, store.OrderRiskRule{Kind: *p.Kind, Scope: *p.Scope, Target: *p.Target, Match: *p.Match, Value: p.Value.d})
}

type deleteOrderRiskRulePayload struct {
	Kind   *string `json:"kind"`
	Scope  *string `json:"scope"`
	Target *string `json:"target"`
	Match  *string `json:"match"`
}

func (p *deleteOrderRiskRulePayload) check() error {
	return firstErr(checkRuleKey(p.Kind, p.Scope, p.Target, store.OrderRiskRuleKinds), requiredString("match", p.Match))
}

func (p *deleteOrderRiskRulePayload) apply(_ context.Context, _ *Service, tx store.BackOfficeTx, c admin.Change) error {
	return DeleteOrderRiskRule(tx, c, *p.Kind, *p.Scope, *p.Target, *p.Match)
}

// ---- grants and groups ----

type grantPayload struct {
	UserID      *string `json:"user_id"`
	AccountCode *string `json:"account_code"`
	Level       *string `json:"level"`
}

func (p *grantPayload) check() error {
	if err := firstErr(requiredString("user_id", p.UserID), requiredString("account_code", p.AccountCode),
		requiredString("level", p.Level)); err != nil {
		return err
	}
	return oneOf("level", *p.Level, []string{string(store.LevelView), string(store.LevelTrade), string(store.LevelAdmin)})
}

func (p *grantPayload) user() string { return auth.NormalizeEmail(*p.UserID) }

func (p *grantPayload) apply(ctx context.Context, s *Service, tx store.BackOfficeTx, c admin.Change) error {
	if err := s.userExists(ctx, p.user()); err != nil {
		return err
	}
	_, err := admin.GrantPermission(tx, c, p.user(), *p.AccountCode, store.GrantLevel(*p.Level))
	return err
}

type revokePayload struct {
	UserID      *string `json:"user_id"`
	AccountCode *string `json:"account_code"`
}

func (p *revokePayload) check() error {
	return firstErr(requiredString("user_id", p.UserID), requiredString("account_code", p.AccountCode))
}

func (p *revokePayload) apply(_ context.Context, _ *Service, tx store.BackOfficeTx, c admin.Change) error {
	return admin.RevokePermission(tx, c, auth.NormalizeEmail(*p.UserID), *p.AccountCode)
}

type createGroupPayload struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
}

func (p *createGroupPayload) check() error {
	if err := requiredString("name", p.Name); err != nil {
		return err
	}
	if p.Description != nil && strings.ContainsRune(*p.Description, 0) {
		return invalid("payload.description must not hold NUL characters")
	}
	return nil
}

func (p *createGroupPayload) apply(_ context.Context, _ *Service, tx store.BackOfficeTx, c admin.Change) error {
	desc := ""
	if p.Description != nil {
		desc = *p.Description
	}
	_, err := admin.CreateGroup(tx, c, *p.Name, desc)
	return err
}

type moveAccountPayload struct {
	AccountCode *string `json:"account_code"`
	GroupID     *int64  `json:"group_id"`
}

func (p *moveAccountPayload) check() error {
	if err := firstErr(requiredString("account_code", p.AccountCode), required("group_id", p.GroupID != nil)); err != nil {
		return err
	}
	if *p.GroupID <= 0 {
		return invalid("payload.group_id must be greater than 0")
	}
	return nil
}

func (p *moveAccountPayload) apply(_ context.Context, _ *Service, tx store.BackOfficeTx, c admin.Change) error {
	_, _, err := admin.MoveAccount(tx, c, *p.AccountCode, *p.GroupID)
	return err
}

// ---- accounts ----

// accountPayload holds the account master fields; CREATE_ACCOUNT requires
// the twelve of the contract, UPDATE_ACCOUNT only account_code.
type accountPayload struct {
	AccountCode        *string `json:"account_code"`
	Name               *string `json:"name"`
	InternalClientCode *string `json:"internal_client_code"`
	ClientCode         *string `json:"client_code"`
	CompID             *string `json:"comp_id"`
	AccountType        *int32  `json:"account_type"`
	InvestCode         *string `json:"invest_code"`
	FornInvestTypeCode *string `json:"forn_invest_type_code"`
	IsMMAccount        *bool   `json:"is_mm_account"`
	SenderSubID        *string `json:"sender_sub_id"`
	Email              *string `json:"email"`
	Phone              *string `json:"phone"`
	BypassCash         *bool   `json:"bypass_cash"`
	BypassStock        *bool   `json:"bypass_stock"`
}

func (p *accountPayload) fields() AccountFields {
	return AccountFields{Name: p.Name, InternalClientCode: p.InternalClientCode, ClientCode: p.ClientCode,
		CompID: p.CompID, AccountType: p.AccountType, InvestCode: p.InvestCode, FornInvestTypeCode: p.FornInvestTypeCode,
		IsMMAccount: p.IsMMAccount, SenderSubID: p.SenderSubID, Email: p.Email, Phone: p.Phone,
		BypassCash: p.BypassCash, BypassStock: p.BypassStock}
}

// checkStrings checks the string fields that are present; codes must not
// be blank, the others may be empty.
func (p *accountPayload) checkStrings() error {
	if err := firstErr(requiredString("account_code", p.AccountCode), optionalString("comp_id", p.CompID),
		optionalString("sender_sub_id", p.SenderSubID)); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", p.Name}, {"internal_client_code", p.InternalClientCode}, {"client_code", p.ClientCode},
		{"invest_code", p.InvestCode}, {"forn_invest_type_code", p.FornInvestTypeCode}, {"email", p.Email}, {"phone", p.Phone}} {
		if f.v != nil && strings.ContainsRune(*f.v, 0) {
			return invalid(fmt.Sprintf("payload.%s must not hold NUL characters", f.name))
		}
	}
	return nil
}

// checkAtCreate: comp_id and sender_sub_id must be in the reference lists.
func (p *accountPayload) checkAtCreate(tx store.BackOfficeTx) error {
	return checkReferences(tx, p.CompID, p.SenderSubID, "payload.")
}

// createAccountPayload and updateAccountPayload are accountPayload under
// their own checks (not embedded: decoding errors would name the embedded
// struct in the field path).
type createAccountPayload accountPayload

func (p *createAccountPayload) check() error {
	for _, f := range []struct {
		name    string
		present bool
	}{
		{"account_code", p.AccountCode != nil}, {"name", p.Name != nil}, {"internal_client_code", p.InternalClientCode != nil},
		{"client_code", p.ClientCode != nil}, {"comp_id", p.CompID != nil}, {"account_type", p.AccountType != nil},
		{"invest_code", p.InvestCode != nil}, {"forn_invest_type_code", p.FornInvestTypeCode != nil},
		{"is_mm_account", p.IsMMAccount != nil}, {"sender_sub_id", p.SenderSubID != nil}, {"email", p.Email != nil},
		{"phone", p.Phone != nil},
	} {
		if err := required(f.name, f.present); err != nil {
			return err
		}
	}
	return (*accountPayload)(p).checkStrings()
}

func (p *createAccountPayload) apply(_ context.Context, _ *Service, tx store.BackOfficeTx, c admin.Change) error {
	_, err := CreateAccount(tx, c, *p.AccountCode, (*accountPayload)(p).fields())
	return err
}

type updateAccountPayload accountPayload

func (p *updateAccountPayload) check() error { return (*accountPayload)(p).checkStrings() }

func (p *createAccountPayload) checkAtCreate(tx store.BackOfficeTx) error {
	return (*accountPayload)(p).checkAtCreate(tx)
}

func (p *updateAccountPayload) checkAtCreate(tx store.BackOfficeTx) error {
	return (*accountPayload)(p).checkAtCreate(tx)
}

func (p *updateAccountPayload) apply(_ context.Context, _ *Service, tx store.BackOfficeTx, c admin.Change) error {
	_, err := UpdateAccount(tx, c, *p.AccountCode, (*accountPayload)(p).fields())
	return err
}

// ---- cash and holdings ----

type cashPayload struct {
	AccountID *string      `json:"account_id"`
	Amount    *exactNumber `json:"amount"`
	withdraw  bool
}

func (p *cashPayload) check() error {
	if err := firstErr(requiredString("account_id", p.AccountID), required("amount", p.Amount != nil)); err != nil {
		return err
	}
	if !p.Amount.d.IsPositive() {
		return invalid("payload.amount must be greater than 0")
	}
	if err := inRange("amount", p.Amount.d); err != nil {
		return err
	}
	return atMostAmount("amount", p.Amount.d, store.MaxAmount)
}

func (p *cashPayload) apply(_ context.Context, _ *Service, tx store.BackOfficeTx, c admin.Change) error {
	var err error
	if p.withdraw {
		_, err = Withdraw(tx, c, *p.AccountID, p.Amount.d)
	} else {
		_, err = Deposit(tx, c, *p.AccountID, p.Amount.d)
	}
	return err
}

type addStockPayload struct {
	AccountID *string      `json:"account_id"`
	Symbol    *string      `json:"symbol"`
	Quantity  *int64       `json:"quantity"`
	AvgPrice  *exactNumber `json:"avg_price"`
}

func (p *addStockPayload) check() error {
	if err := firstErr(requiredString("account_id", p.AccountID), requiredString("symbol", p.Symbol),
		required("quantity", p.Quantity != nil)); err != nil {
		return err
	}
	if err := checkQuantity(*p.Quantity); err != nil {
		return err
	}
	if p.AvgPrice != nil {
		if p.AvgPrice.d.IsNegative() {
			return invalid("payload.avg_price must not be negative")
		}
		if err := inRange("avg_price", p.AvgPrice.d); err != nil {
			return err
		}
		return atMostAmount("avg_price", p.AvgPrice.d, store.MaxPrice)
	}
	return nil
}

func (p *addStockPayload) checkMarket(s *Service) error { return s.checkStockSymbol(*p.Symbol, true) }

func (p *addStockPayload) apply(_ context.Context, s *Service, tx store.BackOfficeTx, c admin.Change) error {
	if err := p.checkMarket(s); err != nil {
		return err
	}
	price := decimal.Zero
	if p.AvgPrice != nil {
		price = p.AvgPrice.d
	}
	_, err := AddStock(tx, c, *p.AccountID, *p.Symbol, *p.Quantity, price)
	return err
}

type removeStockPayload struct {
	AccountID *string `json:"account_id"`
	Symbol    *string `json:"symbol"`
	Quantity  *int64  `json:"quantity"`
}

func (p *removeStockPayload) check() error {
	if err := firstErr(requiredString("account_id", p.AccountID), requiredString("symbol", p.Symbol),
		required("quantity", p.Quantity != nil)); err != nil {
		return err
	}
	if err := checkQuantity(*p.Quantity); err != nil {
		return err
	}
	return nil
}

func (p *removeStockPayload) checkMarket(s *Service) error {
	return s.checkStockSymbol(*p.Symbol, false)
}

func (p *removeStockPayload) apply(_ context.Context, s *Service, tx store.BackOfficeTx, c admin.Change) error {
	if err := p.checkMarket(s); err != nil {
		return err
	}
	_, err := RemoveStock(tx, c, *p.AccountID, *p.Symbol, *p.Quantity)
	return err
}
