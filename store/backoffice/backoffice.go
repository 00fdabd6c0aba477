// Package backoffice keeps the back-office records (store.BackOffice) on a
// backend of hashes: named keys holding string fields, like Redis hashes.
// Both adapters use it, so the records, their encoding and the transaction
// rules are written once; an adapter supplies the Backend: reads, sequences
// and one atomic Commit.
//
// Transactions are optimistic. fn reads through the transaction, which
// remembers every value it saw; Commit writes fn's changes and audit
// entries only if every value read is still the same, else the whole
// transaction runs again on fresh reads. A request approved by two checkers
// at once therefore commits once: the second run sees it is no longer
// PENDING.
package backoffice

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"

	"github.com/vero-oms/omsd/store"
)

// Cell names one field of one hash.
type Cell struct{ Key, Field string }

// Value is a field's content; OK is false when the field is absent.
type Value struct {
	S  string
	OK bool
}

// Check asks Commit to go on only if the cell still holds Want.
type Check struct {
	Cell
	Want Value
}

// Write sets a cell to Value, or removes it when Delete.
type Write struct {
	Cell
	Value  string
	Delete bool
}

// Commit is one atomic step: every check holds, then every write lands,
// the outbox entries are appended (given IDs from SeqOutbox, which nothing
// else advances) and the audit entries are appended (given IDs from the
// audit sequence).
type Commit struct {
	Checks []Check
	Writes []Write
	Outbox []string
	Audit  []store.AuditEntry
	// Notify is set when the commit appends outbox entries and this
	// process does not publish them: a backend that several processes
	// share wakes the publisher of the one that does (only a wake-up; the
	// publisher reads the entries from the store).
	Notify bool
}

// ErrStale is Backend.Commit's answer when a check fails; nothing was
// written and the transaction is run again.
var ErrStale = errors.New("backoffice: a value read has changed")

// Backend is what an adapter provides. Errors other than ErrStale are
// backend failures (wrapping store.ErrUnavailable).
type Backend interface {
	Get(ctx context.Context, c Cell) (Value, error)
	// GetMany reads fields of one key, in order.
	GetMany(ctx context.Context, key string, fields []string) ([]Value, error)
	GetAll(ctx context.Context, key string) (map[string]string, error)
	// GetAllOf reads several whole hashes in one round trip, in order.
	GetAllOf(ctx context.Context, keys []string) ([]map[string]string, error)
	// GetCells reads fields of several keys in one round trip, in order.
	GetCells(ctx context.Context, cells []Cell) ([]Value, error)
	// Next increments the named sequence and returns the new value; Top
	// returns its current value (0 before the first Next).
	Next(ctx context.Context, seq string) (int64, error)
	// NextN increments the named sequence by n and returns the new value:
	// the caller owns the n values up to it.
	NextN(ctx context.Context, seq string, n int64) (int64, error)
	Top(ctx context.Context, seq string) (int64, error)
	HasReferenceValue(ctx context.Context, kind, value string) (bool, error)
	Commit(ctx context.Context, c Commit) (Committed, error)
}

// Committed is what a commit assigned: the audit entries' IDs and the
// outbox entries' (LastOutbox is the ID of the last one; 0 when it wrote
// none).
type Committed struct {
	Audit      []store.AuditEntry
	LastOutbox int64
}

// The hashes and sequences; adapters map them to their own key names.
const (
	KeyAccounts       = "accounts"         // account code -> account
	KeyGrants         = "grants"           // user NUL account -> grant
	KeyGrantsOfPrefix = "grants-of:"       // + user: account -> grant (index of KeyGrants)
	KeyGroups         = "groups"           // id -> group
	KeyGroupNames     = "group-names"      // name -> id
	KeyMembers        = "members"          // account code -> membership
	KeyRiskRules      = "risk-rules"       // kind NUL scope NUL target -> rule
	KeyOrderRiskRules = "order-risk-rules" // kind NUL scope NUL target NUL match -> rule
	KeyRequests       = "requests"         // id -> workflow request
	SeqGroups         = "group-seq"
	SeqRequests       = "request-seq"
)

