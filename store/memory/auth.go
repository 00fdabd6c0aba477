package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/vero-oms/omsd/store"
)

// ---- identities ----

func (s *Store) CreateIdentity(ctx context.Context, id store.Identity) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.identities[id.ID]; ok {
		return fmt.Errorf("identity %q: %w", id.ID, store.ErrConflict)
	}
	if _, ok := s.identityByEmail[id.Email]; ok {
		return fmt.Errorf("identity email: %w", store.ErrConflict)
	}
	s.identities[id.ID] = cloneIdentity(id)
	s.identityByEmail[id.Email] = id.ID
	return nil
}

func (s *Store) IdentityByID(ctx context.Context, id string) (store.Identity, error) {
	if err := s.beginRead(ctx); err != nil {
		return store.Identity{}, err
	}
	defer s.mu.RUnlock()
	i, ok := s.identities[id]
	if !ok {
		return store.Identity{}, store.ErrNotFound
	}
	return cloneIdentity(i), nil
}

func (s *Store) IdentityByEmail(ctx context.Context, email string) (store.Identity, error) {
	if err := s.beginRead(ctx); err != nil {
		return store.Identity{}, err
	}
	defer s.mu.RUnlock()
	id, ok := s.identityByEmail[email]
	if !ok {
		return store.Identity{}, store.ErrNotFound
	}
	return cloneIdentity(s.identities[id]), nil
}

func (s *Store) ListIdentities(ctx context.Context) ([]store.Identity, error) {
	if err := s.beginRead(ctx); err != nil {
		return nil, err
	}
	defer s.mu.RUnlock()
	out := make([]store.Identity, 0, len(s.identities))
	for _, i := range s.identities {
		out = append(out, cloneIdentity(i))
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Email < out[b].Email })
	return out, nil
}

func (s *Store) SetIdentityState(ctx context.Context, id string, state store.IdentityState, now time.Time) (store.Identity, error) {
	if err := s.begin(ctx); err != nil {
		return store.Identity{}, err
	}
	defer s.mu.Unlock()
	i, ok := s.identities[id]
	if !ok {
		return store.Identity{}, store.ErrNotFound
	}
	if i.State != state {
		i.Generation++
	}
	i.State = state
	i.UpdatedAt = msTime(now)
	s.identities[id] = i
	return cloneIdentity(i), nil
}

func (s *Store) RehashPassword(ctx context.Context, id, oldHash, newHash string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	i, ok := s.identities[id]
	if !ok {
		return store.ErrNotFound
	}
	if i.PasswordHash != oldHash {
		return store.ErrConflict
	}
	i.PasswordHash = newHash
	s.identities[id] = i
	return nil
}

// ---- sessions ----

func sessionGone(s store.Session, clock time.Time) bool {
	return !clock.Before(s.ExpiresAt)
}

func (s *Store) dropSession(id string) {
	if sess, ok := s.sessions[id]; ok {
		if s.sessionByToken[sess.TokenHash] == id {
			delete(s.sessionByToken, sess.TokenHash)
		}
		delete(s.sessions, id)
	}
}

// liveSession returns the session unless the clock says it is reclaimed,
// in which case it is dropped now (lazy reclaim).
func (s *Store) liveSession(id string) (store.Session, bool) {
	sess, ok := s.sessions[id]
	if !ok {
		return store.Session{}, false
	}
	if sessionGone(sess, s.clock()) {
		s.dropSession(id)
		return store.Session{}, false
	}
	return sess, true
}

func (s *Store) CreateSession(ctx context.Context, sess store.Session, now time.Time) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	if _, ok := s.liveSession(sess.ID); ok {
		return fmt.Errorf("session %q: %w", sess.ID, store.ErrConflict)
	}
	s.sessions[sess.ID] = cloneSession(sess)
	s.sessionByToken[sess.TokenHash] = sess.ID
	return nil
}

func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash string, now time.Time) (store.Session, error) {
	if err := s.beginRead(ctx); err != nil {
		return store.Session{}, err
	}
	id, ok := s.sessionByToken[tokenHash]
	if !ok {
		s.mu.RUnlock()
		return store.Session{}, store.ErrNotFound
	}
	sess, ok := s.readSession(id)
	if !ok || sess.TokenHash != tokenHash || expired(sess.ExpiresAt, now) {
		return store.Session{}, store.ErrNotFound
	}
	return sess, nil
}

