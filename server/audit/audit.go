// Package audit reads the append-only audit log: every administrative
// change, newest first, filtered and paged.
package audit

import (
	"context"
	"fmt"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/store"
)

// Paging bounds, as the contract documents them.
const (
	DefaultLimit = store.DefaultAuditLimit
	MaxLimit     = store.MaxAuditLimit
)

// Store is the part of the store this service needs.
type Store interface {
	ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
}

// Query selects entries. Empty strings and zero times match everything;
// the window is From <= created_at < To. Limit 0 means DefaultLimit.
type Query struct {
	Actor, Action, EntityType, EntityID string
	From, To                            time.Time
	Limit, Offset                       int64
}

// Service lists the audit log.
type Service struct{ st Store }

// New returns the service over st.
func New(st Store) *Service { return &Service{st: st} }

// List returns the entries matching q, newest first. A limit above
// MaxLimit, a negative limit or offset, or an empty window is refused
// rather than silently changed.
func (s *Service) List(ctx context.Context, q Query) ([]store.AuditEntry, error) {
	switch {
	case q.Limit < 0 || q.Limit > MaxLimit:
		return nil, apperr.New(apperr.InvalidRequest, fmt.Sprintf("limit must be between 1 and %d", MaxLimit))
	case q.Offset < 0:
		return nil, apperr.New(apperr.InvalidRequest, "offset must not be negative")
	case !q.From.IsZero() && !q.To.IsZero() && !q.To.After(q.From):
		return nil, apperr.New(apperr.InvalidRequest, "to must be after from")
	}
	limit := q.Limit
	if limit == 0 {
		limit = DefaultLimit
	}
	// Offsets beyond any log fit an int on every platform we build for
	// once clamped; the store simply returns nothing past the end.
	offset := min(q.Offset, int64(1)<<31-1)
	return s.st.ListAudit(ctx, store.AuditFilter{
		Actor: q.Actor, Action: q.Action, EntityType: q.EntityType, EntityID: q.EntityID,
		From: q.From, To: q.To, Limit: int(limit), Offset: int(offset),
	})
}
