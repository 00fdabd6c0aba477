// Package admin serves permission grants, the account search and groups.
// Grants gate data, roles gate functions: every account read is scoped by
// the caller's grants, whatever their role (admin included). Role checks
// (who may grant, create groups, move accounts) live in the contract
// overlay's x-required-roles, not here.
//
// Scoping decisions:
//   - Permissions: GET /util/permissions shows the caller's own grants; the
//     admin listing (role admin) shows every grant: grants are the
//     permission data itself, not account data, and the admin role exists
//     to manage them.
//   - Search answers only accounts the caller holds a grant on.
//   - Groups (id, name, description) are listed for every caller: a group
//     holds no account data. Group members are account codes, so a member
//     listing shows only the accounts the caller holds a grant on (the
//     issue's scoping list does not name groups, but listing members must
//     not leak account codes the caller may not see). An unknown group is
//     404; a known group whose members the caller cannot see is an empty
//     list.
//   - The direct changes (grant, revoke, create group, move, remove
//     member) are functions of the maker and admin roles and act on any
//     account: like the workflow changes they are back-office functions,
//     and a maker need not hold a grant on an account to manage it. Each
//     writes its audit entry in the same atomic step.
package admin

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/store"
)

// Paging of the account search (the contract declares limit 1..200).
const (
	DefaultSearchLimit = 50
	MaxSearchLimit     = 200
)

// Store is the part of the store this service needs.
type Store interface {
	store.BackOffice
}

// Identities tells whether a user exists (grants name users by email).
type Identities interface {
	IdentityByEmail(ctx context.Context, email string) (store.Identity, error)
}

// Service serves grants, the account search and groups.
type Service struct {
	st  Store
	ids Identities
	now func() time.Time
}

// New returns the service; now stamps records and audit entries (nil:
// time.Now).
func New(st Store, ids Identities, now func() time.Time) *Service {
	return &Service{st: st, ids: ids, now: StoredClock(now)}
}

// StoredClock stamps with now (nil: time.Now) in whole milliseconds, UTC,
// as records are stored, so an answer and a later read of the same record
// agree.
func StoredClock(now func() time.Time) func() time.Time {
	if now == nil {
		now = time.Now
	}
	return func() time.Time { return now().UTC().Truncate(time.Millisecond) }
}

// UserID is the user id of an identity in grants and audit entries: its
// normalised email.
func UserID(email string) string { return auth.NormalizeEmail(email) }

func (s *Service) change(p auth.Principal) Change {
	return Change{Actor: UserID(p.Email), At: s.now()}
}

// ---- permissions ----

// MyGrants lists the caller's own grants, sorted by account code.
func (s *Service) MyGrants(ctx context.Context, p auth.Principal) ([]store.Grant, error) {
	gs, err := s.st.GrantsOfUser(ctx, UserID(p.Email))
	return gs, StoreErr(err)
}

// GrantFilter selects grants; empty fields match everything.
type GrantFilter struct {
	UserID      string // normalised before matching
	AccountCode string
}

// Grants lists the grants matching f (role admin, checked by the
// transport): sorted by user, then account. It returns the user filter as
// matched (normalised; "" when there was none).
func (s *Service) Grants(ctx context.Context, _ auth.Principal, f GrantFilter) (string, []store.Grant, error) {
	user := ""
	if strings.TrimSpace(f.UserID) != "" {
		user = UserID(f.UserID)
	}
	var (
		gs  []store.Grant
		err error
	)
	if user != "" {
		gs, err = s.st.GrantsOfUser(ctx, user)
	} else {
		gs, err = s.st.Grants(ctx)
	}
	if err != nil {
		return "", nil, StoreErr(err)
	}
	if f.AccountCode != "" {
		out := gs[:0:0]
		for _, g := range gs {
			if g.AccountCode == f.AccountCode {
				out = append(out, g)
			}
		}
		gs = out
	}
	return user, gs, nil
}

// Grant gives userID (an identity's email) level on accountCode on behalf
// of p, replacing the level the user held there. NotFound for an unknown
// user or account; InvalidRequest for an unknown level.
func (s *Service) Grant(ctx context.Context, p auth.Principal, userID, accountCode string, level store.GrantLevel) (store.Grant, error) {
	if UserID(userID) == UserID(p.Email) {
		// The power to trade an account must come from someone else: a
		// maker who grants itself TRADE can then move stock alone.
		return store.Grant{}, apperr.New(apperr.SelfGrant, "you cannot grant yourself a level on an account; another maker or an admin must")
	}
	if level.Rank() == 0 {
		return store.Grant{}, apperr.New(apperr.InvalidRequest, fmt.Sprintf("level %q is not one of VIEW, TRADE, ADMIN", level))
	}
	user, err := s.knownUser(ctx, userID)
	if err != nil {
		return store.Grant{}, err
	}
	if strings.TrimSpace(accountCode) == "" {
		return store.Grant{}, apperr.New(apperr.InvalidRequest, "account_code must not be empty")
	}
	c := s.change(p)
	var g store.Grant
	_, err = s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		var err error
		g, err = GrantPermission(tx, c, user, accountCode, level)
		return err
	})
	if err != nil {
		return store.Grant{}, StoreErr(err)
	}
	return g, nil
}

