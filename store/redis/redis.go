// Package redis is the store.Store on Redis: standalone, Sentinel or Cluster.
//
// Key layout (prefix default "oms:"), hash-tagged so that every multi-key
// script stays in one cluster slot:
//
//	<p>{auth}:identity:<id>             identity JSON, no TTL
//	<p>{auth}:identities                set of identity ids (ListIdentities)
//	<p>{auth}:email:<email>             -> identity id
//	<p>{auth}:recovery:<id>             recovery JSON, TTL ExpiresAt+RecoveryRetention
//	<p>{auth}:recovery-emails:<emailKey> list of live recovery ids (oldest first), TTL of the longest-lived
//	<p>{s:<sessionID>}                  session JSON, TTL ExpiresAt
//	<p>{t:<tokenHash>}                  -> session id, same TTL
//	<p>{c:<key>}                        counter, TTL the window
//
// Times are stored as unix milliseconds, so values come back in UTC at
// millisecond precision; empty slices come back nil.
package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
)

// DefaultPrefix starts every key unless Options.Prefix says otherwise.
const DefaultPrefix = "oms:"

// Options configure Open.
type Options struct {
	// URL is redis://[user:pass@]host:port[/db][?dial_timeout=...] or
	// rediss:// for TLS, for one server; a Cluster seed list (or, with
	// MasterName, the Sentinels) is redis://[user:pass@]h1:port,h2:port or
	// redis://[user:pass@]h1:port?addr=h2:port&addr=h3:port. See ParseURL.
	// Use URL or Addrs, not both.
	URL string
	// Addrs lists host:port addresses. One address is a standalone server;
	// several are a cluster seed list unless MasterName is set, in which
	// case they are Sentinels.
	Addrs      []string
	MasterName string // Sentinel master name

	Username, Password string // override the URL's when set
	DB                 int    // standalone/Sentinel only
	TLS                bool   // rediss:// implies it
	// TLSConfig, when set, is used (cloned) for every TLS dial and implies
	// TLS: set RootCAs to trust a private CA. Leave ServerName empty so each
	// host is verified under its own name.
	TLSConfig *tls.Config

	// Zero means the URL's value or go-redis's default. A call against a
	// hung server can take up to (MaxRetries+1) times ReadTimeout; against
	// a stopped one it fails within milliseconds.
	DialTimeout, ReadTimeout, WriteTimeout time.Duration
	PoolSize                               int
	MaxRetries                             int // -1 disables retries

	Prefix string // default DefaultPrefix; must not contain '{' or '}'

	Observer Observer // optional: every command's latency and errors (metrics.go)
}

// Store implements store.Store on a go-redis client. Create it with New or
// Open. It owns the client: Close closes it.
type Store struct {
	c goredis.UniversalClient
	k keys

	// sessionIdentity caches sessionID -> identityID, which never changes
	// for a session, so SessionWithIdentity can read both keys in one
	// pipelined round trip. Results are always checked against the loaded
	// session, so a stale entry only costs an extra read.
	cacheMu         sync.Mutex
	sessionIdentity map[string]string
}

// maxCachedSessions bounds the session->identity cache (~100 bytes each).
const maxCachedSessions = 1 << 16

var _ store.Store = (*Store)(nil)

// New wraps an existing client. It panics if prefix contains a brace, which
// would break the hash tags.
func New(client goredis.UniversalClient, prefix string) *Store {
	if err := checkPrefix(prefix); err != nil {
		panic(err)
	}
	return &Store{c: client, k: keys{p: prefix}, sessionIdentity: map[string]string{}}
}

func checkPrefix(p string) error {
	if strings.ContainsAny(p, "{}") {
		return fmt.Errorf("redis store: prefix %q must not contain '{' or '}'", p)
	}
	return nil
}

// Open connects as Options say and pings once.
func Open(ctx context.Context, o Options) (*Store, error) {
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	uo, err := o.universal()
	if err != nil {
		return nil, err
	}
	c := goredis.NewUniversalClient(uo)
	if o.Observer != nil {
		c.AddHook(NewHook(o.Observer))
	}
	if err := c.Ping(ctx).Err(); err != nil {
		_ = c.Close()
		// Addresses are host:port only (parsed or checked): no user info.
		return nil, fmt.Errorf("redis store: ping %s %s: %w", Mode(uo), strings.Join(uo.Addrs, ","), err)
	}
	return New(c, prefix), nil
}

