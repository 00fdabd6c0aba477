package auth

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/apperr"
	"github.com/vero-oms/omsd/server/mail"
	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

// outbox records what the service hands to its mailer (delivery itself is
// server/mail's business and tested there against a real SMTP server).
type outbox struct {
	mu   sync.Mutex
	sent []mail.Message
}

func (o *outbox) Send(_ context.Context, m mail.Message) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.sent = append(o.sent, m)
	return nil
}

func (o *outbox) last(t *testing.T) mail.Message {
	t.Helper()
	o.mu.Lock()
	defer o.mu.Unlock()
	if len(o.sent) == 0 {
		t.Fatal("no mail")
	}
	return o.sent[len(o.sent)-1]
}

type fixture struct {
	svc   *Service
	admin *IdentityAdmin
	box   *outbox
	now   time.Time
	st    store.Store
}

func (f *fixture) clock() time.Time { return f.now }

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := &fixture{box: &outbox{}, now: time.Now()}
	f.st = memory.New(memory.WithClock(f.clock))
	t.Cleanup(func() { _ = f.st.Close() })
	t.Cleanup(func() { f.svc.Close() })
	key, _ := token.GenerateKey("ES256")
	iss, err := token.NewIssuer(token.Config{Issuer: "omsd", Audience: "vero-oms"}, key)
	if err != nil {
		t.Fatal(err)
	}
	h := password.NewHasher(password.Params{Memory: 8, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16}, 2)
	f.svc, err = New(cfg, Deps{Store: f.st, Hasher: h, Tokens: iss, Mailer: f.box,
		Secret: []byte(strings.Repeat("k", 32)), Clock: f.clock})
	if err != nil {
		t.Fatal(err)
	}
	f.admin = NewIdentityAdmin(f.st, h, f.svc.Config().PasswordPolicy)
	f.admin.now = f.clock
	if _, err := f.admin.CreateIdentity(context.Background(), NewIdentity{Email: "ann@oms.example", Password: "ann-password-1", Roles: []string{"maker", "trader"}}); err != nil {
		t.Fatal(err)
	}
	return f
}

var cli = Client{IP: "192.0.2.10", UserAgent: "test"}