// Revoke removes userID's grant on accountCode on behalf of p; NotFound
// when there is none. It returns the user id as matched (normalised).
func (s *Service) Revoke(ctx context.Context, p auth.Principal, userID, accountCode string) (string, error) {
	user := UserID(userID)
	if user == "" || strings.TrimSpace(accountCode) == "" {
		return "", apperr.New(apperr.InvalidRequest, "user_id and account_code must not be empty")
	}
	c := s.change(p)
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		return RevokePermission(tx, c, user, accountCode)
	})
	if err != nil {
		return "", StoreErr(err)
	}
	return user, nil
}

// knownUser normalises email and checks an identity has it.
func (s *Service) knownUser(ctx context.Context, email string) (string, error) {
	user := UserID(email)
	if user == "" {
		return "", apperr.New(apperr.InvalidRequest, "user_id must not be empty")
	}
	if _, err := s.ids.IdentityByEmail(ctx, user); err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return "", apperr.New(apperr.NotFound, fmt.Sprintf("no user has the email %q", user))
		}
		return "", err
	}
	return user, nil
}

// ---- search ----

// Search lists the caller's grants on accounts whose code contains q,
// ignoring case ("" matches every account), sorted by account code, at
// most limit of them (0: DefaultSearchLimit; capped at MaxSearchLimit).
func (s *Service) Search(ctx context.Context, p auth.Principal, q string, limit int) ([]store.Grant, error) {
	if limit < 0 {
		return nil, apperr.New(apperr.InvalidRequest, "limit must be at least 1")
	}
	if limit == 0 {
		limit = DefaultSearchLimit
	}
	limit = min(limit, MaxSearchLimit)
	gs, err := s.st.GrantsOfUser(ctx, UserID(p.Email))
	if err != nil {
		return nil, StoreErr(err)
	}
	needle := strings.ToLower(q)
	out := make([]store.Grant, 0, min(len(gs), limit))
	for _, g := range gs {
		if len(out) == limit {
			break
		}
		if strings.Contains(strings.ToLower(g.AccountCode), needle) {
			out = append(out, g)
		}
	}
	return out, nil
}

// ---- groups ----

// Groups lists every group sorted by id (groups hold no account data).
func (s *Service) Groups(ctx context.Context, _ auth.Principal) ([]store.Group, error) {
	gs, err := s.st.Groups(ctx)
	return gs, StoreErr(err)
}

// CreateGroup makes a group named name (trimmed) on behalf of p; Conflict
// when the name is taken, InvalidRequest when it is blank (see the
// CreateGroup change).
func (s *Service) CreateGroup(ctx context.Context, p auth.Principal, name, description string) (store.Group, error) {
	c := s.change(p)
	var g store.Group
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		var err error
		g, err = CreateGroup(tx, c, name, description)
		return err
	})
	if err != nil {
		return store.Group{}, StoreErr(err)
	}
	return g, nil
}

// Members returns group groupID and those of its members the caller holds
// a grant on, sorted by account code. NotFound for an unknown group.
func (s *Service) Members(ctx context.Context, p auth.Principal, groupID int64) (store.Group, []store.GroupMember, error) {
	g, err := s.st.Group(ctx, groupID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return store.Group{}, nil, apperr.New(apperr.NotFound, fmt.Sprintf("group %d does not exist", groupID))
		}
		return store.Group{}, nil, StoreErr(err)
	}
	ms, err := s.st.GroupMembers(ctx, groupID)
	if err != nil {
		return store.Group{}, nil, StoreErr(err)
	}
	gs, err := s.st.GrantsOfUser(ctx, UserID(p.Email))
	if err != nil {
		return store.Group{}, nil, StoreErr(err)
	}
	granted := make(map[string]bool, len(gs))
	for _, gr := range gs {
		granted[gr.AccountCode] = true
	}
	out := make([]store.GroupMember, 0, len(ms))
	for _, m := range ms {
		if granted[m.AccountCode] {
			out = append(out, m)
		}
	}
	return g, out, nil
}

// Move puts accountCode in group groupID on behalf of p, replacing the
// group it was in. NotFound for an unknown group or account.
func (s *Service) Move(ctx context.Context, p auth.Principal, accountCode string, groupID int64) (store.GroupMember, store.Group, error) {
	if strings.TrimSpace(accountCode) == "" {
		return store.GroupMember{}, store.Group{}, apperr.New(apperr.InvalidRequest, "account_code must not be empty")
	}
	c := s.change(p)
	var (
		m store.GroupMember
		g store.Group
	)
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		var err error
		m, g, err = MoveAccount(tx, c, accountCode, groupID)
		return err
	})
	if err != nil {
		return store.GroupMember{}, store.Group{}, StoreErr(err)
	}
	return m, g, nil
}

// RemoveMember takes accountCode out of its group on behalf of p;
// NotFound when it is in none (or does not exist).
func (s *Service) RemoveMember(ctx context.Context, p auth.Principal, accountCode string) error {
	if strings.TrimSpace(accountCode) == "" {
		return apperr.New(apperr.InvalidRequest, "account_code must not be empty")
	}
	c := s.change(p)
	_, err := s.st.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
		return RemoveMember(tx, c, accountCode)
	})
	return StoreErr(err)
}
