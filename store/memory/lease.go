package memory

import (
	"context"
	"time"
)

type lease struct {
	owner   string
	expires time.Time
}

// TakeLease implements store.Leases (one process shares a memory store, so
// this only matters for tests and for symmetry with Redis).
func (s *Store) TakeLease(ctx context.Context, name, owner string, ttl time.Duration) (string, error) {
	if err := s.begin(ctx); err != nil {
		return "", err
	}
	defer s.mu.Unlock()
	now := s.clock()
	if s.leases == nil {
		s.leases = map[string]lease{}
	}
	if l, ok := s.leases[name]; ok && l.owner != owner && now.Before(l.expires) {
		return l.owner, nil
	}
	s.leases[name] = lease{owner: owner, expires: now.Add(ttl)}
	return owner, nil
}

// ReleaseLease implements store.Leases.
func (s *Store) ReleaseLease(ctx context.Context, name, owner string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if l, ok := s.leases[name]; ok && l.owner == owner {
		delete(s.leases, name)
	}
	return nil
}