// MaxAttempts bounds how often a transaction is retried on ErrStale before
// giving up with store.ErrUnavailable (only under extreme contention on
// one record).
const MaxAttempts = 64

// Records implements store.BackOffice on a Backend.
type Records struct {
	b        Backend
	orderIDs idBlock
	seen     *lru.Cache[Cell, Value] // nil: every transaction reads
	written  chan struct{}           // OutboxWritten
	feed     *outboxFeed             // nil: the publisher reads every entry

	openIndexed atomic.Bool // KeyOpenOrders is known to cover every order
}

// Options tunes Records.
type Options struct {
	// Remember is how many account, grant and rules-version cells to keep
	// as last seen, so a transaction can start from them instead of a
	// round trip (see Prefetch in package store). 0 turns it off: right for
	// a backend whose reads cost nothing.
	Remember int
	// FeedOutbox keeps the outbox entries this process commits, decoded as
	// they were built, for the publisher's next read (OutboxAfter), which
	// then needs no round trip and decodes nothing.
	FeedOutbox bool
}

// New returns the records kept on b.
func New(b Backend, o Options) *Records {
	r := &Records{b: b, written: make(chan struct{}, 1)}
	if o.FeedOutbox {
		r.feed = &outboxFeed{byID: map[int64]fedEntry{}}
	}
	if o.Remember > 0 {
		// hashicorp/golang-lru: an exact bound, least recently used out
		// first, safe for concurrent use; already used for the session and
		// token caches.
		r.seen, _ = lru.New[Cell, Value](o.Remember)
	}
	return r
}

// remembered reports whether c is a cell kept as last seen: the records an
// order entry and its fills read and this process mostly writes itself
// (accounts, grants, the rules' version, orders, instruments' trading
// days).
func remembered(c Cell) bool {
	switch c.Key {
	case KeyAccounts, KeyGrants, KeyMeta, KeyOrders, KeyMarketDays:
		return true
	}
	return false
}

var _ store.BackOffice = (*Records)(nil)

func join(parts ...string) string { return strings.Join(parts, "\x00") }

func idField(id int64) string { return strconv.FormatInt(id, 10) }

// ---- reads ----

func (r *Records) Account(ctx context.Context, code string) (store.Account, error) {
	v, err := r.b.Get(ctx, Cell{KeyAccounts, code})
	if err != nil {
		return store.Account{}, err
	}
	if !v.OK {
		return store.Account{}, fmt.Errorf("account %q: %w", code, store.ErrNotFound)
	}
	return decodeAccount(v.S)
}

func (r *Records) Accounts(ctx context.Context, codes []string) ([]store.Account, error) {
	if len(codes) == 0 {
		return []store.Account{}, nil
	}
	vs, err := r.b.GetMany(ctx, KeyAccounts, codes)
	if err != nil {
		return nil, err
	}
	out := make([]store.Account, 0, len(vs))
	for _, v := range vs {
		if !v.OK {
			continue
		}
		a, err := decodeAccount(v.S)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, nil
}

func (r *Records) AccountCodes(ctx context.Context) ([]string, error) {
	m, err := r.b.GetAll(ctx, KeyAccounts)
	if err != nil {
		return nil, err
	}
	out := make([]string, 0, len(m))
	for code := range m {
		out = append(out, code)
	}
	slices.Sort(out)
	return out, nil
}

func (r *Records) GrantsOfUser(ctx context.Context, userID string) ([]store.Grant, error) {
	return decodeAll(ctx, r.b, KeyGrantsOfPrefix+userID, decodeGrant, compareGrants)
}

func (r *Records) Grants(ctx context.Context) ([]store.Grant, error) {
	return decodeAll(ctx, r.b, KeyGrants, decodeGrant, compareGrants)
}

func (r *Records) Groups(ctx context.Context) ([]store.Group, error) {
	return decodeAll(ctx, r.b, KeyGroups, decodeGroup, func(a, b store.Group) int { return cmpInt(a.ID, b.ID) })
}

func (r *Records) Group(ctx context.Context, id int64) (store.Group, error) {
	v, err := r.b.Get(ctx, Cell{KeyGroups, idField(id)})
	if err != nil {
		return store.Group{}, err
	}
	if !v.OK {
		return store.Group{}, fmt.Errorf("group %d: %w", id, store.ErrNotFound)
	}
	return decodeGroup(v.S)
}

// GroupMembers reads every membership and filters: O(accounts in groups).
func (r *Records) GroupMembers(ctx context.Context, groupID int64) ([]store.GroupMember, error) {
	all, err := decodeAll(ctx, r.b, KeyMembers, decodeMember, func(a, b store.GroupMember) int { return strings.Compare(a.AccountCode, b.AccountCode) })
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(m store.GroupMember) bool { return m.GroupID != groupID }), nil
}

