// Package risk serves the Portfolio & Risk reads: account mappings, cash
// and holdings, and the OMS and order risk rules in force. Account data is
// scoped by the caller's grants, whatever their role.
package risk

import (
	"github.com/vero-oms/omsd/store"
)

// Store is the part of the store this service needs.
type Store interface {
	store.BackOffice
}

// Service answers the risk reads.
type Service struct {
	st Store
}

// New returns the service over st.
func New(st Store) *Service { return &Service{st: st} }
