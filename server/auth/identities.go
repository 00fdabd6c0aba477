package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/store"
)

// NewIdentity is what an operator supplies to create an identity.
type NewIdentity struct {
	Email    string   `json:"email"`
	Password string   `json:"password"`
	Roles    []string `json:"roles"`
	Name     string   `json:"name"`
}

// ErrIdentityExists is returned when the email is already taken.
var ErrIdentityExists = errors.New("an identity with that email already exists")

// IdentityAdmin manages identities: what operators do through the CLI, the
// identities file and dev-mode seeding. It needs only the identity store and
// the hasher, so the CLI can use it without the rest of the service.
type IdentityAdmin struct {
	store  store.Identities
	hasher *password.Hasher
	policy password.Policy
	now    func() time.Time
}

// NewIdentityAdmin builds an IdentityAdmin.
func NewIdentityAdmin(st store.Identities, h *password.Hasher, p password.Policy) *IdentityAdmin {
	return &IdentityAdmin{store: st, hasher: h, policy: p, now: time.Now}
}

// CreateIdentity validates and stores a new identity with a hashed password.
func (s *IdentityAdmin) CreateIdentity(ctx context.Context, n NewIdentity) (store.Identity, error) {
	email := NormalizeEmail(n.Email)
	if a, err := mail.ParseAddress(email); err != nil || a.Address != email {
		return store.Identity{}, fmt.Errorf("%q is not a valid email address", n.Email)
	}
	roles, err := normalizeRoles(n.Roles)
	if err != nil {
		return store.Identity{}, err
	}
	if err := s.policy.Check(n.Password, email); err != nil {
		return store.Identity{}, fmt.Errorf("password for %s: %w", email, err)
	}
	hash, err := s.hasher.Hash(ctx, n.Password)
	if err != nil {
		return store.Identity{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	id := store.Identity{
		ID: newIdentityID(), Email: email, Name: strings.TrimSpace(n.Name), Roles: roles,
		PasswordHash: hash, State: store.IdentityActive, CreatedAt: now, UpdatedAt: now,
	}
	if err := s.store.CreateIdentity(ctx, id); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return store.Identity{}, ErrIdentityExists
		}
		return store.Identity{}, err
	}
	return id, nil
}

func normalizeRoles(in []string) ([]string, error) {
	var out []string
	for _, r := range in {
		for _, part := range strings.Split(r, ",") {
			part = strings.ToLower(strings.TrimSpace(part))
			if part == "" {
				continue
			}
			if !slices.Contains(KnownRoles, part) {
				return nil, fmt.Errorf("unknown role %q (known: %s)", part, strings.Join(KnownRoles, ", "))
			}
			if !slices.Contains(out, part) {
				out = append(out, part)
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("at least one role is required (known: %s)", strings.Join(KnownRoles, ", "))
	}
	return out, nil
}

// ListIdentities returns every identity, ordered by email.
func (s *IdentityAdmin) ListIdentities(ctx context.Context) ([]store.Identity, error) {
	return s.store.ListIdentities(ctx)
}

// DisableIdentity stops an identity from signing in and ends its sessions.
func (s *IdentityAdmin) DisableIdentity(ctx context.Context, email string) (store.Identity, error) {
	id, err := s.store.IdentityByEmail(ctx, NormalizeEmail(email))
	if err != nil {
		return store.Identity{}, err
	}
	return s.store.SetIdentityState(ctx, id.ID, store.IdentityDisabled, s.now())
}

// ImportResult counts what an import did.
type ImportResult struct{ Created, Existing int }

// ImportIdentities creates the identities in list that do not exist yet.
// Existing ones are never modified.
func (s *IdentityAdmin) ImportIdentities(ctx context.Context, list []NewIdentity) (ImportResult, error) {
	var res ImportResult
	for i, n := range list {
		_, err := s.store.IdentityByEmail(ctx, NormalizeEmail(n.Email))
		if err == nil {
			res.Existing++
			continue
		}
		if !errors.Is(err, store.ErrNotFound) {
			return res, err
		}
		if _, err := s.CreateIdentity(ctx, n); err != nil {
			if errors.Is(err, ErrIdentityExists) {
				res.Existing++
				continue
			}
			return res, fmt.Errorf("identity %d (%s): %w", i+1, n.Email, err)
		}
		res.Created++
	}
	return res, nil
}

// LoadIdentitiesFile reads a JSON list of {email, password, roles, name}.
// Unknown keys are an error so typos do not silently drop a field.
func LoadIdentitiesFile(path string) ([]NewIdentity, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	dec.DisallowUnknownFields()
	var list []NewIdentity
	if err := dec.Decode(&list); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return list, nil
}

// DemoIdentities are seeded in dev mode, one per role. Documented in README.
var DemoIdentities = []NewIdentity{
	{Email: "admin@oms.example", Password: "demo-admin-pass", Roles: []string{RoleAdmin}, Name: "Demo Admin"},
	{Email: "maker@oms.example", Password: "demo-maker-pass", Roles: []string{RoleMaker}, Name: "Demo Maker"},
	{Email: "checker@oms.example", Password: "demo-checker-pass", Roles: []string{RoleChecker}, Name: "Demo Checker"},
	{Email: "trader@oms.example", Password: "demo-trader-pass", Roles: []string{RoleTrader}, Name: "Demo Trader"},
}
