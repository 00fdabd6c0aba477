// Package admin serves permission grants, the account search and groups.
// Grants gate data, roles gate functions: every account read is scoped by
// the caller's grants, whatever their role.
package admin

import (
	"context"
	"time"

	"github.com/vero-oms/omsd/store"
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
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, ids: ids, now: now}
}
