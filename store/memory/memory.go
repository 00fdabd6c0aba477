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
// most. Back-office records (reference data, firm traders, the audit log)
// are durable: never swept.
package memory

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/backoffice"
)

// DefaultJanitorInterval is how often expired records are swept by default.
const DefaultJanitorInterval = time.Minute

var errClosed = fmt.Errorf("memory store: closed: %w", store.ErrUnavailable)

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
	refValues       map[string]map[string]store.ReferenceValue // kind -> value -> record
	firmTraders     map[firmTraderKey]store.FirmTrader
	audit           []store.AuditEntry           // in ID order; never shrinks
	bo              map[string]map[string]string // back-office hashes (store/backoffice)
	boSeq           map[string]int64
	leases          map[string]lease

	*backoffice.Records

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
		refValues:       map[string]map[string]store.ReferenceValue{},
		firmTraders:     map[firmTraderKey]store.FirmTrader{},
		bo:              map[string]map[string]string{},
		boSeq:           map[string]int64{},
		stop:            make(chan struct{}),
		done:            make(chan struct{}),
	}
	// Reads cost nothing here, but decoding does: the publisher takes what
	// this process committed as it was built.
	s.Records = backoffice.New(boBackend{s}, backoffice.Options{FeedOutbox: true})
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
		return fmt.Errorf("memory store: %w: %w", store.ErrUnavailable, err)
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
		return fmt.Errorf("memory store: %w: %w", store.ErrUnavailable, err)
	}
	s.mu.RLock()
	if s.closed {
		s.mu.RUnlock()
		return errClosed
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