// universal turns Options into go-redis options; settings from the URL are
// kept unless the corresponding field is set.
func (o Options) universal() (*goredis.UniversalOptions, error) {
	uo := &goredis.UniversalOptions{
		// Let callers' deadlines bound every command, not just the socket timeouts.
		ContextTimeoutEnabled: true,
		// Dial once per attempt: go-redis's default of 5 dials 100ms apart,
		// times its command retries, made every call take ~1.7s while the
		// server was down. Command retries (MaxRetries) still cover blips.
		DialerRetries: 1,
	}
	switch {
	case o.URL != "" && len(o.Addrs) > 0:
		return nil, errors.New("redis store: set URL or Addrs, not both")
	case o.URL != "":
		parsed, err := ParseURL(o.URL, o.MasterName)
		if err != nil {
			return nil, err
		}
		parsed.ContextTimeoutEnabled, parsed.DialerRetries = uo.ContextTimeoutEnabled, uo.DialerRetries
		uo = parsed
	case len(o.Addrs) > 0:
		for i, a := range o.Addrs {
			if err := checkAddr(i, len(o.Addrs), a); err != nil {
				return nil, err
			}
		}
		uo.Addrs = append([]string(nil), o.Addrs...)
	default:
		return nil, errors.New("redis store: URL or Addrs required")
	}
	uo.MasterName = o.MasterName
	if o.Username != "" {
		uo.Username = o.Username
	}
	if o.Password != "" {
		uo.Password = o.Password
	}
	if o.DB != 0 {
		uo.DB = o.DB
	}
	if uo.DB != 0 && uo.MasterName == "" && (len(uo.Addrs) > 1 || uo.IsClusterMode) {
		return nil, errors.New("redis store: Redis Cluster has no DB other than 0")
	}
	switch {
	case o.TLSConfig != nil:
		uo.TLSConfig = o.TLSConfig.Clone()
	case o.TLS && uo.TLSConfig == nil:
		// go-redis dials with tls.DialWithDialer, which fills ServerName from the address.
		uo.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	if o.DialTimeout != 0 {
		uo.DialTimeout = o.DialTimeout
	}
	if o.ReadTimeout != 0 {
		uo.ReadTimeout = o.ReadTimeout
	}
	if o.WriteTimeout != 0 {
		uo.WriteTimeout = o.WriteTimeout
	}
	if o.PoolSize != 0 {
		uo.PoolSize = o.PoolSize
	}
	if o.MaxRetries != 0 {
		uo.MaxRetries = o.MaxRetries
	}
	return uo, nil
}

// redactURL keeps a password in a malformed URL out of error messages.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// ---- keys ----

type keys struct{ p string }

func (k keys) auth() string                   { return k.p + "{auth}:" }
func (k keys) identityPrefix() string         { return k.auth() + "identity:" }
func (k keys) identity(id string) string      { return k.identityPrefix() + id }
func (k keys) identities() string             { return k.auth() + "identities" }
func (k keys) email(email string) string      { return k.auth() + "email:" + email }
func (k keys) recoveryPrefix() string         { return k.auth() + "recovery:" }
func (k keys) recovery(id string) string      { return k.recoveryPrefix() + id }
func (k keys) recoveryEmailPrefix() string    { return k.auth() + "recovery-emails:" }
func (k keys) recoveryEmail(ek string) string { return k.recoveryEmailPrefix() + ek }
func (k keys) session(id string) string       { return k.p + "{s:" + id + "}" }
func (k keys) token(hash string) string       { return k.p + "{t:" + hash + "}" }
func (k keys) counter(key string) string      { return k.p + "{c:" + key + "}" }

// ---- errors ----

// fail wraps a backend error; it is never one of the store sentinels.
func fail(op string, err error) error {
	return fmt.Errorf("redis store: %s: %w", op, err)
}

// status maps a script's status word to the store's errors.
func status(word string) error {
	switch word {
	case "OK":
		return nil
	case "NOTFOUND":
		return store.ErrNotFound
	case "EXPIRED":
		return store.ErrExpired
	case "WRONGSTATE":
		return store.ErrWrongState
	case "EXHAUSTED":
		return store.ErrAttemptsExhausted
	case "CONFLICT":
		return store.ErrConflict
	}
	return fmt.Errorf("redis store: unexpected script status %q", word)
}

// statusReply reads a script's {status[, payload]} reply.
func statusReply(op string, res any) (string, error) {
	arr, ok := res.([]any)
	if !ok || len(arr) == 0 {
		return "", fail(op, fmt.Errorf("unexpected reply %T", res))
	}
	word, _ := arr[0].(string)
	if err := status(word); err != nil {
		return "", err
	}
	if len(arr) < 2 {
		return "", nil
	}
	payload, ok := arr[1].(string)
	if !ok {
		return "", fail(op, fmt.Errorf("unexpected payload %T", arr[1]))
	}
	return payload, nil
}

// ttl is how long Redis keeps a record logically valid until `until` by the
// caller's clock; at least 1ms because Redis rejects 0.
func ttl(until, now time.Time) time.Duration {
	return max(until.Sub(now).Truncate(time.Millisecond), time.Millisecond)
}

func ms(t time.Time) int64 { return t.UnixMilli() }

// ---- identities ----

func (s *Store) CreateIdentity(ctx context.Context, id store.Identity) error {
	rec, err := encodeIdentity(id)
	if err != nil {
		return err
	}
	n, err := createIdentity.Run(ctx, s.c,
		[]string{s.k.identity(id.ID), s.k.email(id.Email), s.k.identities()},
		id.ID, rec).Int()
	if err != nil {
		return fail("create identity", err)
	}
	if n == 0 {
		return fmt.Errorf("identity %q: %w", id.ID, store.ErrConflict)
	}
	return nil
}

func (s *Store) IdentityByID(ctx context.Context, id string) (store.Identity, error) {
	b, err := s.c.Get(ctx, s.k.identity(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.Identity{}, store.ErrNotFound
	}
	if err != nil {
		return store.Identity{}, fail("get identity", err)
	}
	return decodeIdentity(b)
}

func (s *Store) IdentityByEmail(ctx context.Context, email string) (store.Identity, error) {
	v, err := identityByEmail.Run(ctx, s.c, []string{s.k.email(email)}, s.k.identityPrefix()).Text()
	if errors.Is(err, goredis.Nil) {
		return store.Identity{}, store.ErrNotFound
	}
	if err != nil {
		return store.Identity{}, fail("identity by email", err)
	}
	return decodeIdentity([]byte(v))
}

// listBatch bounds one MGET so a large directory doesn't block Redis.
const listBatch = 500

func (s *Store) ListIdentities(ctx context.Context) ([]store.Identity, error) {
	ids, err := s.c.SMembers(ctx, s.k.identities()).Result()
	if err != nil {
		return nil, fail("list identities", err)
	}
	out := make([]store.Identity, 0, len(ids))
	for start := 0; start < len(ids); start += listBatch {
		batch := ids[start:min(start+listBatch, len(ids))]
		ks := make([]string, len(batch))
		for i, id := range batch {
			ks[i] = s.k.identity(id)
		}
		vals, err := s.c.MGet(ctx, ks...).Result()
		if err != nil {
			return nil, fail("list identities", err)
		}
		for _, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // listed but gone
			}
			i, err := decodeIdentity([]byte(str))
			if err != nil {
				return nil, err
			}
			out = append(out, i)
		}
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Email < out[b].Email })
	return out, nil
}

