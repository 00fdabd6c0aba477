package store

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Paging of ListAudit.
const (
	DefaultAuditLimit = 100
	MaxAuditLimit     = 1000
)

// AuditEntry records one change. Entries are append-only and never expire.
type AuditEntry struct {
	ID         int64  // assigned by the store from one increasing sequence
	Actor      string // the user's normalised email
	Action     string // e.g. REFERENCE_ADDED, FIRM_TRADER_REMOVED
	EntityType string
	EntityID   string
	RequestID  int64 // workflow request id; 0 for a direct action
	// Detail is a JSON object (the changed values), kept byte for byte;
	// empty means none.
	Detail    json.RawMessage
	CreatedAt time.Time
}

// Validate rejects an entry the log must not hold: no actor or action, or
// a detail that is not a JSON object. Adapters call it before any write.
func (e AuditEntry) Validate() error {
	switch {
	case e.Actor == "":
		return fmt.Errorf("audit entry: no actor: %w", ErrInvalid)
	case e.Action == "":
		return fmt.Errorf("audit entry: no action: %w", ErrInvalid)
	case len(e.Detail) > 0 && (!json.Valid(e.Detail) || !bytes.HasPrefix(bytes.TrimSpace(e.Detail), []byte("{"))):
		return fmt.Errorf("audit entry: detail is not a JSON object: %w", ErrInvalid)
	}
	return nil
}

// AuditFilter selects entries for ListAudit. Empty strings and zero times
// match everything; the window is From <= CreatedAt < To, at millisecond
// precision like every stored time.
type AuditFilter struct {
	Actor, Action, EntityType, EntityID string
	From, To                            time.Time
	// Limit <= 0 means DefaultAuditLimit; above MaxAuditLimit it is capped.
	// Offset < 0 counts as 0.
	Limit, Offset int
}

// Match reports whether e passes the filter (paging aside), so that every
// adapter filters alike.
func (f AuditFilter) Match(e AuditEntry) bool {
	at := e.CreatedAt.UnixMilli()
	return (f.Actor == "" || e.Actor == f.Actor) &&
		(f.Action == "" || e.Action == f.Action) &&
		(f.EntityType == "" || e.EntityType == f.EntityType) &&
		(f.EntityID == "" || e.EntityID == f.EntityID) &&
		(f.From.IsZero() || at >= f.From.UnixMilli()) &&
		(f.To.IsZero() || at < f.To.UnixMilli())
}

// Page returns the effective limit and offset.
func (f AuditFilter) Page() (limit, offset int) {
	limit = f.Limit
	if limit <= 0 {
		limit = DefaultAuditLimit
	}
	return min(limit, MaxAuditLimit), max(f.Offset, 0)
}

// Audit reads the audit log. There is no Append on purpose: entries are
// written only by the mutating methods of the other domains, each in the
// same atomic step as the change it records (a method takes the entry
// without ID, assigns the next ID and returns the entry as stored).
type Audit interface {
	// ListAudit returns the entries matching f, newest (highest ID) first,
	// paged by f.Limit and f.Offset.
	ListAudit(ctx context.Context, f AuditFilter) ([]AuditEntry, error)
}
