// Package password hashes and verifies user passwords with argon2id and
// checks new passwords against a simple strength policy.
//
// Hashes are stored in the PHC string format used by the argon2 reference
// implementation:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>
//
// where salt and hash are unpadded standard base64. The cost parameters are
// read back from the string on verification, so hashes made with older
// parameters keep working after DefaultParams change; NeedsRehash tells the
// caller when a stored hash should be replaced after a successful login.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"golang.org/x/crypto/argon2"
)

// Params are the argon2id cost parameters.
type Params struct {
	Memory  uint32 // memory in KiB
	Time    uint32 // number of passes over the memory
	Threads uint8  // degree of parallelism
	SaltLen uint32 // salt length in bytes
	KeyLen  uint32 // derived key length in bytes
}

// DefaultParams is the OWASP baseline for argon2id: 19 MiB of memory,
// 2 iterations, 1 degree of parallelism, a 16-byte salt and a 32-byte key.
var DefaultParams = Params{
	Memory:  19 * 1024,
	Time:    2,
	Threads: 1,
	SaltLen: 16,
	KeyLen:  32,
}

// Limits on parameters, for new hashes and for hashes read back from storage.
// They keep a corrupted or tampered stored hash from making one verification
// use unbounded memory or time.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 100
	maxThreads   = 64
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 128
)

const (
	phcAlgorithm = "argon2id"
	phcVersion   = "v=19" // argon2.Version (0x13)
)

var (
	// ErrMalformedHash is returned (wrapped) when a stored hash is not a
	// well-formed argon2id PHC string.
	ErrMalformedHash = errors.New("password: malformed hash")
	// ErrInvalidParams is returned (wrapped) when parameters are out of the
	// accepted range, either in a stored hash or given to NewHasher.
	ErrInvalidParams = errors.New("password: invalid argon2id parameters")
)

// Validate reports whether p is within the accepted limits: memory at least
// 8 KiB per thread and at most 1 GiB, 1..100 passes, 1..64 threads, a salt of
// 8..64 bytes and a key of 16..128 bytes.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("%w: threads %d not in 1..%d", ErrInvalidParams, p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB:
		return fmt.Errorf("%w: memory %d KiB not in %d..%d", ErrInvalidParams, p.Memory, 8*uint32(p.Threads), maxMemoryKiB)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("%w: time %d not in 1..%d", ErrInvalidParams, p.Time, maxTime)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("%w: salt length %d not in %d..%d", ErrInvalidParams, p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("%w: key length %d not in %d..%d", ErrInvalidParams, p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Hasher hashes and verifies passwords. A semaphore bounds how many argon2id
// computations run at once, so memory use stays at about
// maxConcurrent × Params.Memory however many requests arrive. It is safe for
// concurrent use.
type Hasher struct {
	params Params
	sem    chan struct{}

	dummyOnce sync.Once
	dummyPHC  string

	// testHook, when set (tests only), is called while a semaphore slot is
	// held, just before the key derivation.
	testHook func()

	derivations atomic.Uint64 // see Derivations
}

// NewHasher returns a Hasher that makes new hashes with p and runs at most
// maxConcurrent derivations at once; maxConcurrent <= 0 means
// runtime.NumCPU(). It panics if p is out of range (see Params.Validate):
// that is a configuration error to catch at startup.
func NewHasher(p Params, maxConcurrent int) *Hasher {
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if maxConcurrent <= 0 {
		maxConcurrent = runtime.NumCPU()
	}
	return &Hasher{params: p, sem: make(chan struct{}, maxConcurrent)}
}

// Derivations returns how many argon2id key derivations the Hasher has run:
// one per Hash, Verify or VerifyDummy that got as far as deriving. Tests use
// it to prove that paths which must cost the same (an unknown account and a
// wrong password) run the same number of derivations.
func (h *Hasher) Derivations() uint64 { return h.derivations.Load() }

// Params returns the parameters used for new hashes.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of a fresh argon2id hash of password with a
// random salt. It waits for a free slot first and returns ctx.Err() if ctx
// ends while waiting.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password: reading salt: %w", err)
	}
	key, err := h.derive(ctx, password, salt, h.params)
	if err != nil {
		return "", err
	}
	return encodePHC(h.params, salt, key), nil
}