func (r *Records) RiskRules(ctx context.Context) ([]store.RiskRule, error) {
	return decodeAll(ctx, r.b, KeyRiskRules, decodeRiskRule, func(a, b store.RiskRule) int {
		return strings.Compare(join(a.Kind, a.Scope, a.Target), join(b.Kind, b.Scope, b.Target))
	})
}

func (r *Records) OrderRiskRules(ctx context.Context) ([]store.OrderRiskRule, error) {
	return decodeAll(ctx, r.b, KeyOrderRiskRules, decodeOrderRiskRule, func(a, b store.OrderRiskRule) int {
		return strings.Compare(join(a.Kind, a.Scope, a.Target, a.Match), join(b.Kind, b.Scope, b.Target, b.Match))
	})
}

func (r *Records) WorkflowRequest(ctx context.Context, id int64) (store.WorkflowRequest, error) {
	v, err := r.b.Get(ctx, Cell{KeyRequests, idField(id)})
	if err != nil {
		return store.WorkflowRequest{}, err
	}
	if !v.OK {
		return store.WorkflowRequest{}, fmt.Errorf("workflow request %d: %w", id, store.ErrNotFound)
	}
	return decodeRequest(v.S)
}

// requestScanBatch is how many requests one GetMany of WorkflowRequests reads.
const requestScanBatch = 256

