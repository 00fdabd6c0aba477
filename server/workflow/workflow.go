// Package workflow is the maker-checker workflow: a maker files a request
// to change accounts, cash, holdings, grants, groups or risk rules; another
// user (four eyes, whatever their role) approves it, which applies it at
// once, or rejects it; only its maker cancels it. The status change, the
// change itself and their audit entries are one atomic step.
package workflow

import (
	"context"
	"time"

	"github.com/vero-oms/omsd/store"
)

// Store is the part of the store this service needs.
type Store interface {
	store.BackOffice
}

// Identities tells whether a user exists (GRANT_PERMISSION names users by
// email).
type Identities interface {
	IdentityByEmail(ctx context.Context, email string) (store.Identity, error)
}

// Service files, lists, reviews and applies workflow requests.
type Service struct {
	st  Store
	ids Identities
	now func() time.Time
}

// New returns the service; now stamps requests and audit entries (nil:
// time.Now).
func New(st Store, ids Identities, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, ids: ids, now: now}
}