func (s *Store) SetIdentityState(ctx context.Context, id string, state store.IdentityState, now time.Time) (store.Identity, error) {
	v, err := setIdentityState.Run(ctx, s.c, []string{s.k.identity(id)}, string(state), ms(now)).Text()
	if errors.Is(err, goredis.Nil) {
		return store.Identity{}, store.ErrNotFound
	}
	if err != nil {
		return store.Identity{}, fail("set identity state", err)
	}
	return decodeIdentity([]byte(v))
}

func (s *Store) RehashPassword(ctx context.Context, id, oldHash, newHash string) error {
	res, err := rehashPassword.Run(ctx, s.c, []string{s.k.identity(id)}, oldHash, newHash).Text()
	if err != nil {
		return fail("rehash password", err)
	}
	switch res {
	case "NOTFOUND":
		return store.ErrNotFound
	case "CONFLICT":
		return store.ErrConflict
	}
	return nil
}

// ---- sessions ----

func (s *Store) CreateSession(ctx context.Context, sess store.Session, now time.Time) error {
	rec, err := encodeSession(sess)
	if err != nil {
		return err
	}
	d := ttl(sess.ExpiresAt, now)
	sk, tk := s.k.session(sess.ID), s.k.token(sess.TokenHash)
	// Different slots, so no transaction: record first, then its index.
	var created *goredis.BoolCmd
	_, err = s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
		created = p.SetNX(ctx, sk, rec, d)
		p.Set(ctx, tk, sess.ID, d)
		return nil
	})
	if err != nil {
		return fail("create session", err)
	}
	if created.Val() {
		return nil
	}
	// The id was taken but the pipeline pointed our token at it anyway;
	// take that back unless it is the existing session's own token.
	// (Lookups by token also check the record's TokenHash.)
	if old, err := s.loadSession(ctx, sess.ID); err != nil || old.TokenHash != sess.TokenHash {
		if err := delIfEqual.Run(ctx, s.c, []string{tk}, sess.ID).Err(); err != nil {
			return fail("create session", err)
		}
	}
	return fmt.Errorf("session %q: %w", sess.ID, store.ErrConflict)
}

