package memory

import (
	"context"

	"github.com/vero-oms/omsd/store"
)

// ---- audit ----

// appendAudit gives e the next ID and appends it; the caller holds the
// write lock and has validated e, so the entry lands with its change.
func (s *Store) appendAudit(e store.AuditEntry) store.AuditEntry {
	e.ID = 1
	if n := len(s.audit); n > 0 {
		e.ID = s.audit[n-1].ID + 1
	}
	e = cloneAudit(e)
	s.audit = append(s.audit, e)
	return cloneAudit(e)
}

// ListAudit scans from the newest entry back: O(entries) when the filter
// matches few of them.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	if err := s.beginRead(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	limit, skip := f.Page()
	out := make([]store.AuditEntry, 0, min(limit, len(s.audit)))
	for i := len(s.audit) - 1; i >= 0 && len(out) < limit; i-- {
		if !f.Match(s.audit[i]) {
			continue
		}
		if skip > 0 {
			skip--
			continue
		}
		out = append(out, cloneAudit(s.audit[i]))
	}
	return out, nil
}

func cloneAudit(e store.AuditEntry) store.AuditEntry {
	e.Detail = cloneSlice(e.Detail)
	e.CreatedAt = msTime(e.CreatedAt)
	return e
}
