package password

import (
	"context"
	"testing"
)

func TestDerivationsCountsEveryKeyDerivation(t *testing.T) {
	h := NewHasher(Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16}, 1)
	ctx := context.Background()
	step := func(what string, want uint64, f func()) {
		t.Helper()
		before := h.Derivations()
		f()
		if got := h.Derivations() - before; got != want {
			t.Fatalf("%s: %d derivations, want %d", what, got, want)
		}
	}
	var phc string
	step("Hash", 1, func() { phc, _ = h.Hash(ctx, "pw-one") })
	step("Verify, right password", 1, func() { _, _ = h.Verify(ctx, "pw-one", phc) })
	step("Verify, wrong password", 1, func() { _, _ = h.Verify(ctx, "pw-two", phc) })
	step("VerifyDummy (first use builds the dummy)", 1, func() { h.VerifyDummy(ctx, "pw-one") })
	step("VerifyDummy", 1, func() { h.VerifyDummy(ctx, "pw-one") })
	step("Verify, malformed hash", 0, func() { _, _ = h.Verify(ctx, "pw-one", "$argon2id$nope") })
	done, cancel := context.WithCancel(ctx)
	cancel()
	step("Verify, ended context", 0, func() { _, _ = h.Verify(done, "pw-one", phc) })
}