func (s *Store) loadSession(ctx context.Context, id string) (store.Session, error) {
	b, err := s.c.Get(ctx, s.k.session(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fail("get session", err)
	}
	return decodeSession(b)
}

func (s *Store) SessionByTokenHash(ctx context.Context, tokenHash string, now time.Time) (store.Session, error) {
	id, err := s.c.Get(ctx, s.k.token(tokenHash)).Result()
	if errors.Is(err, goredis.Nil) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, fail("get session token", err)
	}
	sess, err := s.loadSession(ctx, id)
	if err != nil {
		return store.Session{}, err
	}
	if sess.TokenHash != tokenHash || ms(now) >= ms(sess.ExpiresAt) {
		return store.Session{}, store.ErrNotFound
	}
	return sess, nil
}

// SessionWithIdentity reads the session and its identity. The identity key
// depends on the session, and the two live in different slots, so no single
// script can read both. Instead the session->identity mapping (fixed for a
// session's life) is cached in this process: a repeat check is one pipelined
// round trip of two GETs, a first check two sequential GETs.
func (s *Store) SessionWithIdentity(ctx context.Context, sessionID string, now time.Time) (store.Session, store.Identity, error) {
	sk := s.k.session(sessionID)
	var (
		sess     store.Session
		identity []byte
	)
	if iid, ok := s.cachedIdentity(sessionID); ok {
		var sc, ic *goredis.StringCmd
		_, err := s.c.Pipelined(ctx, func(p goredis.Pipeliner) error {
			sc = p.Get(ctx, sk)
			ic = p.Get(ctx, s.k.identity(iid))
			return nil
		})
		if err != nil && !errors.Is(err, goredis.Nil) {
			return store.Session{}, store.Identity{}, fail("get session and identity", err)
		}
		b, err := sc.Bytes()
		if errors.Is(err, goredis.Nil) {
			s.forgetSession(sessionID)
			return store.Session{}, store.Identity{}, store.ErrNotFound
		}
		if err != nil {
			return store.Session{}, store.Identity{}, fail("get session", err)
		}
		if sess, err = decodeSession(b); err != nil {
			return store.Session{}, store.Identity{}, err
		}
		if sess.IdentityID == iid {
			identity, err = ic.Bytes()
			if errors.Is(err, goredis.Nil) {
				return store.Session{}, store.Identity{}, store.ErrNotFound
			}
			if err != nil {
				return store.Session{}, store.Identity{}, fail("get identity", err)
			}
		}
	} else {
		var err error
		if sess, err = s.loadSession(ctx, sessionID); err != nil {
			return store.Session{}, store.Identity{}, err
		}
	}
	if ms(now) >= ms(sess.ExpiresAt) {
		return store.Session{}, store.Identity{}, store.ErrNotFound
	}
	if identity == nil {
		// Cache miss or a stale entry.
		s.cacheSession(sessionID, sess.IdentityID)
		b, err := s.c.Get(ctx, s.k.identity(sess.IdentityID)).Bytes()
		if errors.Is(err, goredis.Nil) {
			return store.Session{}, store.Identity{}, store.ErrNotFound
		}
		if err != nil {
			return store.Session{}, store.Identity{}, fail("get identity", err)
		}
		identity = b
	}
	i, err := decodeIdentity(identity)
	if err != nil {
		return store.Session{}, store.Identity{}, err
	}
	return sess, i, nil
}

func (s *Store) cachedIdentity(sessionID string) (string, bool) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	iid, ok := s.sessionIdentity[sessionID]
	return iid, ok
}

func (s *Store) cacheSession(sessionID, identityID string) {
	s.cacheMu.Lock()
	defer s.cacheMu.Unlock()
	if len(s.sessionIdentity) >= maxCachedSessions {
		// Evict an arbitrary eighth; map order is random enough and this
		// keeps the cache O(1) without LRU bookkeeping.
		n := maxCachedSessions / 8
		for k := range s.sessionIdentity {
			delete(s.sessionIdentity, k)
			if n--; n == 0 {
				break
			}
		}
	}
	s.sessionIdentity[sessionID] = identityID
}

func (s *Store) forgetSession(sessionID string) {
	s.cacheMu.Lock()
	delete(s.sessionIdentity, sessionID)
	s.cacheMu.Unlock()
}

