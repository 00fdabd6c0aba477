package password

import (
	"context"
	"encoding/base64"
	"errors"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// testParams are cheap parameters so that tests run fast.
var testParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerifyRoundTrip(t *testing.T) {
	h := NewHasher(testParams, 2)
	ctx := context.Background()
	for _, pw := range []string{"correct horse battery staple", "", "pässwörd-ünïcødé-🔑", strings.Repeat("x", 1000)} {
		phc, err := h.Hash(ctx, pw)
		if err != nil {
			t.Fatalf("Hash(%q): %v", pw, err)
		}
		ok, err := h.Verify(ctx, pw, phc)
		if err != nil || !ok {
			t.Fatalf("Verify(%q, own hash) = %v, %v; want true, nil", pw, ok, err)
		}
	}
}

func TestVerifyWrongPassword(t *testing.T) {
	h := NewHasher(testParams, 2)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	for _, wrong := range []string{"correct horse battery stapl", "Correct horse battery staple", "", "correct horse battery staple "} {
		ok, err := h.Verify(ctx, wrong, phc)
		if err != nil {
			t.Fatalf("Verify(%q): %v", wrong, err)
		}
		if ok {
			t.Fatalf("Verify(%q) = true for a different password", wrong)
		}
	}
}

func TestHashDefaultParamsFormat(t *testing.T) {
	h := NewHasher(DefaultParams, 1)
	phc, err := h.Hash(context.Background(), "hunter2hunter2")
	if err != nil {
		t.Fatal(err)
	}
	re := regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`)
	if !re.MatchString(phc) {
		t.Fatalf("hash %q does not have the expected PHC form", phc)
	}
	p, salt, key, err := parsePHC(phc)
	if err != nil {
		t.Fatalf("parsePHC: %v", err)
	}
	if p != DefaultParams {
		t.Fatalf("parsed params %+v, want %+v", p, DefaultParams)
	}
	if len(salt) != 16 || len(key) != 32 {
		t.Fatalf("salt %d bytes, key %d bytes; want 16 and 32", len(salt), len(key))
	}
	if DefaultParams != (Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}) {
		t.Fatalf("DefaultParams = %+v, not the OWASP baseline", DefaultParams)
	}
}

func TestHashUsesFreshSalt(t *testing.T) {
	h := NewHasher(testParams, 2)
	a, _ := h.Hash(context.Background(), "same password")
	b, _ := h.Hash(context.Background(), "same password")
	if a == b {
		t.Fatalf("two hashes of the same password are identical: %q", a)
	}
}

// TestVerifyReferenceVector checks interoperability with the argon2 reference
// implementation (its test vector for argon2id, version 0x13).
func TestVerifyReferenceVector(t *testing.T) {
	const phc = "$argon2id$v=19$m=65536,t=2,p=1$c29tZXNhbHQ$CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8ArZWb2GRPPc"
	h := NewHasher(testParams, 1)
	ok, err := h.Verify(context.Background(), "password", phc)
	if err != nil || !ok {
		t.Fatalf("Verify(reference vector) = %v, %v; want true, nil", ok, err)
	}
	ok, err = h.Verify(context.Background(), "passwore", phc)
	if err != nil || ok {
		t.Fatalf("Verify(reference vector, wrong password) = %v, %v; want false, nil", ok, err)
	}
	p, _, _, err := parsePHC(phc)
	if err != nil {
		t.Fatal(err)
	}
	want := Params{Memory: 65536, Time: 2, Threads: 1, SaltLen: 8, KeyLen: 32}
	if p != want {
		t.Fatalf("parsed %+v, want %+v", p, want)
	}
}

// TestVerifyUsesParamsFromHash: a hash made with old parameters still
// verifies after the parameters change, and is flagged for rehash.
func TestVerifyUsesParamsFromHash(t *testing.T) {
	ctx := context.Background()
	oldP := Params{Memory: 128, Time: 3, Threads: 2, SaltLen: 12, KeyLen: 24}
	old := NewHasher(oldP, 1)
	phc, err := old.Hash(ctx, "long enough password")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(phc, "$argon2id$v=19$m=128,t=3,p=2$") {
		t.Fatalf("unexpected prefix in %q", phc)
	}
	cur := NewHasher(testParams, 1)
	ok, err := cur.Verify(ctx, "long enough password", phc)
	if err != nil || !ok {
		t.Fatalf("Verify with changed params = %v, %v; want true, nil", ok, err)
	}
	if !cur.NeedsRehash(phc) {
		t.Fatal("NeedsRehash = false for a hash with old params")
	}
	if old.NeedsRehash(phc) {
		t.Fatal("NeedsRehash = true for a hash with current params")
	}
}

func TestNeedsRehash(t *testing.T) {
	h := NewHasher(testParams, 1)
	cur, err := h.Hash(context.Background(), "some password")
	if err != nil {
		t.Fatal(err)
	}
	if h.NeedsRehash(cur) {
		t.Fatalf("NeedsRehash(current hash %q) = true", cur)
	}
	salt16 := b64.EncodeToString(make([]byte, 16))
	key32 := b64.EncodeToString(make([]byte, 32))
	cases := map[string]string{
		"memory":  "$argon2id$v=19$m=128,t=1,p=1$" + salt16 + "$" + key32,
		"time":    "$argon2id$v=19$m=64,t=2,p=1$" + salt16 + "$" + key32,
		"threads": "$argon2id$v=19$m=64,t=1,p=2$" + salt16 + "$" + key32,
		"salt":    "$argon2id$v=19$m=64,t=1,p=1$" + b64.EncodeToString(make([]byte, 8)) + "$" + key32,
		"keylen":  "$argon2id$v=19$m=64,t=1,p=1$" + salt16 + "$" + b64.EncodeToString(make([]byte, 16)),
		"garbage": "not a hash",
	}
	same := "$argon2id$v=19$m=64,t=1,p=1$" + salt16 + "$" + key32
	if h.NeedsRehash(same) {
		t.Fatal("NeedsRehash = true for a hash with identical params")
	}
	for name, phc := range cases {
		if !h.NeedsRehash(phc) {
			t.Errorf("%s differs: NeedsRehash(%q) = false", name, phc)
		}
	}
}

func TestVerifyRejectsMalformed(t *testing.T) {
	salt := b64.EncodeToString([]byte("0123456789abcdef"))
	key := b64.EncodeToString(make([]byte, 32))
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	h := NewHasher(testParams, 1)
	if ok, err := h.Verify(context.Background(), "x", good); err != nil || ok {
		t.Fatalf("control: Verify(%q) = %v, %v; want false, nil", good, ok, err)
	}

	malformed := map[string]string{
		"empty":            "",
		"plain text":       "hunter2",
		"no leading $":     "argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"argon2i":          "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"argon2d":          "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"bcrypt":           "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy",
		"version 16":       "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"no version":       "$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"params reordered": "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"missing param":    "$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"extra param":      "$argon2id$v=19$m=64,t=1,p=1,k=2$" + salt + "$" + key,
		"non-number":       "$argon2id$v=19$m=abc,t=1,p=1$" + salt + "$" + key,
		"negative":         "$argon2id$v=19$m=64,t=-1,p=1$" + salt + "$" + key,
		"plus sign":        "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key,
		"leading zero":     "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"empty value":      "$argon2id$v=19$m=,t=1,p=1$" + salt + "$" + key,
		"p overflows u8":   "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key,
		"m overflows u32":  "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key,
		"padded salt":      "$argon2id$v=19$m=64,t=1,p=1$" + base64.StdEncoding.EncodeToString([]byte("0123456789abcdef")) + "$" + key,
		"bad base64 salt":  "$argon2id$v=19$m=64,t=1,p=1$!!!!$" + key,
		"url base64 hash":  "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + strings.Repeat("_", 43),
		"empty hash":       "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"missing hash":     "$argon2id$v=19$m=64,t=1,p=1$" + salt,
		"extra field":      "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$x",
		"trailing space":   good + " ",
		"leading space":    " " + good,
	}
	for name, phc := range malformed {
		ok, err := h.Verify(context.Background(), "x", phc)
		if err == nil || ok {
			t.Errorf("%s: Verify(%q) = %v, %v; want false and an error", name, phc, ok, err)
			continue
		}
		if !errors.Is(err, ErrMalformedHash) && !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%s: error %v wraps neither ErrMalformedHash nor ErrInvalidParams", name, err)
		}
	}

	absurd := map[string]string{
		"memory > 1 GiB":     "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key,
		"memory 4 GiB":       "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key,
		"memory < 8*threads": "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key,
		"time 0":             "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"time huge":          "$argon2id$v=19$m=64,t=1000000,p=1$" + salt + "$" + key,
		"threads 0":          "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"threads 255":        "$argon2id$v=19$m=4096,t=1,p=255$" + salt + "$" + key,
		"short salt":         "$argon2id$v=19$m=64,t=1,p=1$" + b64.EncodeToString([]byte("1234567")) + "$" + key,
		"short key":          "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + b64.EncodeToString(make([]byte, 4)),
		"huge key":           "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + b64.EncodeToString(make([]byte, 129)),
	}
	for name, phc := range absurd {
		ok, err := h.Verify(context.Background(), "x", phc)
		if ok || !errors.Is(err, ErrInvalidParams) {
			t.Errorf("%s: Verify(%q) = %v, %v; want false and ErrInvalidParams", name, phc, ok, err)
		}
	}
}

func TestNewHasher(t *testing.T) {
	h := NewHasher(DefaultParams, 0)
	if cap(h.sem) != runtime.NumCPU() {
		t.Errorf("maxConcurrent 0: %d slots, want NumCPU = %d", cap(h.sem), runtime.NumCPU())
	}
	if h := NewHasher(DefaultParams, -3); cap(h.sem) != runtime.NumCPU() {
		t.Errorf("maxConcurrent -3: %d slots, want NumCPU = %d", cap(h.sem), runtime.NumCPU())
	}
	if h := NewHasher(DefaultParams, 5); cap(h.sem) != 5 {
		t.Errorf("maxConcurrent 5: %d slots", cap(h.sem))
	}
	if h.Params() != DefaultParams {
		t.Errorf("Params() = %+v", h.Params())
	}
	for _, bad := range []Params{
		{},
		{Memory: 2 << 20, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 0},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 0, KeyLen: 32},
		{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
	} {
		func() {
			defer func() {
				r := recover()
				err, _ := r.(error)
				if !errors.Is(err, ErrInvalidParams) {
					t.Errorf("NewHasher(%+v) did not panic with ErrInvalidParams (recovered %v)", bad, r)
				}
			}()
			NewHasher(bad, 1)
		}()
	}
}

// TestConcurrencyBounded runs 8 hashes at once through a Hasher with 2
// slots. Each derivation blocks in the test hook until the test lets it go,
// so without a working semaphore all 8 would be inside at once.
func TestConcurrencyBounded(t *testing.T) {
	const slots, workers = 2, 8
	h := NewHasher(testParams, slots)
	var inFlight, maxInFlight atomic.Int32
	entered := make(chan struct{}, workers)
	release := make(chan struct{})
	h.testHook = func() {
		n := inFlight.Add(1)
		for {
			m := maxInFlight.Load()
			if n <= m || maxInFlight.CompareAndSwap(m, n) {
				break
			}
		}
		entered <- struct{}{}
		<-release
		inFlight.Add(-1)
	}

	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for range workers {
		wg.Go(func() {
			if _, err := h.Hash(context.Background(), "password"); err != nil {
				errs <- err
			}
		})
	}
	// Wait until the slots are full, give the others a chance to barge in,
	// then let the derivations go one by one.
	for range slots {
		<-entered
	}
	for range 50 {
		runtime.Gosched()
	}
	if n := inFlight.Load(); n != slots {
		t.Errorf("with %d slots full, %d derivations in flight", slots, n)
	}
	for i := range workers {
		release <- struct{}{}
		if i+slots < workers {
			<-entered
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Hash: %v", err)
	}
	if got := maxInFlight.Load(); got > slots {
		t.Fatalf("max in flight = %d, want <= %d", got, slots)
	} else if got != slots {
		t.Fatalf("max in flight = %d, want the bound %d to be reached", got, slots)
	}
}

// TestContextCancelWhileWaiting: with the only slot taken, Hash and Verify
// give up with ctx.Err() when their context ends.
func TestContextCancelWhileWaiting(t *testing.T) {
	h := NewHasher(testParams, 1)
	phc, err := h.Hash(context.Background(), "password")
	if err != nil {
		t.Fatal(err)
	}

	holding := make(chan struct{})
	release := make(chan struct{})
	var hooked atomic.Bool
	h.testHook = func() {
		if hooked.CompareAndSwap(false, true) {
			close(holding)
			<-release
		}
	}
	done := make(chan error, 1)
	go func() {
		_, err := h.Hash(context.Background(), "occupies the slot")
		done <- err
	}()
	<-holding

	// Cancelled while waiting.
	ctx, cancel := context.WithCancel(context.Background())
	res := make(chan error, 1)
	go func() {
		_, err := h.Hash(ctx, "waits")
		res <- err
	}()
	// Give Hash time to reach the wait; if it has not, it fails on the
	// already-ended ctx instead, with the same error.
	time.Sleep(10 * time.Millisecond)
	cancel()
	if err := <-res; !errors.Is(err, context.Canceled) {
		t.Errorf("Hash with cancelled ctx: err = %v, want context.Canceled", err)
	}

	// Deadline while waiting, through Verify and VerifyDummy.
	dctx, dcancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer dcancel()
	ok, err := h.Verify(dctx, "password", phc)
	if ok || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Verify with expired ctx = %v, %v; want false, context.DeadlineExceeded", ok, err)
	}
	h.VerifyDummy(dctx, "password") // must return, not block

	close(release)
	if err := <-done; err != nil {
		t.Fatalf("slot holder: %v", err)
	}

	// An already-ended context fails even when a slot is free.
	ok, err = h.Verify(ctx, "password", phc)
	if ok || !errors.Is(err, context.Canceled) {
		t.Errorf("Verify with ended ctx and free slot = %v, %v; want false, context.Canceled", ok, err)
	}
	// And a live one succeeds again.
	if ok, err := h.Verify(context.Background(), "password", phc); !ok || err != nil {
		t.Errorf("Verify after release = %v, %v", ok, err)
	}
}

func TestVerifyDummy(t *testing.T) {
	h := NewHasher(testParams, 4)
	var derivations atomic.Int32
	h.testHook = func() { derivations.Add(1) }

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() { h.VerifyDummy(context.Background(), "whatever") })
	}
	wg.Wait()
	if n := derivations.Load(); n != 8 {
		t.Fatalf("8 VerifyDummy calls ran %d derivations, want 8", n)
	}

	d := h.dummy()
	if d != h.dummy() {
		t.Fatal("dummy hash changes between calls")
	}
	p, _, _, err := parsePHC(d)
	if err != nil {
		t.Fatalf("dummy hash %q does not parse: %v", d, err)
	}
	if p != h.Params() {
		t.Fatalf("dummy hash params %+v, want current %+v", p, h.Params())
	}
	if h.NeedsRehash(d) {
		t.Fatal("dummy hash would need a rehash")
	}
	if ok, err := h.Verify(context.Background(), "whatever", d); ok || err != nil {
		t.Fatalf("Verify(dummy) = %v, %v; want false, nil", ok, err)
	}
	if other := NewHasher(testParams, 1).dummy(); other == d {
		t.Fatal("two hashers share the same dummy salt and key")
	}
}

func BenchmarkHash(b *testing.B) {
	h := NewHasher(DefaultParams, 1)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "correct horse battery staple"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	h := NewHasher(DefaultParams, 1)
	ctx := context.Background()
	phc, err := h.Hash(ctx, "correct horse battery staple")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		ok, err := h.Verify(ctx, "correct horse battery staple", phc)
		if err != nil || !ok {
			b.Fatalf("Verify = %v, %v", ok, err)
		}
	}
}
