package token

import (
	"crypto/sha256"
	"errors"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// DefaultCacheSize is the number of verified tokens an Issuer remembers
// when Config.CacheSize is zero. An entry is about 300 bytes, so the
// default bounds the cache at a few MiB.
const DefaultCacheSize = 10_000

// cacheKey is the SHA-256 of the whole compact token: header, payload and
// signature. The token itself is never kept, so a heap dump of the cache
// holds nothing a caller could present.
//
// Because the signature is part of the key, a hit means these exact bytes
// were verified before. A different encoding of the same claims, such as an
// ES256 signature malleated from (r, s) to (r, n-s), hashes differently,
// misses, and is verified on its own like any new token; if it verifies, it
// names the same session with the same expiry, so it grants nothing its
// original did not. Revocation never depends on a token's bytes (it is the
// session and identity generation, checked on every request), so there is no
// deny list that a second encoding could slip past.
type cacheKey [sha256.Size]byte

// hashToken is the cache key of token. Tokens of a usual size are copied
// to the stack for hashing rather than converted on the heap.
func hashToken(token string) cacheKey {
	var buf [1024]byte
	if len(token) <= len(buf) {
		return sha256.Sum256(append(buf[:0], token...))
	}
	return sha256.Sum256([]byte(token))
}

// cached is what a verified token leaves behind: its claims and the kid of
// the key that verified it.
type cached struct {
	kid    string
	claims Claims
}

// verifiedCache remembers tokens whose signature and claims verified, so a
// token presented again skips only the signature check.
type verifiedCache struct {
	lru    *lru.Cache[cacheKey, cached]
	hits   atomic.Uint64
	misses atomic.Uint64
}

func newVerifiedCache(size int) (*verifiedCache, error) {
	c, err := lru.New[cacheKey, cached](size)
	if err != nil {
		return nil, err
	}
	return &verifiedCache{lru: c}, nil
}

// add remembers a verified token; the least recently used entry goes when
// the cache is full.
func (c *verifiedCache) add(key cacheKey, e cached) { c.lru.Add(key, e) }

// CacheStats counts verified-token cache lookups since the Issuer was made.
type CacheStats struct {
	Hits   uint64 // served without a signature check
	Misses uint64 // verified in full (including tokens that then failed)
	Size   int    // entries held now
	Limit  int    // most entries ever held
}

// CacheStats returns the verified-token cache counters (zero when the cache
// is disabled).
func (iss *Issuer) CacheStats() CacheStats {
	if iss.cache == nil {
		return CacheStats{}
	}
	return CacheStats{
		Hits:   iss.cache.hits.Load(),
		Misses: iss.cache.misses.Load(),
		Size:   iss.cache.lru.Len(),
		Limit:  iss.cacheSize,
	}
}

// fromCache returns the claims of an already verified token after checking
// its time claims against now exactly as jwt.Validate does (whole seconds,
// iat, then exp, then nbf). ok is false when the token must be verified in
// full: never seen, evicted, or signed by a key this Issuer no longer has.
func (iss *Issuer) fromCache(key cacheKey, now time.Time) (c Claims, err error, ok bool) {
	e, found := iss.cache.lru.Get(key)
	if !found {
		iss.cache.misses.Add(1)
		return Claims{}, nil, false
	}
	if _, known := iss.keys[e.kid]; !known {
		// The key was dropped: the token must fail as unknown kid.
		iss.cache.lru.Remove(key)
		iss.cache.misses.Add(1)
		return Claims{}, nil, false
	}
	iss.cache.hits.Add(1)
	if err := iss.checkTimes(e.claims, now); err != nil {
		if errors.Is(err, errExpired) {
			iss.cache.lru.Remove(key) // it never becomes valid again
		}
		return Claims{}, err, true
	}
	c = e.claims
	c.Roles = append([]string(nil), c.Roles...) // callers may keep or change theirs
	if e.claims.Roles != nil && c.Roles == nil {
		c.Roles = []string{}
	}
	return c, nil, true
}

var (
	errExpired        = invalid(reasonExpired)
	errNotYetValid    = invalid(reasonNotYetValid)
	errIssuedInFuture = invalid(reasonIssuedInFuture)
)

// checkTimes repeats jwt.Validate's time checks (1s truncation, the
// configured skew, in the order iat, exp, nbf) for a token that already
// passed them once.
func (iss *Issuer) checkTimes(c Claims, now time.Time) error {
	skew := iss.cfg.Skew
	n := now.Truncate(time.Second)
	if iat := c.IssuedAt; !iat.IsZero() && iat.Unix() != 0 && n.Before(iat.Truncate(time.Second).Add(-skew)) {
		return errIssuedInFuture
	}
	if !n.Before(c.Expiry.Truncate(time.Second).Add(skew)) {
		return errExpired
	}
	if nbf := c.NotBefore; !nbf.IsZero() && nbf.Unix() != 0 && n.Before(nbf.Truncate(time.Second).Add(-skew)) {
		return errNotYetValid
	}
	return nil
}