// WorkflowRequests walks the ids down from the sequence in batches and
// filters: O(requests scanned), every request when the filter matches few.
func (r *Records) WorkflowRequests(ctx context.Context, f store.RequestFilter) ([]store.WorkflowRequest, error) {
	limit, skip := f.Page()
	top, err := r.b.Top(ctx, SeqRequests)
	if err != nil {
		return nil, err
	}
	out := make([]store.WorkflowRequest, 0, min(int64(limit), top))
	fields := make([]string, 0, requestScanBatch)
	for hi := top; hi >= 1 && len(out) < limit; hi -= requestScanBatch {
		fields = fields[:0]
		for id := hi; id >= max(1, hi-requestScanBatch+1); id-- {
			fields = append(fields, idField(id))
		}
		vs, err := r.b.GetMany(ctx, KeyRequests, fields)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			if !v.OK {
				continue // a gap: a transaction that took an id did not commit
			}
			req, err := decodeRequest(v.S)
			if err != nil {
				return nil, err
			}
			if !f.Match(req) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if out = append(out, req); len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

// TradingRules reads the OMS and order risk rules in one round trip.
func (r *Records) TradingRules(ctx context.Context) ([]store.RiskRule, []store.OrderRiskRule, error) {
	ms, err := r.b.GetAllOf(ctx, []string{KeyRiskRules, KeyOrderRiskRules})
	if err != nil {
		return nil, nil, err
	}
	risk, err := decodeMap(ms[0], decodeRiskRule, func(a, b store.RiskRule) int {
		return strings.Compare(join(a.Kind, a.Scope, a.Target), join(b.Kind, b.Scope, b.Target))
	})
	if err != nil {
		return nil, nil, err
	}
	order, err := decodeMap(ms[1], decodeOrderRiskRule, func(a, b store.OrderRiskRule) int {
		return strings.Compare(join(a.Kind, a.Scope, a.Target, a.Match), join(b.Kind, b.Scope, b.Target, b.Match))
	})
	return risk, order, err
}

func decodeAll[T any](ctx context.Context, b Backend, key string, decode func(string) (T, error), cmp func(a, b T) int) ([]T, error) {
	m, err := b.GetAll(ctx, key)
	if err != nil {
		return nil, err
	}
	return decodeMap(m, decode, cmp)
}

func decodeMap[T any](m map[string]string, decode func(string) (T, error), cmp func(a, b T) int) ([]T, error) {
	out := make([]T, 0, len(m))
	for _, s := range m {
		v, err := decode(s)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	slices.SortFunc(out, cmp)
	return out, nil
}

func compareGrants(a, b store.Grant) int {
	if c := strings.Compare(a.UserID, b.UserID); c != 0 {
		return c
	}
	return strings.Compare(a.AccountCode, b.AccountCode)
}

func cmpInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// ---- transactions ----

func (r *Records) UpdateBackOffice(ctx context.Context, fn func(tx store.BackOfficeTx) error) ([]store.AuditEntry, error) {
	// The first run may start from remembered values (guesses); it counts
	// only if its commit checks them. A run that fails, writes nothing or
	// commits stale after a guess is run again on fresh reads.
	guess := r.seen != nil
	for attempt := 0; attempt < MaxAttempts; attempt++ {
		if attempt > 0 {
			guess = false
		}
		if attempt > 2 {
			// Contention: step aside a little so the winner finishes.
			d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt-2, 4)))
			select {
			case <-ctx.Done():
				return nil, fmt.Errorf("back office: %w: %w", store.ErrUnavailable, ctx.Err())
			case <-time.After(d):
			}
		}
		t := &tx{ctx: ctx, b: r.b, ids: &r.orderIDs, seen: r.seen, guess: guess, reads: map[Cell]Value{}, writes: map[Cell]int{}}
		if err := fn(t); err != nil {
			if t.guessed || r.readsChanged(ctx, t.reads, err) {
				continue
			}
			return nil, err
		}
		if len(t.commit.Writes) == 0 && len(t.commit.Audit) == 0 {
			if t.guessed {
				continue
			}
			return []store.AuditEntry{}, nil
		}
		for _, e := range t.commit.Audit {
			if err := e.Validate(); err != nil {
				return nil, err
			}
		}
		publishes := r.feed.wanted() // this process reads its outbox
		outbox, decoded, err := outboxOf(t, time.Now(), publishes)
		if err != nil {
			return nil, err
		}
		t.commit.Outbox = outbox
		t.commit.Notify = len(outbox) > 0 && !publishes
		t.commit.Checks = make([]Check, 0, len(t.reads)) // one allocation, not one per doubling
		for c, v := range t.reads {
			t.commit.Checks = append(t.commit.Checks, Check{Cell: c, Want: v})
		}
		// Checks in a stable order, so a backend's script sees the same keys
		// in the same order for the same transaction.
		slices.SortFunc(t.commit.Checks, func(a, b Check) int {
			return strings.Compare(a.Key+"\x00"+a.Field, b.Key+"\x00"+b.Field)
		})
		done, err := r.b.Commit(ctx, t.commit)
		if errors.Is(err, ErrStale) {
			continue
		}
		if len(t.commit.Outbox) > 0 {
			if err == nil {
				r.feed.add(done.LastOutbox, t.commit.Outbox, decoded)
			}
			r.signalOutbox() // also when the outcome is unknown: a poll costs little
		}
		if err == nil && r.seen != nil {
			// What this commit wrote is what the store now holds.
			for _, w := range t.commit.Writes {
				if remembered(w.Cell) {
					r.seen.Add(w.Cell, Value{S: w.Value, OK: !w.Delete})
				}
			}
		}
		return done.Audit, err
	}
	return nil, fmt.Errorf("back office: still contended after %d attempts: %w", MaxAttempts, store.ErrUnavailable)
}

