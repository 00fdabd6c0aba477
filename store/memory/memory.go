// Package memory is the embedded store.Store: plain maps behind one
// read-write mutex, for a single process (development, tests, small
// deployments). Lookups, the bearer check among them, share the read lock;
// only changes take it exclusively.
//
// Logical expiry follows the `now` arguments like every adapter; expired
// records are physically removed by a janitor goroutine and lazily on access,
// both driven by the store's own clock (WithClock). The janitor finds expired
// records under the read lock and removes them in small batches, so a sweep
// of a large store never stops lookups and delays a change by one batch at
// most.
package memory

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/vero-oms/omsd/store"
)

// DefaultJanitorInterval is how often expired records are swept by default.
const DefaultJanitorInterval = time.Minute

var errClosed = errors.New("memory store: closed")

// Option configures a Store.
type Option func(*config)

type config struct {
	clock       func() time.Time
	interval    time.Duration
	maxCounters int
}

// DefaultMaxCounters bounds the rate-limit counters kept at once (about
// 150 bytes each), so a flood of distinct keys cannot grow memory without end.
const DefaultMaxCounters = 1 << 18

// WithMaxCounters sets the bound on live rate-limit counters; n <= 0 means
// DefaultMaxCounters. When full, expired counters are swept first and, if
// that frees nothing, the counters closest to the end of their window go.
func WithMaxCounters(n int) Option {
	return func(c *config) { c.maxCounters = n }
}

// WithClock sets the clock used for physical reclaim and counter windows
// (default time.Now). Logical expiry always uses the `now` arguments.
func WithClock(clock func() time.Time) Option {
	return func(c *config) { c.clock = clock }
}

// WithJanitorInterval sets how often the janitor sweeps expired records;
// d <= 0 disables it (records are then reclaimed only when touched).
func WithJanitorInterval(d time.Duration) Option {
	return func(c *config) { c.interval = d }
}

type counter struct {
	count   int64
	resetAt time.Time
}

// Store implements store.Store in memory. Create it with New.
type Store struct {
	clock func() time.Time

	mu              sync.RWMutex
	closed          bool
	identities      map[string]store.Identity
	identityByEmail map[string]string
	sessions        map[string]store.Session
	sessionByToken  map[string]string
	recoveries      map[string]store.Recovery
	recoveryByEmail map[string][]string // email key -> live recovery ids, oldest first
	counters        map[string]*counter
	maxCounters     int

	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

var _ store.Store = (*Store)(nil)

// New returns an empty store. Close stops its janitor.
func New(opts ...Option) *Store {
	cfg := config{clock: time.Now, interval: DefaultJanitorInterval}
	for _, o := range opts {
		o(&cfg)
	}
	if cfg.clock == nil {
		cfg.clock = time.Now
	}
	if cfg.maxCounters <= 0 {
		cfg.maxCounters = DefaultMaxCounters
	}
	s := &Store{
		clock:           cfg.clock,
		identities:      map[string]store.Identity{},
		identityByEmail: map[string]string{},
		sessions:        map[string]store.Session{},
		sessionByToken:  map[string]string{},
		recoveries:      map[string]store.Recovery{},
		recoveryByEmail: map[string][]string{},
		counters:        map[string]*counter{},
		maxCounters:     cfg.maxCounters,
		stop:            make(chan struct{}),
		done:            make(chan struct{}),
	}
	if cfg.interval > 0 {
		go s.janitor(cfg.interval)
	} else {
		close(s.done)
	}
	return s
}

func (s *Store) janitor(interval time.Duration) {
	defer close(s.done)
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			s.Sweep()
		}
	}
}

// sweepBatch bounds how many records one write-locked step of Sweep removes.
const sweepBatch = 256

// Sweep removes every record whose physical lifetime has ended by the
// store's clock. The janitor calls it; it is exported for tests and for
// callers that disable the janitor. It finds candidates under the read
// lock, then removes them sweepBatch at a time under the write lock,
// checking each again, so it never holds the write lock for long.
func (s *Store) Sweep() {
	now := s.clock()
	var sessions, recoveries, counters []string
	s.mu.RLock()
	for id, sess := range s.sessions {
		if sessionGone(sess, now) {
			sessions = append(sessions, id)
		}
	}
	for id, r := range s.recoveries {
		if recoveryGone(r, now) {
			recoveries = append(recoveries, id)
		}
	}
	for k, c := range s.counters {
		if !now.Before(c.resetAt) {
			counters = append(counters, k)
		}
	}
	s.mu.RUnlock()

	inBatches(&s.mu, sessions, func(id string) {
		if sess, ok := s.sessions[id]; ok && sessionGone(sess, now) {
			s.dropSession(id)
		}
	})
	inBatches(&s.mu, recoveries, func(id string) {
		if r, ok := s.recoveries[id]; ok && recoveryGone(r, now) {
			s.dropRecovery(id)
		}
	})
	inBatches(&s.mu, counters, func(k string) {
		if c, ok := s.counters[k]; ok && !now.Before(c.resetAt) {
			delete(s.counters, k)
		}
	})
}