func (s *Store) DeleteSession(ctx context.Context, sessionID string) error {
	s.forgetSession(sessionID)
	sess, err := s.loadSession(ctx, sessionID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	// The token key is only removed if it still names this session.
	if err := s.c.Del(ctx, s.k.session(sessionID)).Err(); err != nil {
		return fail("delete session", err)
	}
	if err := delIfEqual.Run(ctx, s.c, []string{s.k.token(sess.TokenHash)}, sessionID).Err(); err != nil {
		return fail("delete session token", err)
	}
	return nil
}

// ---- recoveries ----

func (s *Store) StartRecovery(ctx context.Context, r store.Recovery, now time.Time) error {
	rec, err := encodeRecovery(r)
	if err != nil {
		return err
	}
	d := ttl(r.ExpiresAt.Add(store.RecoveryRetention), now)
	err = startRecovery.Run(ctx, s.c,
		[]string{s.k.recovery(r.ID), s.k.recoveryEmail(r.EmailKey)},
		r.ID, rec, d.Milliseconds(), s.k.recoveryPrefix(), s.k.recoveryEmailPrefix()).Err()
	if err != nil {
		return fail("start recovery", err)
	}
	return nil
}

func (s *Store) RecoveryByID(ctx context.Context, id string) (store.Recovery, error) {
	b, err := s.c.Get(ctx, s.k.recovery(id)).Bytes()
	if errors.Is(err, goredis.Nil) {
		return store.Recovery{}, store.ErrNotFound
	}
	if err != nil {
		return store.Recovery{}, fail("get recovery", err)
	}
	return decodeRecovery(b)
}

func (s *Store) CountAttempt(ctx context.Context, id string, maxAttempts int, now time.Time) (store.Recovery, error) {
	res, err := countAttempt.Run(ctx, s.c, []string{s.k.recovery(id)}, maxAttempts, ms(now)).Result()
	if err != nil {
		return store.Recovery{}, fail("count attempt", err)
	}
	payload, err := statusReply("count attempt", res)
	if err != nil {
		return store.Recovery{}, err
	}
	return decodeRecovery([]byte(payload))
}

func (s *Store) MarkVerified(ctx context.Context, id, newID string, expiresAt, now time.Time) error {
	d := ttl(expiresAt.Add(store.RecoveryRetention), now)
	word, err := markVerified.Run(ctx, s.c,
		[]string{s.k.recovery(id), s.k.recovery(newID)},
		id, newID, ms(expiresAt), ms(now), d.Milliseconds(), s.k.recoveryEmailPrefix()).Text()
	if err != nil {
		return fail("mark verified", err)
	}
	if err := status(word); err != nil {
		if errors.Is(err, store.ErrConflict) {
			return fmt.Errorf("recovery %q: %w", newID, err)
		}
		return err
	}
	return nil
}

func (s *Store) CompleteRecovery(ctx context.Context, id, passwordHash string, now time.Time) (store.Identity, error) {
	res, err := completeRecovery.Run(ctx, s.c, []string{s.k.recovery(id)},
		id, passwordHash, ms(now), s.k.identityPrefix(), s.k.recoveryEmailPrefix(), s.k.recoveryPrefix()).Result()
	if err != nil {
		return store.Identity{}, fail("complete recovery", err)
	}
	payload, err := statusReply("complete recovery", res)
	if err != nil {
		return store.Identity{}, err
	}
	return decodeIdentity([]byte(payload))
}

// ---- counters ----

func (s *Store) Hit(ctx context.Context, key string, window time.Duration) (int64, time.Duration, error) {
	w := max(window.Milliseconds(), 1)
	res, err := hit.Run(ctx, s.c, []string{s.k.counter(key)}, w).Int64Slice()
	if err != nil {
		return 0, 0, fail("hit", err)
	}
	if len(res) != 2 {
		return 0, 0, fail("hit", fmt.Errorf("unexpected reply %v", res))
	}
	return res[0], time.Duration(res[1]) * time.Millisecond, nil
}

func (s *Store) Count(ctx context.Context, key string) (int64, error) {
	n, err := s.c.Get(ctx, s.k.counter(key)).Int64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fail("count", err)
	}
	return n, nil
}

func (s *Store) Undo(ctx context.Context, key string) error {
	if err := undo.Run(ctx, s.c, []string{s.k.counter(key)}).Err(); err != nil && !errors.Is(err, goredis.Nil) {
		return fail("undo", err)
	}
	return nil
}

// ---- lifecycle ----

func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fail("ping", err)
	}
	return nil
}

// Close closes the client.
func (s *Store) Close() error {
	if err := s.c.Close(); err != nil {
		return fail("close", err)
	}
	return nil
}
