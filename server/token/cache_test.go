package token

import (
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math/big"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
)

func TestCacheServesRepeatVerification(t *testing.T) {
	iss := mustIssuer(t, mustKey(t, AlgES256))
	tok, want, err := iss.Issue("u", "s", "e@example.test", []string{"trader"}, testNow.Add(time.Hour), testNow)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		got, err := iss.Verify(tok, testNow)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("verification %d: claims %+v, want %+v", i, got, want)
		}
		got.Roles[0] = "admin" // a caller changing its copy changes nothing cached
	}
	if st := iss.CacheStats(); st.Hits != 2 || st.Misses != 1 || st.Size != 1 || st.Limit != DefaultCacheSize {
		t.Fatalf("stats %+v, want 2 hits, 1 miss, 1 entry, limit %d", st, DefaultCacheSize)
	}

	// A token that fails is never cached: it is verified (and fails) each time.
	bad := tok[:len(tok)-4] + "AAAA"
	for i := 0; i < 2; i++ {
		_, err := iss.Verify(bad, testNow)
		wantInvalid(t, err, reasonBadSignature, bad)
	}
	if st := iss.CacheStats(); st.Misses != 3 || st.Size != 1 {
		t.Fatalf("stats %+v after a bad token twice", st)
	}

	// Disabled: nothing counted, same answers.
	cfg := testConfig()
	cfg.CacheSize = -1
	off, err := NewIssuer(cfg, mustKey(t, AlgES256))
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ = off.Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
	for i := 0; i < 2; i++ {
		if _, err := off.Verify(tok, testNow); err != nil {
			t.Fatal(err)
		}
	}
	if st := off.CacheStats(); st != (CacheStats{}) {
		t.Fatalf("disabled cache stats %+v", st)
	}
}