// SessionWithIdentity is the bearer-check hot path: it takes only the read
// lock, so concurrent checks never wait for one another.
func (s *Store) SessionWithIdentity(ctx context.Context, sessionID string, now time.Time) (store.Session, store.Identity, error) {
	if err := s.beginRead(ctx); err != nil {
		return store.Session{}, store.Identity{}, err
	}
	sess, ok := s.sessions[sessionID]
	if ok && sessionGone(sess, s.clock()) {
		s.mu.RUnlock()
		s.reclaimSession(sessionID)
		return store.Session{}, store.Identity{}, store.ErrNotFound
	}
	i, found := s.identities[sess.IdentityID]
	s.mu.RUnlock()
	if !ok || !found || expired(sess.ExpiresAt, now) {
		return store.Session{}, store.Identity{}, store.ErrNotFound
	}
	return cloneSession(sess), cloneIdentity(i), nil
}

// SessionsWithIdentity checks each session as SessionWithIdentity does.
func (s *Store) SessionsWithIdentity(ctx context.Context, sessionIDs []string, now time.Time) ([]store.SessionCheck, error) {
	out := make([]store.SessionCheck, len(sessionIDs))
	for i, id := range sessionIDs {
		sess, ident, err := s.SessionWithIdentity(ctx, id, now)
		switch {
		case errors.Is(err, store.ErrNotFound):
		case err != nil:
			return nil, err
		default:
			out[i] = store.SessionCheck{Session: sess, Identity: ident, Found: true}
		}
	}
	return out, nil
}

// readSession returns a copy of a session and releases the read lock taken
// by the caller. A session the clock says is reclaimed is dropped now
// (lazy reclaim), under the write lock.
func (s *Store) readSession(id string) (store.Session, bool) {
	sess, ok := s.sessions[id]
	if !ok {
		s.mu.RUnlock()
		return store.Session{}, false
	}
	if sessionGone(sess, s.clock()) {
		s.mu.RUnlock()
		s.reclaimSession(id)
		return store.Session{}, false
	}
	s.mu.RUnlock()
	return cloneSession(sess), true
}

func (s *Store) reclaimSession(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess, ok := s.sessions[id]; ok && sessionGone(sess, s.clock()) {
		s.dropSession(id)
	}
}

func (s *Store) DeleteSession(ctx context.Context, sessionID string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	s.dropSession(sessionID)
	return nil
}

// ---- recoveries ----

func recoveryGone(r store.Recovery, clock time.Time) bool {
	return !clock.Before(r.ExpiresAt.Add(store.RecoveryRetention))
}

func (s *Store) dropRecovery(id string) {
	if r, ok := s.recoveries[id]; ok {
		s.unindexRecovery(r.EmailKey, id)
		delete(s.recoveries, id)
	}
}

func (s *Store) unindexRecovery(emailKey, id string) {
	ids := slices.DeleteFunc(s.recoveryByEmail[emailKey], func(v string) bool { return v == id })
	if len(ids) == 0 {
		delete(s.recoveryByEmail, emailKey)
	} else {
		s.recoveryByEmail[emailKey] = ids
	}
}

// liveRecoveriesOf returns the live recoveries of an address, reclaiming
// the ones whose physical lifetime ended.
func (s *Store) liveRecoveriesOf(emailKey string) []store.Recovery {
	var out []store.Recovery
	for _, id := range slices.Clone(s.recoveryByEmail[emailKey]) {
		if r, ok := s.liveRecovery(id); ok {
			out = append(out, r)
		}
	}
	return out
}

// keeperAmong picks the recovery a new start keeps beside itself: a
// verified one first, then the one expiring last, then the one started last
// (rs is in start order). ok is false for none.
func keeperAmong(rs []store.Recovery) (store.Recovery, bool) {
	var best store.Recovery
	found := false
	for _, r := range rs {
		rv, bv := r.State == store.RecoveryVerified, best.State == store.RecoveryVerified
		if !found || rv && !bv || rv == bv && !r.ExpiresAt.Before(best.ExpiresAt) {
			best, found = r, true
		}
	}
	return best, found
}

func (s *Store) liveRecovery(id string) (store.Recovery, bool) {
	r, ok := s.recoveries[id]
	if !ok {
		return store.Recovery{}, false
	}
	if recoveryGone(r, s.clock()) {
		s.dropRecovery(id)
		return store.Recovery{}, false
	}
	return r, true
}