// Verify reports whether password matches the PHC string phc. The cost
// parameters come from phc, not from the Hasher. A malformed or out-of-range
// phc gives an error wrapping ErrMalformedHash or ErrInvalidParams; an ended
// ctx while waiting for a slot gives ctx.Err(). A wrong password is
// (false, nil).
func (h *Hasher) Verify(ctx context.Context, password, phc string) (bool, error) {
	p, salt, want, err := parsePHC(phc)
	if err != nil {
		return false, err
	}
	got, err := h.derive(ctx, password, salt, p)
	if err != nil {
		return false, err
	}
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// NeedsRehash reports whether phc was made with parameters other than the
// Hasher's current ones (memory, time, threads, salt or key length), or
// cannot be parsed at all. Call it after a successful Verify and, if true,
// store a fresh Hash of the password.
func (h *Hasher) NeedsRehash(phc string) bool {
	p, _, _, err := parsePHC(phc)
	if err != nil {
		return true
	}
	return p != h.params
}

// VerifyDummy runs one full verification of password against a fixed dummy
// hash made with the current parameters, and discards the result. Call it
// when a login names an unknown user, so that path costs the same as a real
// check and does not reveal which accounts exist.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	_, _ = h.Verify(ctx, password, h.dummy())
}

// Dummy returns the PHC string VerifyDummy checks against, for callers that
// must run the same code path for known and unknown users.
func (h *Hasher) Dummy() string { return h.dummy() }

// dummy returns the dummy PHC string, creating it on first use. It has the
// current parameters and random salt and key, so no password matches it, and
// verifying against it costs exactly as much as against a real hash.
func (h *Hasher) dummy() string {
	h.dummyOnce.Do(func() {
		salt := make([]byte, h.params.SaltLen)
		key := make([]byte, h.params.KeyLen)
		// crypto/rand.Read does not fail (it crashes the program instead).
		_, _ = rand.Read(salt)
		_, _ = rand.Read(key)
		h.dummyPHC = encodePHC(h.params, salt, key)
	})
	return h.dummyPHC
}

// derive runs argon2id with p (p.KeyLen is the output length) while holding
// a semaphore slot.
func (h *Hasher) derive(ctx context.Context, password string, salt []byte, p Params) ([]byte, error) {
	if err := h.acquire(ctx); err != nil {
		return nil, err
	}
	defer func() { <-h.sem }()
	if h.testHook != nil {
		h.testHook()
	}
	h.derivations.Add(1)
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

func (h *Hasher) acquire(ctx context.Context) error {
	// An already-ended ctx fails even when a slot is free: select would pick
	// at random between the two ready cases.
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.sem <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

var b64 = base64.RawStdEncoding.Strict()

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$%s$%s$m=%d,t=%d,p=%d$%s$%s",
		phcAlgorithm, phcVersion, p.Memory, p.Time, p.Threads,
		b64.EncodeToString(salt), b64.EncodeToString(key))
}

// parsePHC parses an argon2id PHC string strictly: exactly the fields
// written by encodePHC, in that order, canonical decimal numbers and
// unpadded standard base64. The returned Params have SaltLen and KeyLen set
// from the decoded salt and hash.
func parsePHC(s string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(s, "$")
	if len(parts) != 6 || parts[0] != "" {
		return p, nil, nil, fmt.Errorf("%w: want 5 '$'-separated fields", ErrMalformedHash)
	}
	if parts[1] != phcAlgorithm {
		return p, nil, nil, fmt.Errorf("%w: algorithm is not %s", ErrMalformedHash, phcAlgorithm)
	}
	if parts[2] != phcVersion {
		return p, nil, nil, fmt.Errorf("%w: version is not %s", ErrMalformedHash, phcVersion)
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return p, nil, nil, fmt.Errorf("%w: want parameters m,t,p", ErrMalformedHash)
	}
	m, err := parseParam(kv[0], "m", 32)
	if err != nil {
		return p, nil, nil, err
	}
	t, err := parseParam(kv[1], "t", 32)
	if err != nil {
		return p, nil, nil, err
	}
	th, err := parseParam(kv[2], "p", 8)
	if err != nil {
		return p, nil, nil, err
	}
	if salt, err = b64.DecodeString(parts[4]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: salt is not unpadded base64", ErrMalformedHash)
	}
	if key, err = b64.DecodeString(parts[5]); err != nil {
		return p, nil, nil, fmt.Errorf("%w: hash is not unpadded base64", ErrMalformedHash)
	}
	p = Params{
		Memory:  uint32(m),
		Time:    uint32(t),
		Threads: uint8(th),
		SaltLen: uint32(len(salt)),
		KeyLen:  uint32(len(key)),
	}
	if err := p.Validate(); err != nil {
		return Params{}, nil, nil, err
	}
	return p, salt, key, nil
}

// parseParam parses "name=value" with value a canonical unsigned decimal
// (no sign, no leading zeros) that fits in bits.
func parseParam(field, name string, bits int) (uint64, error) {
	v, ok := strings.CutPrefix(field, name+"=")
	if !ok {
		return 0, fmt.Errorf("%w: want parameter %s", ErrMalformedHash, name)
	}
	n, err := strconv.ParseUint(v, 10, bits)
	if err != nil || strconv.FormatUint(n, 10) != v {
		return 0, fmt.Errorf("%w: parameter %s is not a valid number", ErrMalformedHash, name)
	}
	return n, nil
}
