package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/shopspring/decimal"
)

// The back office: accounts (the account master with its cash and
// holdings), permission grants, groups, OMS and order risk rules and the
// maker-checker workflow requests. Every change goes through
// UpdateBackOffice, which commits the change and its audit entries in one
// atomic step or not at all.

// GrantLevel is a permission on one account; levels are ordered.
type GrantLevel string

const (
	LevelView  GrantLevel = "VIEW"
	LevelTrade GrantLevel = "TRADE"
	LevelAdmin GrantLevel = "ADMIN"
)

// Rank orders levels (VIEW < TRADE < ADMIN); 0 for an unknown level.
func (l GrantLevel) Rank() int {
	switch l {
	case LevelView:
		return 1
	case LevelTrade:
		return 2
	case LevelAdmin:
		return 3
	}
	return 0
}

// Grant is one user's level on one account; one per (user, account).
type Grant struct {
	UserID      string // the identity's normalised email
	AccountCode string
	Level       GrantLevel
	GrantedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Account is the account master (the contract's MappingView) with its risk
// state. AccountCode is also the risk engine's account_id.
type Account struct {
	AccountCode        string
	Name               string
	InternalClientCode string
	ClientCode         string
	CompID             string
	AccountType        int32
	InvestCode         string
	FornInvestTypeCode string
	IsMMAccount        bool
	SenderSubID        string
	Email              string
	Phone              string

	// Cash in VND, exact.
	CashAvailable decimal.Decimal
	CashHold      decimal.Decimal
	// CashPending is sale proceeds not yet settled (T+2), by settlement
	// date: they become cash_available on that date (Settle).
	CashPending []DueCash
	BypassCash  bool
	BypassStock bool
	// Holdings sorted by Symbol, no two with the same Symbol.
	Holdings []Holding

	CreatedAt time.Time
	UpdatedAt time.Time
}

// Holding is a position in one instrument (ISIN).
type Holding struct {
	Symbol      string
	SellableQty int64
	HoldQty     int64
	AvgPrice    decimal.Decimal
	// Pending is bought shares not yet settled (T+2), by settlement date:
	// they become sellable on that date (Settle).
	Pending []DueShares

	// A futures position: SellableQty is the signed number of contracts
	// (negative: short), HoldQty stays 0 and AvgPrice is the average entry
	// price. Margin is the initial margin the position holds (VND, out of
	// the account's free cash); Basis is Σ signed contracts × price (index
	// points) since the last mark-to-market, so the day's variation is
	// SellableQty × settlement price − Basis; MarkedOn is the trading date
	// of that last mark.
	Margin   decimal.Decimal
	Basis    decimal.Decimal
	MarkedOn string
}

// DueShares is a quantity that settles on Date (YYYY-MM-DD).
type DueShares struct {
	Date string `json:"date"`
	Qty  int64  `json:"qty"`
}

// DueCash is an amount of VND that settles on Date (YYYY-MM-DD).
type DueCash struct {
	Date   string          `json:"date"`
	Amount decimal.Decimal `json:"amount"`
}

// PendingQty is the quantity bought and not yet settled.
func (h Holding) PendingQty() int64 {
	var n int64
	for _, d := range h.Pending {
		n += d.Qty
	}
	return n
}

// Position is every share of the holding: sellable, held and pending.
func (h Holding) Position() int64 { return h.SellableQty + h.HoldQty + h.PendingQty() }

// AddPending adds qty shares due on date, keeping Pending sorted by date
// with one entry per date.
func (h *Holding) AddPending(date string, qty int64) {
	p := slices.Clone(h.Pending)
	i, ok := slices.BinarySearchFunc(p, date, func(d DueShares, s string) int { return strings.Compare(d.Date, s) })
	if ok {
		p[i].Qty += qty
	} else {
		p = slices.Insert(p, i, DueShares{Date: date, Qty: qty})
	}
	h.Pending = p
}

// PositionMargin is the initial margin all of the account's futures
// positions hold: cash the account owns that is neither free nor held by
// an order.
func (a Account) PositionMargin() decimal.Decimal {
	sum := decimal.Zero
	for _, h := range a.Holdings {
		sum = sum.Add(h.Margin)
	}
	return sum
}

// PendingCash is the sale proceeds not yet settled.
func (a Account) PendingCash() decimal.Decimal {
	sum := decimal.Zero
	for _, d := range a.CashPending {
		sum = sum.Add(d.Amount)
	}
	return sum
}

// AddPendingCash adds amount due on date, keeping CashPending sorted by
// date with one entry per date.
func (a *Account) AddPendingCash(date string, amount decimal.Decimal) {
	p := slices.Clone(a.CashPending)
	i, ok := slices.BinarySearchFunc(p, date, func(d DueCash, s string) int { return strings.Compare(d.Date, s) })
	if ok {
		p[i].Amount = p[i].Amount.Add(amount)
	} else {
		p = slices.Insert(p, i, DueCash{Date: date, Amount: amount})
	}
	a.CashPending = p
}

// Settlement is what Settle moved on one account: cash that became
// available and shares that became sellable, by ISIN.
type Settlement struct {
	Cash   decimal.Decimal
	Shares map[string]int64
}

// Empty reports whether nothing settled.
func (s Settlement) Empty() bool { return s.Cash.IsZero() && len(s.Shares) == 0 }

// Settle moves everything due on or before date (YYYY-MM-DD) from pending
// to cash_available and sellable_qty, and returns the new account and what
// moved; a is not modified.
func (a Account) Settle(date string) (Account, Settlement) {
	out := a
	done := Settlement{Cash: decimal.Zero}
	var cash []DueCash
	for _, d := range a.CashPending {
		if d.Date <= date {
			done.Cash = done.Cash.Add(d.Amount)
		} else {
			cash = append(cash, d)
		}
	}
	out.CashPending = cash
	out.CashAvailable = a.CashAvailable.Add(done.Cash)
	for _, h := range a.Holdings {
		var keep []DueShares
		var n int64
		for _, d := range h.Pending {
			if d.Date <= date {
				n += d.Qty
			} else {
				keep = append(keep, d)
			}
		}
		if n == 0 {
			continue
		}
		if done.Shares == nil {
			done.Shares = map[string]int64{}
		}
		done.Shares[h.Symbol] = n
		h.Pending, h.SellableQty = keep, h.SellableQty+n
		out.SetHolding(h)
	}
	return out, done
}

// Holding returns the position in symbol and whether there is one.
func (a Account) Holding(symbol string) (Holding, bool) {
	i, ok := slices.BinarySearchFunc(a.Holdings, symbol, func(h Holding, s string) int { return strings.Compare(h.Symbol, s) })
	if !ok {
		return Holding{Symbol: symbol}, false
	}
	return a.Holdings[i], true
}

// SetHolding replaces (or inserts) h keeping the order; a position with no
// quantity left is removed.
func (a *Account) SetHolding(h Holding) {
	hs := slices.Clone(a.Holdings)
	i, ok := slices.BinarySearchFunc(hs, h.Symbol, func(x Holding, s string) int { return strings.Compare(x.Symbol, s) })
	switch {
	case h.SellableQty == 0 && h.HoldQty == 0 && len(h.Pending) == 0 && h.Margin.IsZero() && h.Basis.IsZero():
		if ok {
			hs = slices.Delete(hs, i, i+1)
		}
	case ok:
		hs[i] = h
	default:
		hs = slices.Insert(hs, i, h)
	}
	a.Holdings = hs
}

// Group gathers accounts; names are unique.
type Group struct {
	ID          int64
	Name        string
	Description string
	CreatedBy   string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// GroupMember puts one account in one group (an account is in at most one).
type GroupMember struct {
	AccountCode string
	GroupID     int64
	MovedBy     string
	UpdatedAt   time.Time
}

// Risk rule kinds and scopes.
const (
	RuleMarginAllowed          = "OMS_MARGIN_ALLOWED"
	RuleShortAllowed           = "OMS_SHORT_ALLOWED"
	RuleMarginRateSymbolISIN   = "OMS_MARGIN_RATE_SYMBOL_ISIN"
	RuleShortAllowedSymbolISIN = "OMS_SHORT_ALLOWED_SYMBOL_ISIN"
	ScopeSystem                = "SYSTEM"
	ScopeChannel               = "CHANNEL"
	ScopeAccount               = "ACCOUNT"
	ScopeSymbol                = "SYMBOL"
)

// RiskRuleKinds and RuleScopes list every known value.
var (
	RiskRuleKinds = []string{RuleMarginAllowed, RuleShortAllowed, RuleMarginRateSymbolISIN, RuleShortAllowedSymbolISIN}
	RuleScopes    = []string{ScopeSystem, ScopeChannel, ScopeAccount, ScopeSymbol}
	// OrderRiskRuleKinds: ORDER_BLOCK_TRADE_{MARKET|PRODUCT_GROUP|SYMBOL}_{ALL|BUY|SELL}.
	OrderRiskRuleKinds = func() []string {
		var out []string
		for _, subject := range []string{"MARKET", "PRODUCT_GROUP", "SYMBOL"} {
			for _, side := range []string{"ALL", "BUY", "SELL"} {
				out = append(out, "ORDER_BLOCK_TRADE_"+subject+"_"+side)
			}
		}
		return out
	}()
)

// RiskRule is an OMS risk rule, keyed by (Kind, Scope, Target).
type RiskRule struct {
	Kind, Scope, Target string
	Value               decimal.Decimal
	UpdatedBy           string
	UpdatedAt           time.Time
}

// OrderRiskRule is an order restriction rule, keyed by (Kind, Scope,
// Target, Match); Value 1 blocks, 0 disables.
type OrderRiskRule struct {
	Kind, Scope, Target, Match string
	Value                      decimal.Decimal
	UpdatedBy                  string
	UpdatedAt                  time.Time
}

// Workflow request statuses.
type RequestStatus string

const (
	StatusPending   RequestStatus = "PENDING"
	StatusApproved  RequestStatus = "APPROVED"
	StatusApplied   RequestStatus = "APPLIED"
	StatusFailed    RequestStatus = "FAILED"
	StatusRejected  RequestStatus = "REJECTED"
	StatusCancelled RequestStatus = "CANCELLED"
)

// WorkflowRequest is one maker-checker request.
type WorkflowRequest struct {
	ID          int64
	Type        string
	Payload     json.RawMessage // a JSON object, kept byte for byte
	Status      RequestStatus
	RequestedBy string
	ReviewedBy  string
	ReviewNote  string
	ApplyError  string
	CreatedAt   time.Time
	ReviewedAt  time.Time // zero until reviewed
	AppliedAt   time.Time // zero until applied or failed
}

// Paging of WorkflowRequests.
const (
	DefaultRequestLimit = 100
	MaxRequestLimit     = 1000
)

// RequestFilter selects workflow requests; empty fields match everything.
type RequestFilter struct {
	Status      RequestStatus
	Type        string
	RequestedBy string
	// Limit <= 0 means DefaultRequestLimit, capped at MaxRequestLimit.
	Limit, Offset int
}

// Match reports whether r passes the filter (paging aside).
func (f RequestFilter) Match(r WorkflowRequest) bool {
	return (f.Status == "" || r.Status == f.Status) &&
		(f.Type == "" || r.Type == f.Type) &&
		(f.RequestedBy == "" || r.RequestedBy == f.RequestedBy)
}

// Page returns the effective limit and offset.
func (f RequestFilter) Page() (limit, offset int) {
	limit = f.Limit
	if limit <= 0 {
		limit = DefaultRequestLimit
	}
	return min(limit, MaxRequestLimit), max(f.Offset, 0)
}

// ValidateKeyPart rejects an empty key part or one holding NUL, which
// adapters use to join compound keys.
func ValidateKeyPart(what, v string) error {
	if v == "" {
		return fmt.Errorf("%s: empty: %w", what, ErrInvalid)
	}
	if strings.ContainsRune(v, 0) {
		return fmt.Errorf("%s: NUL: %w", what, ErrInvalid)
	}
	return nil
}

// BackOffice keeps the back-office records. Reads see committed state;
// every change is made inside UpdateBackOffice.
type BackOffice interface {
	// Account returns one account; ErrNotFound when absent.
	Account(ctx context.Context, code string) (Account, error)
	// Accounts returns the accounts with these codes that exist, in the
	// order given (absent codes are skipped).
	Accounts(ctx context.Context, codes []string) ([]Account, error)
	// AccountCodes lists every account code, sorted.
	AccountCodes(ctx context.Context) ([]string, error)

	// GrantsOfUser lists a user's grants sorted by account code.
	GrantsOfUser(ctx context.Context, userID string) ([]Grant, error)
	// Grants lists every grant sorted by user, then account.
	Grants(ctx context.Context) ([]Grant, error)

	// Groups lists every group sorted by ID; Group returns one
	// (ErrNotFound when absent).
	Groups(ctx context.Context) ([]Group, error)
	Group(ctx context.Context, id int64) (Group, error)
	// GroupMembers lists a group's members sorted by account code.
	GroupMembers(ctx context.Context, groupID int64) ([]GroupMember, error)

	// RiskRules and OrderRiskRules list the rules in force, sorted by key.
	RiskRules(ctx context.Context) ([]RiskRule, error)
	OrderRiskRules(ctx context.Context) ([]OrderRiskRule, error)

	// WorkflowRequest returns one request (ErrNotFound when absent);
	// WorkflowRequests lists those matching f, newest (highest ID) first.
	WorkflowRequest(ctx context.Context, id int64) (WorkflowRequest, error)
	WorkflowRequests(ctx context.Context, f RequestFilter) ([]WorkflowRequest, error)

	// UpdateBackOffice runs fn and commits what it wrote, with the audit
	// entries it queued, as one atomic step: all or nothing. If fn returns
	// an error nothing is written and that error is returned. Adapters may
	// run fn more than once (a concurrent change to a record fn read makes
	// the commit retry from the start), so fn must have no effect outside
	// tx and must read before deciding. It returns the audit entries as
	// stored, with their IDs, in the order queued.
	UpdateBackOffice(ctx context.Context, fn func(tx BackOfficeTx) error) ([]AuditEntry, error)
}

// BackOfficeTx is the view fn gets inside UpdateBackOffice: reads see the
// committed state plus fn's own writes. Getters return found=false for an
// absent record. Errors are backend failures (ErrUnavailable) or
// ErrInvalid for a record the store cannot hold.
type BackOfficeTx interface {
	TradingTx

	Account(code string) (Account, bool, error)
	// PutAccount stores a with its holdings sorted by symbol; two holdings
	// of one symbol are ErrInvalid.
	PutAccount(a Account) error

	Grant(userID, accountCode string) (Grant, bool, error)
	PutGrant(g Grant) error
	DeleteGrant(userID, accountCode string) error

	Group(id int64) (Group, bool, error)
	GroupByName(name string) (Group, bool, error)
	// NewGroup stores g under the next group ID and returns it;
	// ErrConflict when a group already has g.Name.
	NewGroup(g Group) (Group, error)
	Member(accountCode string) (GroupMember, bool, error)
	PutMember(m GroupMember) error
	DeleteMember(accountCode string) error

	RiskRule(kind, scope, target string) (RiskRule, bool, error)
	PutRiskRule(r RiskRule) error
	DeleteRiskRule(kind, scope, target string) error
	OrderRiskRule(kind, scope, target, match string) (OrderRiskRule, bool, error)
	PutOrderRiskRule(r OrderRiskRule) error
	DeleteOrderRiskRule(kind, scope, target, match string) error

	Request(id int64) (WorkflowRequest, bool, error)
	// NewRequest stores r under the next request ID and returns it. IDs
	// come from one increasing sequence; a transaction that does not
	// commit leaves a gap.
	NewRequest(r WorkflowRequest) (WorkflowRequest, error)
	PutRequest(r WorkflowRequest) error

	// HasReferenceValue reads the reference lists (not part of the
	// transaction's conflict check: reference values are changed directly).
	HasReferenceValue(kind, value string) (bool, error)

	// Audit queues an entry, written with the commit (validated then).
	Audit(e AuditEntry)
}