// sweepCounters drops every ended counter; the caller holds the write lock.
func (s *Store) sweepCounters(now time.Time) {
	for k, c := range s.counters {
		if !now.Before(c.resetAt) {
			delete(s.counters, k)
		}
	}
}

func inBatches(mu *sync.RWMutex, keys []string, drop func(string)) {
	for len(keys) > 0 {
		n := min(len(keys), sweepBatch)
		mu.Lock()
		for _, k := range keys[:n] {
			drop(k)
		}
		mu.Unlock()
		keys = keys[n:]
	}
}

// makeRoomForCounter keeps the counters under their bound: expired ones go
// first; if none had expired, the eighth closest to the end of its window
// goes (those forget the least protection).
func (s *Store) makeRoomForCounter(now time.Time) {
	if len(s.counters) < s.maxCounters {
		return
	}
	s.sweepCounters(now)
	if len(s.counters) < s.maxCounters {
		return
	}
	type entry struct {
		key     string
		resetAt time.Time
	}
	all := make([]entry, 0, len(s.counters))
	for k, c := range s.counters {
		all = append(all, entry{k, c.resetAt})
	}
	sort.Slice(all, func(a, b int) bool { return all[a].resetAt.Before(all[b].resetAt) })
	for _, e := range all[:max(1, len(all)/8)] {
		delete(s.counters, e.key)
	}
}

// begin locks the store after checking ctx and Close; callers must unlock.
func (s *Store) begin(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: %w", err)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return errClosed
	}
	return nil
}

// beginRead is begin with the read lock; callers must RUnlock.
func (s *Store) beginRead(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("memory store: %w", err)
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
	}
	return nil
}

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

// ---- counters ----

func (s *Store) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	if err := s.begin(ctx); err != nil {
		return 0, 0, err
	}
	defer s.mu.Unlock()
	window = max(window, time.Millisecond) // as in Redis, which needs a positive TTL
	now := s.clock()
	c, ok := s.counters[key]
	if !ok || !now.Before(c.resetAt) {
		if !ok {
			s.makeRoomForCounter(now)
		}
		c = &counter{resetAt: now.Add(window)}
		s.counters[key] = c
	}
	c.count++
	return c.count, c.resetAt.Sub(now), nil
}

func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	if err := s.beginRead(ctx); err != nil {
		return 0, err
	}
	defer s.mu.RUnlock()
	c, ok := s.counters[key]
	if !ok || !s.clock().Before(c.resetAt) {
		return 0, nil
	}
	return c.count, nil
}

func (s *Store) Undo(ctx context.Context, key string) error {
	if err := s.begin(ctx); err != nil {
		return err
	}
	defer s.mu.Unlock()
	c, ok := s.counters[key]
	if !ok {
		return nil
	}
	if !s.clock().Before(c.resetAt) {
		delete(s.counters, key)
		return nil
	}
	if c.count > 0 {
		c.count--
	}
	return nil
}

// ---- lifecycle ----

func (s *Store) Ping(ctx context.Context) error {
	if err := s.beginRead(ctx); err != nil {
		return err
	}
	s.mu.RUnlock()
	return nil
}

// Close stops the janitor; later calls fail. Idempotent.
func (s *Store) Close() error {
	s.stopOnce.Do(func() {
		close(s.stop)
		<-s.done
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
	})
	return nil
}

// ---- helpers ----

// expired is the logical check, compared at millisecond precision because
// that is what the Redis adapter can store.
func expired(expiresAt, now time.Time) bool {
	return now.UnixMilli() >= expiresAt.UnixMilli()
}

// msTime normalises a time as the Redis adapter stores it: UTC, whole
// milliseconds, so both adapters return identical values.
func msTime(t time.Time) time.Time {
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// cloneSlice copies s; empty comes back nil, as from the Redis adapter.
func cloneSlice[T any](s []T) []T {
	if len(s) == 0 {
		return nil
	}
	return append([]T(nil), s...)
}

func cloneIdentity(i store.Identity) store.Identity {
	i.Roles = cloneSlice(i.Roles)
	i.CreatedAt = msTime(i.CreatedAt)
	i.UpdatedAt = msTime(i.UpdatedAt)
	return i
}

func cloneSession(s store.Session) store.Session {
	s.Devices = cloneSlice(s.Devices)
	s.AuthenticatedAt = msTime(s.AuthenticatedAt)
	s.ExpiresAt = msTime(s.ExpiresAt)
	return s
}

func cloneRecovery(r store.Recovery) store.Recovery {
	r.CodeMAC = cloneSlice(r.CodeMAC)
	r.ExpiresAt = msTime(r.ExpiresAt)
	return r
}