// readsChanged reports whether a cell fn read (before failing with err)
// holds another value now. A run's reads are not one atomic snapshot: a
// commit between two of them can show fn half of it (an order's hold
// without the account's), and an error decided on that must not reach the
// caller; the run is decided again on fresh reads. If every cell still
// holds what was read, the error stands: unless a cell went back to an
// earlier text in between, the reads held together just before this
// check's first read. Unavailability is not decided by reads, and a check
// that fails leaves the error as it is.
func (r *Records) readsChanged(ctx context.Context, reads map[Cell]Value, err error) bool {
	if len(reads) == 0 || errors.Is(err, store.ErrUnavailable) || ctx.Err() != nil {
		return false
	}
	cells := make([]Cell, 0, len(reads))
	for c := range reads {
		cells = append(cells, c)
	}
	now, cerr := r.b.GetCells(ctx, cells)
	if cerr != nil {
		return false
	}
	for i, c := range cells {
		if now[i] != reads[c] {
			return true
		}
	}
	return false
}

// tx buffers writes and remembers what it read.
type tx struct {
	ctx     context.Context
	b       Backend
	ids     *idBlock
	seen    *lru.Cache[Cell, Value] // last seen values; nil when off
	guess   bool                    // this run may take values from seen
	guessed bool                    // ... and did
	reads   map[Cell]Value          // the first value seen of every cell read (or guessed)
	writes  map[Cell]int            // index into commit.Writes
	commit  Commit
}

func (t *tx) get(key, field string) (Value, error) {
	c := Cell{key, field}
	if i, ok := t.writes[c]; ok {
		w := t.commit.Writes[i]
		return Value{S: w.Value, OK: !w.Delete}, nil
	}
	if v, ok := t.reads[c]; ok {
		return v, nil
	}
	if t.takeGuess(c) {
		return t.reads[c], nil
	}
	v, err := t.b.Get(t.ctx, c)
	if err != nil {
		return Value{}, err
	}
	t.read(c, v)
	return v, nil
}

// takeGuess serves c from the last seen values when this run may guess.
func (t *tx) takeGuess(c Cell) bool {
	if !t.guess || !remembered(c) {
		return false
	}
	v, ok := t.seen.Get(c)
	if ok {
		t.reads[c], t.guessed = v, true
	}
	return ok
}

// read records a value read from the backend.
func (t *tx) read(c Cell, v Value) {
	t.reads[c] = v
	if t.seen != nil && remembered(c) {
		t.seen.Add(c, v)
	}
}

func (t *tx) set(key, field, value string, del bool) {
	if key == KeyRiskRules || key == KeyOrderRiskRules {
		// Any rule change gives the rules a new version (see RulesVersion).
		t.bumpRules()
	}
	c := Cell{key, field}
	w := Write{Cell: c, Value: value, Delete: del}
	if i, ok := t.writes[c]; ok {
		t.commit.Writes[i] = w
		return
	}
	if t.commit.Writes == nil {
		// Room for an order's usual writes at once, not a doubling from
		// one (4 measured best of 4, 6 and 8 in the benchmarks).
		t.commit.Writes = make([]Write, 0, 4)
	}
	t.writes[c] = len(t.commit.Writes)
	t.commit.Writes = append(t.commit.Writes, w)
}

func getRecord[T any](t *tx, key, field string, decode func(string) (T, error)) (T, bool, error) {
	var zero T
	v, err := t.get(key, field)
	if err != nil || !v.OK {
		return zero, false, err
	}
	rec, err := decode(v.S)
	return rec, err == nil, err
}

func (t *tx) Account(code string) (store.Account, bool, error) {
	return getRecord(t, KeyAccounts, code, decodeAccount)
}

