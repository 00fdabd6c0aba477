package backoffice

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sync"
	"time"

	jsonv1 "github.com/go-json-experiment/json/v1"
	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
)

// Records are stored as JSON objects: money as decimal strings (exact),
// times as Unix milliseconds (0 = none), like every stored time.

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// encode is json.Marshal(v) as a string, written into a pooled buffer:
// Marshal's own result would be a second copy of every record's text
// (Encoder writes what Marshal returns, and a newline).
func encode(v any) (string, error) {
	buf := encodeBuffers.Get().(*bytes.Buffer)
	defer putEncodeBuffer(buf)
	if err := json.NewEncoder(buf).Encode(v); err != nil {
		return "", fmt.Errorf("back office: encode: %w", err)
	}
	return string(bytes.TrimSuffix(buf.Bytes(), []byte("\n"))), nil
}

var encodeBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// putEncodeBuffer keeps buffers up to 64 KiB (a big account's text): a
// rare huge record does not stay in the pool.
func putEncodeBuffer(b *bytes.Buffer) {
	if b.Cap() > 64<<10 {
		return
	}
	b.Reset()
	encodeBuffers.Put(b)
}

// unmarshal is encoding/json's Unmarshal as go-json-experiment's v1
// package implements it (what encoding/json itself becomes with
// GOEXPERIMENT=jsonv2, the same semantics on the v2 decoder): it decodes
// a stored order in about 40 % of encoding/json's time, and decoding
// records was the largest cost of an order. Encoding stays with
// encoding/json, which is the faster of the two there.
func unmarshal(s string, v any) error { return jsonv1.Unmarshal([]byte(s), v) }

func decode[R any, T any](what, s string, conv func(R) T) (T, error) {
	var r R
	if err := unmarshal(s, &r); err != nil {
		var zero T
		return zero, fmt.Errorf("back office: decode %s: %w", what, err)
	}
	return conv(r), nil
}

type holdingRecord struct {
	Symbol      string            `json:"symbol"`
	SellableQty int64             `json:"sellable_qty"`
	HoldQty     int64             `json:"hold_qty"`
	AvgPrice    decimal.Decimal   `json:"avg_price"`
	Pending     []store.DueShares `json:"pending,omitempty"`
	Margin      decimal.Decimal   `json:"margin,omitzero"`
	Basis       decimal.Decimal   `json:"basis,omitzero"`
	MarkedOn    string            `json:"marked_on,omitempty"`
}

type accountRecord struct {
	AccountCode        string          `json:"account_code"`
	Name               string          `json:"name"`
	InternalClientCode string          `json:"internal_client_code"`
	ClientCode         string          `json:"client_code"`
	CompID             string          `json:"comp_id"`
	AccountType        int32           `json:"account_type"`
	InvestCode         string          `json:"invest_code"`
	FornInvestTypeCode string          `json:"forn_invest_type_code"`
	IsMMAccount        bool            `json:"is_mm_account"`
	SenderSubID        string          `json:"sender_sub_id"`
	Email              string          `json:"email"`
	Phone              string          `json:"phone"`
	CashAvailable      decimal.Decimal `json:"cash_available"`
	CashHold           decimal.Decimal `json:"cash_hold"`
	CashPending        []store.DueCash `json:"cash_pending,omitempty"`
	BypassCash         bool            `json:"bypass_cash"`
	BypassStock        bool            `json:"bypass_stock"`
	Holdings           []holdingRecord `json:"holdings"`
	CreatedAt          int64           `json:"created_at"`
	UpdatedAt          int64           `json:"updated_at"`
}

func encodeAccount(a store.Account) (string, error) {
	hs := make([]holdingRecord, len(a.Holdings))
	for i, h := range a.Holdings {
		hs[i] = holdingRecord(h)
	}
	r := accountRecords.Get().(*accountRecord) // pooled, as encodeOrder's
	defer putAccountRecord(r)
	*r = accountRecord{
		AccountCode: a.AccountCode, Name: a.Name, InternalClientCode: a.InternalClientCode,
		ClientCode: a.ClientCode, CompID: a.CompID, AccountType: a.AccountType,
		InvestCode: a.InvestCode, FornInvestTypeCode: a.FornInvestTypeCode,
		IsMMAccount: a.IsMMAccount, SenderSubID: a.SenderSubID, Email: a.Email, Phone: a.Phone,
		CashAvailable: a.CashAvailable, CashHold: a.CashHold, CashPending: a.CashPending,
		BypassCash: a.BypassCash, BypassStock: a.BypassStock,
		Holdings: hs, CreatedAt: ms(a.CreatedAt), UpdatedAt: ms(a.UpdatedAt),
	}
	s, err := encode(r)
	if err == nil {
		seedAccount(s, *r)
	}
	return s, err
}

