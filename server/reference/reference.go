// Package reference serves the controlled reference lists (comp_id,
// sender_sub_id) and the firm -> trader id mappings. Both are changed
// directly, without a maker-checker workflow, and every change is audited
// in the same atomic step as the change itself.
//
// Adding is an idempotent upsert: adding what already exists returns the
// existing record and writes no audit entry. Removing what is absent is
// apperr.NotFound.
package reference

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/store"
)

// Audit actions and entity types this package writes.
const (
	ActionReferenceAdded    = "REFERENCE_ADDED"
	ActionReferenceRemoved  = "REFERENCE_REMOVED"
	ActionFirmTraderAdded   = "FIRM_TRADER_ADDED"
	ActionFirmTraderRemoved = "FIRM_TRADER_REMOVED"
	EntityReference         = "REFERENCE"
	EntityFirmTrader        = "FIRM_TRADER"
)

// Store is the part of the store this service needs.
type Store interface {
	ReferenceValues(ctx context.Context, kind string) ([]store.ReferenceValue, error)
	PutReferenceValue(ctx context.Context, v store.ReferenceValue, audit store.AuditEntry) (store.ReferenceValue, store.AuditEntry, error)
	DeleteReferenceValue(ctx context.Context, kind, value string, audit store.AuditEntry) (store.AuditEntry, error)
	FirmTraders(ctx context.Context, firmID string) ([]store.FirmTrader, error)
	PutFirmTrader(ctx context.Context, f store.FirmTrader, audit store.AuditEntry) (store.FirmTrader, store.AuditEntry, error)
	DeleteFirmTrader(ctx context.Context, firmID, traderID string, audit store.AuditEntry) (store.AuditEntry, error)
}

// Service changes and lists reference data.
type Service struct {
	st  Store
	now func() time.Time
}

// New returns the service over st; now stamps records and audit entries
// (nil: time.Now).
func New(st Store, now func() time.Time) *Service {
	if now == nil {
		now = time.Now
	}
	return &Service{st: st, now: now}
}

// Values lists kind's values sorted by value.
func (s *Service) Values(ctx context.Context, kind string) ([]store.ReferenceValue, error) {
	if err := checkKind(kind); err != nil {
		return nil, err
	}
	return s.st.ReferenceValues(ctx, kind)
}

// AddValue adds value to kind's list on behalf of actor, or returns the
// existing record unchanged.
func (s *Service) AddValue(ctx context.Context, actor, kind, value string) (store.ReferenceValue, error) {
	if err := checkReferenceKey(kind, value); err != nil {
		return store.ReferenceValue{}, err
	}
	at := s.now()
	a := entry(at, actor, ActionReferenceAdded, EntityReference, kind+":"+value, map[string]string{"kind": kind, "value": value})
	v, _, err := s.st.PutReferenceValue(ctx, store.ReferenceValue{Kind: kind, Value: value, CreatedBy: actor, CreatedAt: at}, a)
	if err != nil {
		return store.ReferenceValue{}, storeErr(err, "")
	}
	return v, nil
}

// RemoveValue removes value from kind's list on behalf of actor.
func (s *Service) RemoveValue(ctx context.Context, actor, kind, value string) error {
	if err := checkReferenceKey(kind, value); err != nil {
		return err
	}
	a := entry(s.now(), actor, ActionReferenceRemoved, EntityReference, kind+":"+value, map[string]string{"kind": kind, "value": value})
	_, err := s.st.DeleteReferenceValue(ctx, kind, value, a)
	return storeErr(err, fmt.Sprintf("%s %q is not in the reference list", kind, value))
}

// FirmTraders lists the mappings of firmID ("" = every firm).
func (s *Service) FirmTraders(ctx context.Context, firmID string) ([]store.FirmTrader, error) {
	return s.st.FirmTraders(ctx, firmID)
}

// AddFirmTrader maps traderID to firmID on behalf of actor, or returns the
// existing mapping unchanged.
func (s *Service) AddFirmTrader(ctx context.Context, actor, firmID, traderID string) (store.FirmTrader, error) {
	if err := checkFirmTraderKey(firmID, traderID); err != nil {
		return store.FirmTrader{}, err
	}
	at := s.now()
	a := entry(at, actor, ActionFirmTraderAdded, EntityFirmTrader, firmID+":"+traderID, map[string]string{"firm_id": firmID, "trader_id": traderID})
	f, _, err := s.st.PutFirmTrader(ctx, store.FirmTrader{FirmID: firmID, TraderID: traderID, CreatedBy: actor, CreatedAt: at}, a)
	if err != nil {
		return store.FirmTrader{}, storeErr(err, "")
	}
	return f, nil
}

// RemoveFirmTrader removes the mapping on behalf of actor.
func (s *Service) RemoveFirmTrader(ctx context.Context, actor, firmID, traderID string) error {
	if err := checkFirmTraderKey(firmID, traderID); err != nil {
		return err
	}
	a := entry(s.now(), actor, ActionFirmTraderRemoved, EntityFirmTrader, firmID+":"+traderID, map[string]string{"firm_id": firmID, "trader_id": traderID})
	_, err := s.st.DeleteFirmTrader(ctx, firmID, traderID, a)
	return storeErr(err, fmt.Sprintf("trader %q is not mapped to firm %q", traderID, firmID))
}

func checkKind(kind string) error {
	if !slices.Contains(store.ReferenceKinds, kind) {
		return apperr.New(apperr.InvalidRequest, fmt.Sprintf("unknown reference kind %q (expected one of %s)", kind, strings.Join(store.ReferenceKinds, ", ")))
	}
	return nil
}

func checkReferenceKey(kind, value string) error {
	if err := checkKind(kind); err != nil {
		return err
	}
	if strings.TrimSpace(value) == "" {
		return apperr.New(apperr.InvalidRequest, "value must not be empty")
	}
	return nil
}

func checkFirmTraderKey(firmID, traderID string) error {
	if strings.TrimSpace(firmID) == "" || strings.TrimSpace(traderID) == "" {
		return apperr.New(apperr.InvalidRequest, "firm_id and trader_id must not be empty")
	}
	if store.ValidateFirmTraderKey(firmID, traderID) != nil {
		return apperr.New(apperr.InvalidRequest, "firm_id and trader_id must not hold NUL characters")
	}
	return nil
}

// entry builds the audit entry of a change; detail holds the changed values.
func entry(at time.Time, actor, action, entityType, entityID string, detail map[string]string) store.AuditEntry {
	d, _ := json.Marshal(detail) // a map of strings always marshals
	return store.AuditEntry{Actor: actor, Action: action, EntityType: entityType, EntityID: entityID, Detail: d, CreatedAt: at}
}

// storeErr turns the store's answers this domain expects into apperr
// errors; anything else (store unavailable, cancelled) goes back unchanged.
func storeErr(err error, notFound string) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound) && notFound != "":
		return apperr.New(apperr.NotFound, notFound)
	case errors.Is(err, store.ErrInvalid):
		return apperr.Wrap(apperr.InvalidRequest, "the request was refused as invalid", err)
	}
	return err
}
