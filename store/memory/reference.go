package memory

import (
	"context"
	"fmt"
	"sort"

	"github.com/vero-oms/omsd/store"
)

// ---- reference data and firm traders ----

type firmTraderKey struct{ firm, trader string }

func (s *Store) ReferenceValues(ctx context.Context, kind string) ([]store.ReferenceValue, error) {
	if err := s.beginRead(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	values := s.refValues[kind]
	out := make([]store.ReferenceValue, 0, len(values))
	for _, v := range values {
		out = append(out, cloneReferenceValue(v))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Value < out[b].Value })
	return out, nil
}

func (s *Store) HasReferenceValue(ctx context.Context, kind, value string) (bool, error) {
	if err := s.beginRead(ctx); err != nil {
		return false, err
	}
	defer s.mu.RUnlock()
	_, ok := s.refValues[kind][value]
	return ok, nil
}

func (s *Store) PutReferenceValue(ctx context.Context, v store.ReferenceValue, audit store.AuditEntry) (store.ReferenceValue, store.AuditEntry, error) {
	if err := store.ValidateReferenceKey(v.Kind, v.Value); err != nil {
		return store.ReferenceValue{}, store.AuditEntry{}, err
	}
	if err := audit.Validate(); err != nil {
		return store.ReferenceValue{}, store.AuditEntry{}, err
	}
	if err := s.begin(ctx); err != nil {
		return store.ReferenceValue{}, store.AuditEntry{}, err
	}
	defer s.mu.Unlock()
	if cur, ok := s.refValues[v.Kind][v.Value]; ok {
		return cloneReferenceValue(cur), store.AuditEntry{}, nil
	}
	if s.refValues[v.Kind] == nil {
		s.refValues[v.Kind] = map[string]store.ReferenceValue{}
	}
	v = cloneReferenceValue(v)
	s.refValues[v.Kind][v.Value] = v
	return v, s.appendAudit(audit), nil
}

func (s *Store) DeleteReferenceValue(ctx context.Context, kind, value string, audit store.AuditEntry) (store.AuditEntry, error) {
	if err := store.ValidateReferenceKey(kind, value); err != nil {
		return store.AuditEntry{}, err
	}
	if err := audit.Validate(); err != nil {
		return store.AuditEntry{}, err
	}
	if err := s.begin(ctx); err != nil {
		return store.AuditEntry{}, err
	}
	defer s.mu.Unlock()
	if _, ok := s.refValues[kind][value]; !ok {
		return store.AuditEntry{}, fmt.Errorf("reference %s %q: %w", kind, value, store.ErrNotFound)
	}
	delete(s.refValues[kind], value)
	return s.appendAudit(audit), nil
}

func (s *Store) FirmTraders(ctx context.Context, firmID string) ([]store.FirmTrader, error) {
	if err := s.beginRead(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	out := make([]store.FirmTrader, 0)
	for k, t := range s.firmTraders {
		if firmID == "" || k.firm == firmID {
			out = append(out, cloneFirmTrader(t))
		}
	}
	store.SortFirmTraders(out)
	return out, nil
}

func (s *Store) PutFirmTrader(ctx context.Context, f store.FirmTrader, audit store.AuditEntry) (store.FirmTrader, store.AuditEntry, error) {
	if err := store.ValidateFirmTraderKey(f.FirmID, f.TraderID); err != nil {
		return store.FirmTrader{}, store.AuditEntry{}, err
	}
	if err := audit.Validate(); err != nil {
		return store.FirmTrader{}, store.AuditEntry{}, err
	}
	if err := s.begin(ctx); err != nil {
		return store.FirmTrader{}, store.AuditEntry{}, err
	}
	defer s.mu.Unlock()
	k := firmTraderKey{f.FirmID, f.TraderID}
	if cur, ok := s.firmTraders[k]; ok {
		return cloneFirmTrader(cur), store.AuditEntry{}, nil
	}
	f = cloneFirmTrader(f)
	s.firmTraders[k] = f
	return f, s.appendAudit(audit), nil
}

func (s *Store) DeleteFirmTrader(ctx context.Context, firmID, traderID string, audit store.AuditEntry) (store.AuditEntry, error) {
	if err := store.ValidateFirmTraderKey(firmID, traderID); err != nil {
		return store.AuditEntry{}, err
	}
	if err := audit.Validate(); err != nil {
		return store.AuditEntry{}, err
	}
	if err := s.begin(ctx); err != nil {
		return store.AuditEntry{}, err
	}
	defer s.mu.Unlock()
	k := firmTraderKey{firmID, traderID}
	if _, ok := s.firmTraders[k]; !ok {
		return store.AuditEntry{}, fmt.Errorf("firm trader %q %q: %w", firmID, traderID, store.ErrNotFound)
	}
	delete(s.firmTraders, k)
	return s.appendAudit(audit), nil
}

func cloneReferenceValue(v store.ReferenceValue) store.ReferenceValue {
	v.CreatedAt = msTime(v.CreatedAt)
	return v
}

func cloneFirmTrader(f store.FirmTrader) store.FirmTrader {
	f.CreatedAt = msTime(f.CreatedAt)
	return f
}
