package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Reference kinds: the FIX routing identifiers an account mapping carries.
const (
	RefCompID      = "comp_id"
	RefSenderSubID = "sender_sub_id"
)

// ReferenceKinds lists every kind the store keeps.
var ReferenceKinds = []string{RefCompID, RefSenderSubID}

// ReferenceValue is one entry of a controlled list.
type ReferenceValue struct {
	Kind, Value string
	CreatedBy   string // email of whoever added it first
	CreatedAt   time.Time
}

// FirmTrader maps a firm to one of its trader ids.
type FirmTrader struct {
	FirmID, TraderID string
	CreatedBy        string
	CreatedAt        time.Time
}

// ValidateReferenceKey rejects an unknown kind or an empty value.
func ValidateReferenceKey(kind, value string) error {
	if !slices.Contains(ReferenceKinds, kind) {
		return fmt.Errorf("reference kind %q: %w", kind, ErrInvalid)
	}
	if value == "" {
		return fmt.Errorf("reference value: empty: %w", ErrInvalid)
	}
	return nil
}

// ValidateFirmTraderKey rejects empty ids and ids holding NUL, which the
// Redis adapter uses to join the pair into one key.
func ValidateFirmTraderKey(firmID, traderID string) error {
	if firmID == "" || traderID == "" {
		return fmt.Errorf("firm trader: empty id: %w", ErrInvalid)
	}
	if strings.ContainsRune(firmID, 0) || strings.ContainsRune(traderID, 0) {
		return fmt.Errorf("firm trader: NUL in id: %w", ErrInvalid)
	}
	return nil
}

// Reference keeps the controlled reference lists and the firm -> trader
// mappings. Both are changed directly (no workflow), and every change
// writes its audit entry in the same atomic step.
//
// Put is an idempotent upsert: when the record already exists it is
// returned unchanged (CreatedBy and CreatedAt of the first put), nothing
// is written and the returned AuditEntry is the zero value (ID 0), because
// the log records changes and a repeated put changes nothing. When the
// record is new, the returned entry is audit as stored, with its ID.
//
// Invalid keys or audit entries give ErrInvalid and write nothing.
type Reference interface {
	// ReferenceValues lists kind's values sorted by Value (byte order);
	// an unknown kind has none.
	ReferenceValues(ctx context.Context, kind string) ([]ReferenceValue, error)
	HasReferenceValue(ctx context.Context, kind, value string) (bool, error)
	PutReferenceValue(ctx context.Context, v ReferenceValue, audit AuditEntry) (ReferenceValue, AuditEntry, error)
	// DeleteReferenceValue removes a value and writes audit; ErrNotFound
	// (and nothing written) when absent.
	DeleteReferenceValue(ctx context.Context, kind, value string, audit AuditEntry) (AuditEntry, error)

	// FirmTraders lists the mappings of firmID ("" = every firm) sorted by
	// FirmID, then TraderID.
	FirmTraders(ctx context.Context, firmID string) ([]FirmTrader, error)
	PutFirmTrader(ctx context.Context, f FirmTrader, audit AuditEntry) (FirmTrader, AuditEntry, error)
	// DeleteFirmTrader removes a mapping and writes audit; ErrNotFound (and
	// nothing written) when absent.
	DeleteFirmTrader(ctx context.Context, firmID, traderID string, audit AuditEntry) (AuditEntry, error)
}

// SortFirmTraders orders mappings by firm, then trader, as every adapter
// returns them.
func SortFirmTraders(ts []FirmTrader) {
	slices.SortFunc(ts, func(a, b FirmTrader) int {
		if c := strings.Compare(a.FirmID, b.FirmID); c != 0 {
			return c
		}
		return strings.Compare(a.TraderID, b.TraderID)
	})
}