// TestCachedTimeChecksMatchFullVerification verifies tokens with varied
// iat, nbf and exp at instants around every boundary, once through a warm
// cache and once with no cache: the answers must be the same.
func TestCachedTimeChecksMatchFullVerification(t *testing.T) {
	key := mustKey(t, AlgES256)
	cached := mustIssuer(t, key)
	cfg := testConfig()
	cfg.CacheSize = -1
	full, err := NewIssuer(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	base := testNow.Truncate(time.Second)
	tokens := map[string]string{
		"issued": rawSign(t, key, jwa.ES256, goodHeader(key), goodClaims()),
		"nbf later": rawSign(t, key, jwa.ES256, goodHeader(key),
			with(goodClaims(), "nbf", base.Add(5*time.Second).Unix())),
		"iat later": rawSign(t, key, jwa.ES256, goodHeader(key),
			with(goodClaims(), "iat", base.Add(7*time.Second).Unix())),
		"no iat, no nbf": rawSign(t, key, jwa.ES256, goodHeader(key), without(goodClaims(), "iat", "nbf")),
		"short":          rawSign(t, key, jwa.ES256, goodHeader(key), with(goodClaims(), "exp", base.Add(3*time.Second).Unix())),
	}
	var instants []time.Time
	for _, edge := range []time.Time{base, base.Add(5 * time.Second), base.Add(7 * time.Second),
		base.Add(3 * time.Second), base.Add(600 * time.Second)} {
		for _, d := range []time.Duration{-DefaultSkew, DefaultSkew} {
			for _, e := range []time.Duration{-time.Second - time.Millisecond, -time.Second, -time.Millisecond, 0,
				time.Millisecond, 999 * time.Millisecond, time.Second} {
				instants = append(instants, edge.Add(d+e))
			}
		}
	}
	sort.Slice(instants, func(a, b int) bool { return instants[a].Before(instants[b]) }) // a clock runs forward
	for name, tok := range tokens {
		// Warm the cache at an instant where the token is valid.
		warm := false
		for _, at := range instants {
			if _, err := cached.Verify(tok, at); err == nil {
				warm = true
				break
			}
		}
		if !warm {
			t.Fatalf("%s: never valid", name)
		}
		for _, at := range instants {
			before := cached.CacheStats().Hits
			gotC, gotErr := cached.Verify(tok, at)
			wantC, wantErr := full.Verify(tok, at)
			if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(gotC, wantC) {
				t.Errorf("%s at %s: cached (%+v, %v), full (%+v, %v)", name, at.Sub(base), gotC, gotErr, wantC, wantErr)
			}
			if gotErr == nil && cached.CacheStats().Hits != before+1 {
				t.Errorf("%s at %s: accepted without a cache hit", name, at.Sub(base))
			}
		}
	}
}

func TestCachedTokenExpires(t *testing.T) {
	iss := mustIssuer(t, mustKey(t, AlgEdDSA))
	tok, c, err := iss.Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(tok, testNow); err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(tok, c.Expiry.Add(DefaultSkew-time.Second)); err != nil {
		t.Fatalf("rejected within skew: %v", err)
	}
	hits := iss.CacheStats().Hits
	_, err = iss.Verify(tok, c.Expiry.Add(DefaultSkew))
	wantInvalid(t, err, reasonExpired, tok)
	if st := iss.CacheStats(); st.Hits != hits+1 || st.Size != 0 {
		t.Fatalf("stats %+v: the expired token should be answered from the cache and dropped", st)
	}
	_, err = iss.Verify(tok, c.Expiry.Add(time.Hour))
	wantInvalid(t, err, reasonExpired, tok)
}

// TestCacheDropsTokensOfRetiredKeys: a token verified by a previous key is
// served from the cache only while the Issuer still has that key.
func TestCacheDropsTokensOfRetiredKeys(t *testing.T) {
	oldKey, newKey := mustKey(t, AlgES256), mustKey(t, AlgEdDSA)
	oldTok, _, err := mustIssuer(t, oldKey).Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
	if err != nil {
		t.Fatal(err)
	}
	oldPub, _ := oldKey.PublicKey()
	rot := mustIssuer(t, newKey, oldPub)
	for i := 0; i < 2; i++ {
		if _, err := rot.Verify(oldTok, testNow); err != nil {
			t.Fatal(err)
		}
	}
	if rot.CacheStats().Hits != 1 {
		t.Fatalf("stats %+v", rot.CacheStats())
	}
	// The operator drops the previous key: a new Issuer without it.
	retired := mustIssuer(t, newKey)
	_, err = retired.Verify(oldTok, testNow)
	wantInvalid(t, err, reasonUnknownKid, oldTok)

	// Within one Issuer too: an entry whose kid is no longer among the keys
	// is not served, it is verified again (and fails).
	delete(rot.keys, oldKey.KeyID())
	_, err = rot.Verify(oldTok, testNow)
	wantInvalid(t, err, reasonUnknownKid, oldTok)
	if st := rot.CacheStats(); st.Hits != 1 || st.Size != 0 {
		t.Fatalf("stats %+v: the retired key's token was served from the cache", st)
	}
}

// TestMalleatedSignatureIsNotACacheHit: (r, n-s) is another valid ES256
// signature of the same input. It must not be answered from the entry of the
// original token: it misses and is verified on its own, with exactly the
// answer an Issuer without a cache gives.
func TestMalleatedSignatureIsNotACacheHit(t *testing.T) {
	key := mustKey(t, AlgES256)
	iss := mustIssuer(t, key)
	cfg := testConfig()
	cfg.CacheSize = -1
	full, err := NewIssuer(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	tok, want, err := iss.Issue("u", "s", "", []string{"trader"}, testNow.Add(time.Hour), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(tok, testNow); err != nil {
		t.Fatal(err)
	}
	i := strings.LastIndexByte(tok, '.')
	sig, err := base64.RawURLEncoding.DecodeString(tok[i+1:])
	if err != nil || len(sig) != 64 {
		t.Fatalf("signature: %d bytes, %v", len(sig), err)
	}
	n := elliptic.P256().Params().N
	s := new(big.Int).SetBytes(sig[32:])
	mall := append(append([]byte(nil), sig[:32]...), new(big.Int).Sub(n, s).FillBytes(make([]byte, 32))...)
	malleated := tok[:i+1] + b64(mall)
	if malleated == tok {
		t.Fatal("malleation changed nothing")
	}
	// Controls: an s off by one, and an r off by one, are refused although
	// the original is cached.
	for _, tamper := range []func([]byte){
		func(b []byte) { new(big.Int).Add(s, big.NewInt(1)).FillBytes(b[32:]) },
		func(b []byte) { b[31] ^= 1 },
	} {
		b := append([]byte(nil), sig...)
		tamper(b)
		bad := tok[:i+1] + b64(b)
		_, err := iss.Verify(bad, testNow)
		wantInvalid(t, err, reasonBadSignature, bad)
	}

	misses := iss.CacheStats().Misses
	got, gotErr := iss.Verify(malleated, testNow)
	if iss.CacheStats().Misses != misses+1 {
		t.Fatalf("the malleated token was answered from the cache")
	}
	wantC, wantErr := full.Verify(malleated, testNow)
	if fmt.Sprint(gotErr) != fmt.Sprint(wantErr) || !reflect.DeepEqual(got, wantC) {
		t.Fatalf("malleated: cached issuer (%+v, %v), uncached (%+v, %v)", got, gotErr, wantC, wantErr)
	}
	// Whatever jwx decides about high s, the claims can only be the
	// original's: same session, same expiry.
	if gotErr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("malleated token verified with other claims: %+v", got)
	}
	t.Logf("malleated ES256 signature accepted by full verification: %v", gotErr == nil)
}

// TestCacheStaysBounded puts 100k distinct tokens through a small cache
// from several goroutines and checks the bound throughout. Every token is
// verified for real, except under the race detector (where a verification
// costs some 5 ms on a busy 2-core machine): there 2k are, and the other
// 98k distinct entries go in through the insertion Verify uses.
func TestCacheStaysBounded(t *testing.T) {
	const limit, total = 512, 100_000
	real := total
	if raceEnabled || testing.Short() {
		real = 2_000
	}
	var priv ed25519.PrivateKey
	key := mustKey(t, AlgEdDSA)
	cfg := testConfig()
	cfg.CacheSize = limit
	iss, err := NewIssuer(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	if err := key.Raw(&priv); err != nil {
		t.Fatal(err)
	}
	hdr := b64(mustJSON(t, goodHeader(key)))
	// The claims with a "jti" to fill in, encoded once.
	claims := strings.Replace(string(mustJSON(t, with(goodClaims(), "jti", "JTI"))), `"JTI"`, `"%d"`, 1)
	const workers = 4
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := w; i < total; i += workers {
				input := hdr + "." + b64(fmt.Appendf(nil, claims, i))
				if i%(total/real) == 0 {
					// Signed by hand: Issue's cost would dominate the test.
					tok := input + "." + b64(ed25519.Sign(priv, []byte(input)))
					if _, err := iss.Verify(tok, testNow); err != nil {
						errs <- err
						return
					}
				} else {
					iss.cache.add(cacheKey(sha256.Sum256([]byte(input))), cached{kid: key.KeyID()})
				}
				if i%1000 == 0 {
					if n := iss.CacheStats().Size; n > limit {
						errs <- fmt.Errorf("after %d tokens the cache holds %d > %d", i, n, limit)
						return
					}
				}
			}
		}(w)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	st := iss.CacheStats()
	if st.Size != limit || st.Misses != uint64(real) || st.Hits != 0 {
		t.Fatalf("stats %+v, want %d entries and %d misses", st, limit, real)
	}
}