func (s *Store) StartRecovery(ctx context.Context, r store.Recovery, now time.Time) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	// A reused id (for this or another address) is replaced, index included.
	s.dropRecovery(r.ID)
	others := s.liveRecoveriesOf(r.EmailKey)
	keep, ok := keeperAmong(others)
	for _, o := range others {
		if !ok || o.ID != keep.ID {
			s.dropRecovery(o.ID)
		}
	}
	s.recoveries[r.ID] = cloneRecovery(r)
	s.recoveryByEmail[r.EmailKey] = append(s.recoveryByEmail[r.EmailKey], r.ID)
	return nil
}

func (s *Store) RecoveryByID(ctx context.Context, id string) (store.Recovery, error) {
	if err := s.beginRead(ctx); err != nil {
		return store.Recovery{}, err
	}
	r, ok := s.recoveries[id]
	if ok && !recoveryGone(r, s.clock()) {
		r = cloneRecovery(r)
		s.mu.RUnlock()
		return r, nil
	}
	s.mu.RUnlock()
	if ok { // lazy reclaim
		s.mu.Lock()
		if r, ok := s.recoveries[id]; ok && recoveryGone(r, s.clock()) {
			s.dropRecovery(id)
		}
		s.mu.Unlock()
	}
	return store.Recovery{}, store.ErrNotFound
}

func (s *Store) CountAttempt(ctx context.Context, id string, maxAttempts int, now time.Time) (store.Recovery, error) {
	if err := s.begin(ctx); err != nil {
		return store.Recovery{}, err
	}
	defer s.mu.Unlock()
	r, ok := s.liveRecovery(id)
	switch {
	case !ok:
		return store.Recovery{}, store.ErrNotFound
	case expired(r.ExpiresAt, now):
		return store.Recovery{}, store.ErrExpired
	case r.State != store.RecoveryPending:
		return store.Recovery{}, store.ErrWrongState
	case r.Attempts >= maxAttempts:
		return store.Recovery{}, store.ErrAttemptsExhausted
	}
	r.Attempts++
	s.recoveries[id] = r
	return cloneRecovery(r), nil
}

func (s *Store) MarkVerified(ctx context.Context, id, newID string, expiresAt, now time.Time) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	r, ok := s.liveRecovery(id)
	switch {
	case !ok:
		return store.ErrNotFound
	case expired(r.ExpiresAt, now):
		return store.ErrExpired
	case r.State != store.RecoveryPending:
		return store.ErrWrongState
	}
	if newID != id {
		if _, taken := s.liveRecovery(newID); taken {
			return fmt.Errorf("recovery %q: %w", newID, store.ErrConflict)
		}
	}
	delete(s.recoveries, id)
	r.ID = newID
	r.State = store.RecoveryVerified
	r.ExpiresAt = msTime(expiresAt)
	s.recoveries[newID] = r
	if ids := s.recoveryByEmail[r.EmailKey]; slices.Contains(ids, id) {
		s.recoveryByEmail[r.EmailKey] = append(slices.DeleteFunc(ids, func(v string) bool { return v == id }), newID)
	}
	return nil
}

func (s *Store) CompleteRecovery(ctx context.Context, id, passwordHash string, now time.Time) (store.Identity, error) {
	if err := s.begin(ctx); err != nil {
		return store.Identity{}, err
	}
	defer s.mu.Unlock()
	r, ok := s.liveRecovery(id)
	switch {
	case !ok:
		return store.Identity{}, store.ErrNotFound
	case expired(r.ExpiresAt, now):
		return store.Identity{}, store.ErrExpired
	case r.State != store.RecoveryVerified:
		return store.Identity{}, store.ErrWrongState
	}
	for _, other := range slices.Clone(s.recoveryByEmail[r.EmailKey]) {
		s.dropRecovery(other) // a reset ends every recovery of the address
	}
	s.dropRecovery(id)
	i, ok := s.identities[r.IdentityID]
	if r.IdentityID == "" || !ok || i.State != store.IdentityActive {
		return store.Identity{}, store.ErrNotFound
	}
	i.PasswordHash = passwordHash
	i.Generation++
	i.UpdatedAt = msTime(now)
	s.identities[i.ID] = i
	return cloneIdentity(i), nil
}