func codeOf(err error) apperr.Code {
	var e *apperr.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestCodesAreSixUniformDigits(t *testing.T) {
	seen := map[byte]int{}
	for i := 0; i < 5000; i++ {
		c := newCode()
		if !regexp.MustCompile(`^\d{6}$`).MatchString(c) {
			t.Fatalf("code %q", c)
		}
		seen[c[0]]++
	}
	for d := byte('0'); d <= '9'; d++ {
		if seen[d] < 350 || seen[d] > 650 { // expected 500 each
			t.Fatalf("leading digit %c seen %d times in 5000 codes", d, seen[d])
		}
	}
}

func TestOnlyFailedLoginsCount(t *testing.T) {
	f := newFixture(t, Config{LoginPerIdentifier: Limit{3, time.Minute}})
	ctx := context.Background()
	for i := 0; i < 10; i++ {
		if _, err := f.svc.Login(ctx, "ann@oms.example", "ann-password-1", cli); err != nil {
			t.Fatalf("success %d: %v", i, err)
		}
	}
	for i := 0; i < 3; i++ {
		if _, err := f.svc.Login(ctx, "ann@oms.example", "nope-nope-nope", cli); codeOf(err) != apperr.InvalidCredentials {
			t.Fatalf("failure %d: %v", i, err)
		}
	}
	_, err := f.svc.Login(ctx, "ann@oms.example", "ann-password-1", cli)
	var e *apperr.Error
	if !errors.As(err, &e) || e.Code != apperr.TooManyRequests || e.RetryAfter <= 0 || e.RetryAfter > time.Minute {
		t.Fatalf("after 3 failures: %v", err)
	}
}

func TestDisabledIdentityGetsNoRecoveryMailAndLosesSessions(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	in, err := f.svc.Login(ctx, "ann@oms.example", "ann-password-1", cli)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.admin.DisableIdentity(ctx, "ann@oms.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(ctx, in.JWT); codeOf(err) != apperr.Unauthorized {
		t.Fatalf("JWT of a disabled identity: %v", err)
	}
	if _, err := f.svc.CurrentSession(ctx, in.SessionToken); codeOf(err) != apperr.Unauthorized {
		t.Fatalf("session of a disabled identity: %v", err)
	}
	if _, err := f.svc.StartRecovery(ctx, "ann@oms.example", cli); err != nil {
		t.Fatal(err)
	}
	f.svc.flushRecoveryMail()
	if len(f.box.sent) != 0 {
		t.Fatal("a disabled identity must not receive recovery mail")
	}
}

func TestRolesComeFromTheIdentityNow(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	in, _ := f.svc.Login(ctx, "ann@oms.example", "ann-password-1", cli)
	p, err := f.svc.Authenticate(ctx, in.JWT)
	if err != nil || !p.HasAnyRole([]string{"maker"}) || p.HasAnyRole([]string{"admin"}) || !p.HasAnyRole(nil) {
		t.Fatalf("%+v %v", p, err)
	}
}

func TestSessionExpiryBoundsJWTs(t *testing.T) {
	f := newFixture(t, Config{SessionLifespan: time.Hour})
	ctx := context.Background()
	in, _ := f.svc.Login(ctx, "ann@oms.example", "ann-password-1", cli)
	f.now = f.now.Add(55 * time.Minute)
	cur, err := f.svc.CurrentSession(ctx, in.SessionToken)
	if err != nil {
		t.Fatal(err)
	}
	if cur.Claims.Expiry.After(in.Session.ExpiresAt) {
		t.Fatalf("refreshed JWT outlives its session: %s > %s", cur.Claims.Expiry, in.Session.ExpiresAt)
	}
	f.now = f.now.Add(6 * time.Minute)
	if _, err := f.svc.CurrentSession(ctx, in.SessionToken); codeOf(err) != apperr.Unauthorized {
		t.Fatalf("expired session: %v", err)
	}
	if _, err := f.svc.Authenticate(ctx, cur.JWT); codeOf(err) != apperr.Unauthorized {
		t.Fatalf("JWT of an expired session: %v", err)
	}
}

func TestRecoveryMailAndCodeBinding(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	ck, err := f.svc.StartRecovery(ctx, " ANN@oms.example", cli)
	if err != nil {
		t.Fatal(err)
	}
	f.svc.flushRecoveryMail()
	m := f.box.last(t)
	code, ok := mail.ExtractCode([]byte("Content-Type: text/plain\r\n\r\n" + m.Text))
	if m.To != "ann@oms.example" || !ok {
		t.Fatalf("mail %+v", m)
	}
	// The stored record holds an HMAC, not the code, and no cookie value.
	rec, err := f.st.RecoveryByID(ctx, hashToken(ck.Value))
	if err != nil || strings.Contains(string(rec.CodeMAC), code) || rec.ID == ck.Value {
		t.Fatalf("record %+v %v", rec, err)
	}
	// Surrounding spaces are forgiven; the code verifies once.
	next, err := f.svc.VerifyRecovery(ctx, ck.Value, " "+code+" ", cli)
	if err != nil || next.Value == ck.Value || next.TTL != 10*time.Minute {
		t.Fatalf("verify: %+v %v", next, err)
	}
	if _, err := f.svc.VerifyRecovery(ctx, ck.Value, code, cli); codeOf(err) != apperr.RecoverySessionMissing {
		t.Fatalf("the old cookie must be dead after verify: %v", err)
	}
	if _, err := f.svc.VerifyRecovery(ctx, next.Value, code, cli); codeOf(err) != apperr.RecoverySessionMissing {
		t.Fatalf("verifying twice: %v", err)
	}
	res, err := f.svc.ResetPassword(ctx, next.Value, "ann-new-password-2", cli)
	if err != nil || res.Identity.Generation != 1 {
		t.Fatalf("reset: %+v %v", res.Identity, err)
	}
	if got := f.box.last(t); !strings.Contains(got.Subject, "changed") || !strings.Contains(got.Text, cli.IP) {
		t.Fatalf("change notice %+v", got)
	}
}

func TestLoginUpgradesOldHashParameters(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	old := password.NewHasher(password.Params{Memory: 16, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 16}, 1)
	legacy := NewIdentityAdmin(f.st, old, f.svc.Config().PasswordPolicy)
	id, err := legacy.CreateIdentity(ctx, NewIdentity{Email: "old@oms.example", Password: "old-params-pass-1", Roles: []string{"trader"}})
	if err != nil {
		t.Fatal(err)
	}
	first, err := f.svc.Login(ctx, "old@oms.example", "old-params-pass-1", cli)
	if err != nil {
		t.Fatal(err)
	}
	now, _ := f.st.IdentityByID(ctx, id.ID)
	if now.PasswordHash == id.PasswordHash || f.svc.hasher.NeedsRehash(now.PasswordHash) {
		t.Fatalf("hash not moved to the current parameters: %s", now.PasswordHash)
	}
	if now.Generation != id.Generation {
		t.Fatal("a rehash must not end sessions")
	}
	if _, err := f.svc.Authenticate(ctx, first.JWT); err != nil {
		t.Fatalf("session of the rehashing login: %v", err)
	}
	if _, err := f.svc.Login(ctx, "old@oms.example", "old-params-pass-1", cli); err != nil {
		t.Fatalf("login after rehash: %v", err)
	}
}

// AuthenticateAll answers each JWT as Authenticate would: a live session,
// a logged-out one, a forged token, and the same JWT twice.
func TestAuthenticateAllAnswersEachAsAuthenticate(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	live, err := f.svc.Login(ctx, "ann@oms.example", "ann-password-1", cli)
	if err != nil {
		t.Fatal(err)
	}
	gone, err := f.svc.Login(ctx, "ann@oms.example", "ann-password-1", cli)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.Logout(ctx, gone.SessionToken); err != nil {
		t.Fatal(err)
	}
	jwts := []string{live.JWT, gone.JWT, live.JWT + "x", live.JWT}
	ps, errs := f.svc.AuthenticateAll(ctx, jwts)
	if len(ps) != len(jwts) || len(errs) != len(jwts) {
		t.Fatalf("%d principals and %d errors for %d JWTs", len(ps), len(errs), len(jwts))
	}
	for i, jwt := range jwts {
		want, wantErr := f.svc.Authenticate(ctx, jwt)
		if codeOf(errs[i]) != codeOf(wantErr) || (wantErr == nil) != (errs[i] == nil) || ps[i].SessionID != want.SessionID || ps[i].IdentityID != want.IdentityID {
			t.Fatalf("JWT %d: %+v %v, Authenticate says %+v %v", i, ps[i], errs[i], want, wantErr)
		}
	}
	if errs[0] != nil || errs[3] != nil || codeOf(errs[1]) != apperr.Unauthorized || codeOf(errs[2]) != apperr.Unauthorized {
		t.Fatalf("errors %v", errs)
	}
	if ps, errs := f.svc.AuthenticateAll(ctx, nil); len(ps) != 0 || len(errs) != 0 {
		t.Fatalf("no JWTs: %v %v", ps, errs)
	}
}
