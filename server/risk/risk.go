// Package risk serves the Portfolio & Risk reads: account mappings, cash
// and holdings, and the OMS and order risk rules in force. Account data is
// scoped by the caller's grants, whatever their role: roles gate functions,
// grants gate data. An account the caller holds no grant on is absent from
// the lists and NotFound on the single-account reads, with the same answer
// as an account that does not exist (no existence leak).
//
// The engine's account_id (risk) and the admin account_code are the same
// value. Money and prices stay exact decimals here; turning them into the
// contract's doubles is the transport's business.
package risk

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/store"
)

// Store is the part of the store this service needs.
type Store interface {
	// Account returns one account; store.ErrNotFound when absent.
	Account(ctx context.Context, code string) (store.Account, error)
	// Accounts returns the accounts with these codes that exist, in the
	// order given.
	Accounts(ctx context.Context, codes []string) ([]store.Account, error)
	// GrantsOfUser lists a user's grants sorted by account code.
	GrantsOfUser(ctx context.Context, userID string) ([]store.Grant, error)
	// RiskRules and OrderRiskRules list the rules in force, sorted by key.
	RiskRules(ctx context.Context) ([]store.RiskRule, error)
	OrderRiskRules(ctx context.Context) ([]store.OrderRiskRule, error)
}

// Service answers the risk reads.
type Service struct {
	st Store
}

// New returns the service over st.
func New(st Store) *Service { return &Service{st: st} }

// Accounts lists every account user (an identity's normalised email) holds
// a grant on, at any level, sorted by account code. Grants on accounts
// that no longer exist are skipped.
func (s *Service) Accounts(ctx context.Context, user string) ([]store.Account, error) {
	grants, err := s.st.GrantsOfUser(ctx, user)
	if err != nil {
		return nil, err
	}
	if len(grants) == 0 {
		return []store.Account{}, nil
	}
	codes := make([]string, 0, len(grants))
	for _, g := range grants {
		if g.Level.Rank() > 0 {
			codes = append(codes, g.AccountCode)
		}
	}
	// GrantsOfUser is sorted by account code; sort anyway so the answer's
	// order never depends on an adapter's.
	slices.Sort(codes)
	codes = slices.Compact(codes)
	return s.st.Accounts(ctx, codes)
}

// Account returns one account user holds a grant on. Without a grant, or
// when the account does not exist, it is apperr.NotFound with the same
// message either way.
func (s *Service) Account(ctx context.Context, user, code string) (store.Account, error) {
	grants, err := s.st.GrantsOfUser(ctx, user)
	if err != nil {
		return store.Account{}, err
	}
	i, ok := slices.BinarySearchFunc(grants, code, func(g store.Grant, c string) int { return strings.Compare(g.AccountCode, c) })
	if !ok || grants[i].Level.Rank() == 0 {
		return store.Account{}, notFound(code)
	}
	a, err := s.st.Account(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return store.Account{}, notFound(code)
	}
	return a, err
}

// Readable returns the accounts user may read: a grant at any level
// (VIEW and up), the rule of Account and Accounts, as a set for callers
// that check many accounts at once (the Streaming API's channel
// permissions and its revocation round). Whether each account still
// exists is Account's question.
func (s *Service) Readable(ctx context.Context, user string) (map[string]bool, error) {
	grants, err := s.st.GrantsOfUser(ctx, user)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(grants))
	for _, g := range grants {
		if g.Level.Rank() >= store.LevelView.Rank() {
			out[g.AccountCode] = true
		}
	}
	return out, nil
}

// RiskRules lists the OMS risk rules in force, sorted by (kind, scope,
// target).
func (s *Service) RiskRules(ctx context.Context) ([]store.RiskRule, error) {
	rs, err := s.st.RiskRules(ctx)
	if err != nil {
		return nil, err
	}
	if rs == nil {
		rs = []store.RiskRule{}
	}
	return rs, nil
}

// OrderRiskRules lists the order restriction rules in force, sorted by
// (kind, scope, target, match).
func (s *Service) OrderRiskRules(ctx context.Context) ([]store.OrderRiskRule, error) {
	rs, err := s.st.OrderRiskRules(ctx)
	if err != nil {
		return nil, err
	}
	if rs == nil {
		rs = []store.OrderRiskRule{}
	}
	return rs, nil
}

// notFound is the one answer for an account the caller may not see,
// whether or not it exists.
func notFound(code string) error {
	return apperr.New(apperr.NotFound, fmt.Sprintf("account %q not found", code))
}