func (t *tx) PutAccount(a store.Account) error {
	if err := store.ValidateKeyPart("account code", a.AccountCode); err != nil {
		return err
	}
	// Holdings are kept sorted by symbol, one per symbol (Account.Holding
	// searches them), however the caller built the slice. Usually they
	// are sorted already (read so): then they are encoded as they are,
	// without the copy that sorting the caller's slice needs.
	bySymbol := func(x, y store.Holding) int { return strings.Compare(x.Symbol, y.Symbol) }
	if !slices.IsSortedFunc(a.Holdings, bySymbol) {
		a.Holdings = slices.Clone(a.Holdings)
		slices.SortStableFunc(a.Holdings, bySymbol)
	}
	for i := 1; i < len(a.Holdings); i++ {
		if a.Holdings[i].Symbol == a.Holdings[i-1].Symbol {
			return fmt.Errorf("account %q: two holdings of %q: %w", a.AccountCode, a.Holdings[i].Symbol, store.ErrInvalid)
		}
	}
	s, err := encodeAccount(a)
	if err != nil {
		return err
	}
	t.set(KeyAccounts, a.AccountCode, s, false)
	return nil
}

func (t *tx) Grant(userID, accountCode string) (store.Grant, bool, error) {
	return getRecord(t, KeyGrants, join(userID, accountCode), decodeGrant)
}

func (t *tx) PutGrant(g store.Grant) error {
	if err := validatePair("grant", g.UserID, g.AccountCode); err != nil {
		return err
	}
	if g.Level.Rank() == 0 {
		return fmt.Errorf("grant level %q: %w", g.Level, store.ErrInvalid)
	}
	s, err := encodeGrant(g)
	if err != nil {
		return err
	}
	t.set(KeyGrants, join(g.UserID, g.AccountCode), s, false)
	t.set(KeyGrantsOfPrefix+g.UserID, g.AccountCode, s, false)
	return nil
}

func (t *tx) DeleteGrant(userID, accountCode string) error {
	if err := validatePair("grant", userID, accountCode); err != nil {
		return err
	}
	t.set(KeyGrants, join(userID, accountCode), "", true)
	t.set(KeyGrantsOfPrefix+userID, accountCode, "", true)
	return nil
}

func validatePair(what, a, b string) error {
	if err := store.ValidateKeyPart(what, a); err != nil {
		return err
	}
	return store.ValidateKeyPart(what, b)
}

func (t *tx) Group(id int64) (store.Group, bool, error) {
	return getRecord(t, KeyGroups, idField(id), decodeGroup)
}

func (t *tx) GroupByName(name string) (store.Group, bool, error) {
	v, err := t.get(KeyGroupNames, name)
	if err != nil || !v.OK {
		return store.Group{}, false, err
	}
	id, err := strconv.ParseInt(v.S, 10, 64)
	if err != nil {
		return store.Group{}, false, fmt.Errorf("back office: group name index %q: %w", name, err)
	}
	return t.Group(id)
}

func (t *tx) NewGroup(g store.Group) (store.Group, error) {
	if err := store.ValidateKeyPart("group name", g.Name); err != nil {
		return store.Group{}, err
	}
	// The name index is read (and so checked at commit) first: a name
	// already taken is a conflict, and of two groups created with one name
	// at once only one can commit; the other runs again and finds it taken.
	if v, err := t.get(KeyGroupNames, g.Name); err != nil {
		return store.Group{}, err
	} else if v.OK {
		return store.Group{}, fmt.Errorf("group name %q: %w", g.Name, store.ErrConflict)
	}
	id, err := t.b.Next(t.ctx, SeqGroups)
	if err != nil {
		return store.Group{}, err
	}
	g.ID = id
	s, err := encodeGroup(g)
	if err != nil {
		return store.Group{}, err
	}
	t.set(KeyGroups, idField(id), s, false)
	t.set(KeyGroupNames, g.Name, idField(id), false)
	return decodeGroup(s)
}

func (t *tx) Member(accountCode string) (store.GroupMember, bool, error) {
	return getRecord(t, KeyMembers, accountCode, decodeMember)
}

