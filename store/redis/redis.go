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
// The back office shares one hash tag, {bo}, so a change and the audit
// entries recording it are one script on one slot: approving a request,
// applying it and auditing both is one commit (backoffice.go). These
// records are durable: no TTL.
//
//	<p>{bo}:audit                       hash: entry id -> entry JSON (without the id)
//	<p>{bo}:audit-seq                   last audit entry id (INCR)
//	<p>{bo}:ref:<kind>                  hash: value -> reference value JSON
//	<p>{bo}:firm-traders                hash: firm id NUL trader id -> mapping JSON
//	<p>{bo}:accounts                    hash: account code -> account JSON (cash, holdings)
//	<p>{bo}:grants                      hash: user NUL account -> grant JSON
//	<p>{bo}:grants-of:<user>            hash: account -> grant JSON (index of grants)
//	<p>{bo}:groups, group-names         hash: id -> group JSON; name -> id
//	<p>{bo}:group-seq                   last group id (INCR)
//	<p>{bo}:members                     hash: account code -> membership JSON
//	<p>{bo}:risk-rules                  hash: kind NUL scope NUL target -> rule JSON
//	<p>{bo}:order-risk-rules            hash: kind NUL scope NUL target NUL match -> rule JSON
//	<p>{bo}:requests                    hash: id -> workflow request JSON
//	<p>{bo}:request-seq                 last request id (INCR)
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
	"strings"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/backoffice"
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
	// MaxRetries: zero means the URL's max_retries, else none (-1): a
	// resent write can land twice (see universal). A positive value is
	// honoured but unsafe for the store's writes.
	MaxRetries int

	Prefix string // default DefaultPrefix; must not contain '{' or '}'

	// CommandTimeout bounds every command or pipeline, retries included
	// (zero: only the socket timeouts and the caller's context bound it).
	CommandTimeout time.Duration

	Observer Observer // optional: every command's latency and errors (metrics.go)
}

// Store implements store.Store on a go-redis client. Create it with New or
// Open. It owns the client: Close closes it.
type Store struct {
	c goredis.UniversalClient
	k keys

	// sessionIdentity remembers, per session, its identity (fixed for the
	// session's life) so SessionWithIdentity can read both keys in one
	// pipelined round trip, and the values last read with their records so
	// unchanged values are not decoded again (sessionMemo). Both keys are
	// read on every check, so a stale entry only costs an extra read.
	// Bounded, least recently used out first (hashicorp/golang-lru: exact
	// bound, no goroutines, already used for the verified-token cache).
	sessionIdentity *lru.Cache[string, *sessionMemo]

	watch outboxWatch // other processes' outbox commits (outbox.go)

	*backoffice.Records // accounts, grants, groups, rules, workflow (backoffice.go)
}

// maxCachedSessions bounds the session memo (about 2 KiB each: two
// values and their records); a session beyond it is read in two steps.
const maxCachedSessions = 1 << 14

// rememberedCells bounds the back-office cells (accounts, grants, the
// rules' version, orders, trading days) a transaction may start from
// instead of a round trip (backoffice.Options.Remember): an account or an
// order is a few hundred bytes to a kilobyte. The hot cells (accounts,
// grants, rules, working orders) are few; at 1 << 16 the cache grew the
// live heap by tens of MB as orders went by, and every collection marks
// it: at 1 << 13 one book's delivery p99 at 1 000 orders/s was lower in
// five of six alternated runs (docs/benchmarks.md, thirteenth session).
// An order pushed out costs one round trip when it is next changed.
const rememberedCells = 1 << 13

var _ store.Store = (*Store)(nil)

// New wraps an existing client. It panics if prefix contains a brace, which
// would break the hash tags.
func New(client goredis.UniversalClient, prefix string) *Store {
	if err := checkPrefix(prefix); err != nil {
		panic(err)
	}
	cache, err := lru.New[string, *sessionMemo](maxCachedSessions)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	s := &Store{c: client, k: keys{p: prefix}, sessionIdentity: cache}
	s.Records = backoffice.New(newBoBackend(s), backoffice.Options{Remember: rememberedCells, FeedOutbox: true})
	return s
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
	if o.CommandTimeout > 0 {
		c.AddHook(deadlineHook{o.CommandTimeout})
	}
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
		// server was down.
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
	if uo.MaxRetries == 0 {
		// go-redis would resend a command whose answer timed out (three
		// times by default). A commit script may then run twice: the first
		// lands when the server resumes, the second finds its checks stale,
		// and the transaction runs again and sees its own writes as someone
		// else's (an order entry took itself for a repeat and was never
		// routed). No write here is safe to resend blindly, so a lost answer
		// is reported (store.ErrOutcomeUnknown) and the caller settles it.
		uo.MaxRetries = -1
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

func (k keys) backOffice() string { return k.p + "{bo}:" }
func (k keys) audit() string      { return k.backOffice() + "audit" }
func (k keys) auditSeq() string   { return k.backOffice() + "audit-seq" }

// outboxWritten is a pub/sub channel, not a key (outboxWatch).
func (k keys) outboxWritten() string              { return k.backOffice() + "outbox-written" }
func (k keys) referenceValues(kind string) string { return k.backOffice() + "ref:" + kind }
func (k keys) firmTraders() string                { return k.backOffice() + "firm-traders" }

// ---- errors ----

// fail wraps a backend error; it is never one of the store sentinels.
func fail(op string, err error) error {
	return fmt.Errorf("redis store: %s: %w: %w", op, store.ErrUnavailable, err)
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

// ---- lifecycle ----

func (s *Store) Ping(ctx context.Context) error {
	if err := s.c.Ping(ctx).Err(); err != nil {
		return fail("ping", err)
	}
	return nil
}

// Close closes the client.
func (s *Store) Close() error {
	s.watch.close()
	if err := s.c.Close(); err != nil {
		return fail("close", err)
	}
	return nil
}
