package auth

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/mail"
	"github.com/vero-oms/omsd/store"
)

// Bearer roles come from the identity as stored, never from the token: a
// token signed with the server's own key for a real session, claiming more
// roles than the identity holds, gains nothing.
func TestBearerRolesComeFromTheStoredIdentityNotTheToken(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	in, err := f.svc.Login(ctx, "ann@oms.example", "ann-password-1", cli)
	if err != nil {
		t.Fatal(err)
	}
	claimed := []string{RoleAdmin, RoleChecker, RoleMaker, RoleTrader}
	jwt, claims, err := f.svc.tokens.Issue(in.Identity.ID, in.Session.ID, in.Identity.Email, claimed, in.Session.ExpiresAt, f.now)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(claims.Roles, claimed) {
		t.Fatalf("the token does not claim %v: %v", claimed, claims.Roles)
	}
	p, err := f.svc.Authenticate(ctx, jwt)
	if err != nil {
		t.Fatalf("a token of the server's own key for a live session: %v", err)
	}
	if got, want := slices.Sorted(slices.Values(p.Roles)), []string{RoleMaker, RoleTrader}; !slices.Equal(got, want) {
		t.Fatalf("principal roles %v, want the stored %v", p.Roles, want)
	}
	if p.HasAnyRole([]string{RoleAdmin}) || p.HasAnyRole([]string{RoleChecker}) {
		t.Fatalf("the token's claimed roles leaked into the principal: %v", p.Roles)
	}
}

// The code MAC binds the address: a record of another address holding the
// very MAC of a real code (as if copied between records) does not accept
// that code, while the record it was made for does.
func TestRecoveryCodeIsBoundToItsAddress(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	bob, err := f.admin.CreateIdentity(ctx, NewIdentity{Email: "bob@oms.example", Password: "bob-password-1", Roles: []string{"trader"}})
	if err != nil {
		t.Fatal(err)
	}
	annCookie, err := f.svc.StartRecovery(ctx, "ann@oms.example", cli)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.flushRecoveryMail()
	code, ok := mail.ExtractCode([]byte("Content-Type: text/plain\r\n\r\n" + f.box.last(t).Text))
	if !ok {
		t.Fatal("no code mailed")
	}
	annRec, err := f.st.RecoveryByID(ctx, hashToken(annCookie.Value))
	if err != nil {
		t.Fatal(err)
	}
	bobCookie := newRecoveryCookie()
	if err := f.st.StartRecovery(ctx, store.Recovery{
		ID: hashToken(bobCookie), EmailKey: f.svc.emailKey("bob@oms.example"), IdentityID: bob.ID,
		CodeMAC: annRec.CodeMAC, State: store.RecoveryPending, ExpiresAt: f.now.Add(10 * time.Minute),
	}, f.now); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.VerifyRecovery(ctx, bobCookie, code, cli); codeOf(err) != apperr.InvalidCode {
		t.Fatalf("ann's code verified against bob's record: %v", err)
	}
	if _, err := f.svc.VerifyRecovery(ctx, annCookie.Value, code, cli); err != nil {
		t.Fatalf("control: ann's code on ann's record: %v", err)
	}
}

// derivations runs f and returns how many argon2id derivations it cost.
func derivations(f *fixture, fn func()) uint64 {
	before := f.svc.hasher.Derivations()
	fn()
	return f.svc.hasher.Derivations() - before
}

// A login costs exactly one password-hash verification whether the address
// is unknown, the password wrong or right: the unknown address must not be
// cheaper (it would reveal which accounts exist) nor dearer.
func TestEveryLoginCostsExactlyOneHashVerification(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	for _, tc := range []struct {
		name, identifier, password string
		want                       apperr.Code
	}{
		{"unknown address", "nobody@oms.example", "ann-password-1", apperr.InvalidCredentials},
		{"wrong password", "ann@oms.example", "not-anns-password", apperr.InvalidCredentials},
		{"right password", "ann@oms.example", "ann-password-1", ""},
		{"unknown address again", "ghost@oms.example", "whatever-pass-1", apperr.InvalidCredentials},
	} {
		var err error
		n := derivations(f, func() { _, err = f.svc.Login(ctx, tc.identifier, tc.password, cli) })
		if codeOf(err) != tc.want {
			t.Fatalf("%s: %v, want %q", tc.name, err, tc.want)
		}
		if n != 1 {
			t.Errorf("%s: %d hash derivations, want exactly 1", tc.name, n)
		}
	}
}

// A reset on a pending (unverified) recovery is refused before the password
// policy runs and before anything is hashed, whatever the password.
func TestResetOnAPendingRecoveryHashesNothing(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	ck, err := f.svc.StartRecovery(ctx, "ann@oms.example", cli)
	if err != nil {
		t.Fatal(err)
	}
	for _, pw := range []string{"short", "baseball1", "ann@oms.example", "a-strong-enough-password-3"} {
		var err error
		n := derivations(f, func() { _, err = f.svc.ResetPassword(ctx, ck.Value, pw, cli) })
		if codeOf(err) != apperr.CodeNotVerified {
			t.Errorf("password %q on a pending recovery: %v, want %s", pw, err, apperr.CodeNotVerified)
		}
		if n != 0 {
			t.Errorf("password %q on a pending recovery: %d hash derivations, want 0", pw, n)
		}
	}
}