func (t *tx) PutMember(m store.GroupMember) error {
	if err := store.ValidateKeyPart("account code", m.AccountCode); err != nil {
		return err
	}
	if m.GroupID <= 0 {
		return fmt.Errorf("group member: group id %d: %w", m.GroupID, store.ErrInvalid)
	}
	s, err := encodeMember(m)
	if err != nil {
		return err
	}
	t.set(KeyMembers, m.AccountCode, s, false)
	return nil
}

func (t *tx) DeleteMember(accountCode string) error {
	if err := store.ValidateKeyPart("account code", accountCode); err != nil {
		return err
	}
	t.set(KeyMembers, accountCode, "", true)
	return nil
}

func (t *tx) RiskRule(kind, scope, target string) (store.RiskRule, bool, error) {
	return getRecord(t, KeyRiskRules, join(kind, scope, target), decodeRiskRule)
}

func (t *tx) PutRiskRule(r store.RiskRule) error {
	if err := validateRuleKey(store.RiskRuleKinds, r.Kind, r.Scope, r.Target); err != nil {
		return err
	}
	s, err := encodeRiskRule(r)
	if err != nil {
		return err
	}
	t.set(KeyRiskRules, join(r.Kind, r.Scope, r.Target), s, false)
	return nil
}

func (t *tx) DeleteRiskRule(kind, scope, target string) error {
	if err := validateRuleKey(store.RiskRuleKinds, kind, scope, target); err != nil {
		return err
	}
	t.set(KeyRiskRules, join(kind, scope, target), "", true)
	return nil
}

func (t *tx) OrderRiskRule(kind, scope, target, match string) (store.OrderRiskRule, bool, error) {
	return getRecord(t, KeyOrderRiskRules, join(kind, scope, target, match), decodeOrderRiskRule)
}

func (t *tx) PutOrderRiskRule(r store.OrderRiskRule) error {
	if err := validateRuleKey(store.OrderRiskRuleKinds, r.Kind, r.Scope, r.Target, r.Match); err != nil {
		return err
	}
	s, err := encodeOrderRiskRule(r)
	if err != nil {
		return err
	}
	t.set(KeyOrderRiskRules, join(r.Kind, r.Scope, r.Target, r.Match), s, false)
	return nil
}

func (t *tx) DeleteOrderRiskRule(kind, scope, target, match string) error {
	if err := validateRuleKey(store.OrderRiskRuleKinds, kind, scope, target, match); err != nil {
		return err
	}
	t.set(KeyOrderRiskRules, join(kind, scope, target, match), "", true)
	return nil
}

func validateRuleKey(kinds []string, kind, scope string, rest ...string) error {
	if !slices.Contains(kinds, kind) {
		return fmt.Errorf("rule kind %q: %w", kind, store.ErrInvalid)
	}
	if !slices.Contains(store.RuleScopes, scope) {
		return fmt.Errorf("rule scope %q: %w", scope, store.ErrInvalid)
	}
	for _, p := range rest {
		if err := store.ValidateKeyPart("rule key", p); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) Request(id int64) (store.WorkflowRequest, bool, error) {
	return getRecord(t, KeyRequests, idField(id), decodeRequest)
}

func (t *tx) NewRequest(r store.WorkflowRequest) (store.WorkflowRequest, error) {
	id, err := t.b.Next(t.ctx, SeqRequests)
	if err != nil {
		return store.WorkflowRequest{}, err
	}
	r.ID = id
	if err := t.PutRequest(r); err != nil {
		return store.WorkflowRequest{}, err
	}
	got, _, err := t.Request(id)
	return got, err
}

func (t *tx) PutRequest(r store.WorkflowRequest) error {
	if r.ID <= 0 {
		return fmt.Errorf("workflow request id %d: %w", r.ID, store.ErrInvalid)
	}
	s, err := encodeRequest(r)
	if err != nil {
		return err
	}
	t.set(KeyRequests, idField(r.ID), s, false)
	return nil
}

func (t *tx) HasReferenceValue(kind, value string) (bool, error) {
	return t.b.HasReferenceValue(t.ctx, kind, value)
}

func (t *tx) Audit(e store.AuditEntry) { t.commit.Audit = append(t.commit.Audit, e) }