var accountRecords = sync.Pool{New: func() any { return new(accountRecord) }}

// putAccountRecord returns r to the pool, holding nothing.
func putAccountRecord(r *accountRecord) {
	*r = accountRecord{}
	accountRecords.Put(r)
}

func decodeAccount(s string) (store.Account, error) { return accountMemo.decode(s, decodeAccountJSON) }

func decodeAccountJSON(s string) (store.Account, error) {
	return decode("account", s, accountOf)
}

// accountOf is the account a decoded record holds.
func accountOf(r accountRecord) store.Account {
	var hs []store.Holding // nil without holdings, as before
	if len(r.Holdings) > 0 {
		hs = make([]store.Holding, len(r.Holdings))
	}
	for i, h := range r.Holdings {
		hs[i] = store.Holding(h)
	}
	return store.Account{
		AccountCode: r.AccountCode, Name: r.Name, InternalClientCode: r.InternalClientCode,
		ClientCode: r.ClientCode, CompID: r.CompID, AccountType: r.AccountType,
		InvestCode: r.InvestCode, FornInvestTypeCode: r.FornInvestTypeCode,
		IsMMAccount: r.IsMMAccount, SenderSubID: r.SenderSubID, Email: r.Email, Phone: r.Phone,
		CashAvailable: r.CashAvailable, CashHold: r.CashHold, CashPending: r.CashPending,
		BypassCash: r.BypassCash, BypassStock: r.BypassStock,
		Holdings: hs, CreatedAt: fromMS(r.CreatedAt), UpdatedAt: fromMS(r.UpdatedAt),
	}
}

type grantRecord struct {
	UserID      string `json:"user_id"`
	AccountCode string `json:"account_code"`
	Level       string `json:"level"`
	GrantedBy   string `json:"granted_by"`
	CreatedAt   int64  `json:"created_at"`
	UpdatedAt   int64  `json:"updated_at"`
}

func encodeGrant(g store.Grant) (string, error) {
	return encode(grantRecord{g.UserID, g.AccountCode, string(g.Level), g.GrantedBy, ms(g.CreatedAt), ms(g.UpdatedAt)})
}

func decodeGrant(s string) (store.Grant, error) {
	return decode("grant", s, func(r grantRecord) store.Grant {
		return store.Grant{UserID: r.UserID, AccountCode: r.AccountCode, Level: store.GrantLevel(r.Level),
			GrantedBy: r.GrantedBy, CreatedAt: fromMS(r.CreatedAt), UpdatedAt: fromMS(r.UpdatedAt)}
	})
}

type groupRecord struct {
	ID          int64  `json:"id"`
	Name        string `json:"name"`
	Description string `json:"description"`
	CreatedBy   string `json:"created_by"`
	CreatedAt   int64  `json:"created_at"`
	UpdatedAt   int64  `json:"updated_at"`
}

func encodeGroup(g store.Group) (string, error) {
	return encode(groupRecord{g.ID, g.Name, g.Description, g.CreatedBy, ms(g.CreatedAt), ms(g.UpdatedAt)})
}

func decodeGroup(s string) (store.Group, error) {
	return decode("group", s, func(r groupRecord) store.Group {
		return store.Group{ID: r.ID, Name: r.Name, Description: r.Description, CreatedBy: r.CreatedBy,
			CreatedAt: fromMS(r.CreatedAt), UpdatedAt: fromMS(r.UpdatedAt)}
	})
}

type memberRecord struct {
	AccountCode string `json:"account_code"`
	GroupID     int64  `json:"group_id"`
	MovedBy     string `json:"moved_by"`
	UpdatedAt   int64  `json:"updated_at"`
}

func encodeMember(m store.GroupMember) (string, error) {
	return encode(memberRecord{m.AccountCode, m.GroupID, m.MovedBy, ms(m.UpdatedAt)})
}

func decodeMember(s string) (store.GroupMember, error) {
	return decode("group member", s, func(r memberRecord) store.GroupMember {
		return store.GroupMember{AccountCode: r.AccountCode, GroupID: r.GroupID, MovedBy: r.MovedBy, UpdatedAt: fromMS(r.UpdatedAt)}
	})
}

type riskRuleRecord struct {
	Kind      string          `json:"kind"`
	Scope     string          `json:"scope"`
	Target    string          `json:"target"`
	Match     string          `json:"match,omitempty"`
	Value     decimal.Decimal `json:"value"`
	UpdatedBy string          `json:"updated_by"`
	UpdatedAt int64           `json:"updated_at"`
}

func encodeRiskRule(r store.RiskRule) (string, error) {
	return encode(riskRuleRecord{Kind: r.Kind, Scope: r.Scope, Target: r.Target, Value: r.Value, UpdatedBy: r.UpdatedBy, UpdatedAt: ms(r.UpdatedAt)})
}

func decodeRiskRule(s string) (store.RiskRule, error) {
	return decode("risk rule", s, func(r riskRuleRecord) store.RiskRule {
		return store.RiskRule{Kind: r.Kind, Scope: r.Scope, Target: r.Target, Value: r.Value, UpdatedBy: r.UpdatedBy, UpdatedAt: fromMS(r.UpdatedAt)}
	})
}

func encodeOrderRiskRule(r store.OrderRiskRule) (string, error) {
	return encode(riskRuleRecord{Kind: r.Kind, Scope: r.Scope, Target: r.Target, Match: r.Match, Value: r.Value, UpdatedBy: r.UpdatedBy, UpdatedAt: ms(r.UpdatedAt)})
}

func decodeOrderRiskRule(s string) (store.OrderRiskRule, error) {
	return decode("order risk rule", s, func(r riskRuleRecord) store.OrderRiskRule {
		return store.OrderRiskRule{Kind: r.Kind, Scope: r.Scope, Target: r.Target, Match: r.Match, Value: r.Value, UpdatedBy: r.UpdatedBy, UpdatedAt: fromMS(r.UpdatedAt)}
	})
}

type requestRecord struct {
	ID          int64  `json:"id"`
	Type        string `json:"request_type"`
	Payload     string `json:"payload"` // the client's JSON, byte for byte
	Status      string `json:"status"`
	RequestedBy string `json:"requested_by"`
	ReviewedBy  string `json:"reviewed_by,omitempty"`
	ReviewNote  string `json:"review_note,omitempty"`
	ApplyError  string `json:"apply_error,omitempty"`
	CreatedAt   int64  `json:"created_at"`
	ReviewedAt  int64  `json:"reviewed_at,omitempty"`
	AppliedAt   int64  `json:"applied_at,omitempty"`
}

func encodeRequest(r store.WorkflowRequest) (string, error) {
	if !json.Valid(r.Payload) || !bytes.HasPrefix(bytes.TrimSpace(r.Payload), []byte("{")) {
		return "", fmt.Errorf("workflow request %d: payload is not a JSON object: %w", r.ID, store.ErrInvalid)
	}
	return encode(requestRecord{
		ID: r.ID, Type: r.Type, Payload: string(r.Payload), Status: string(r.Status),
		RequestedBy: r.RequestedBy, ReviewedBy: r.ReviewedBy, ReviewNote: r.ReviewNote, ApplyError: r.ApplyError,
		CreatedAt: ms(r.CreatedAt), ReviewedAt: ms(r.ReviewedAt), AppliedAt: ms(r.AppliedAt),
	})
}

func decodeRequest(s string) (store.WorkflowRequest, error) {
	return decode("workflow request", s, func(r requestRecord) store.WorkflowRequest {
		return store.WorkflowRequest{
			ID: r.ID, Type: r.Type, Payload: json.RawMessage(r.Payload), Status: store.RequestStatus(r.Status),
			RequestedBy: r.RequestedBy, ReviewedBy: r.ReviewedBy, ReviewNote: r.ReviewNote, ApplyError: r.ApplyError,
			CreatedAt: fromMS(r.CreatedAt), ReviewedAt: fromMS(r.ReviewedAt), AppliedAt: fromMS(r.AppliedAt),
		}
	})
}
