package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

const (
	testIssuer   = "https://oms.example.test"
	testAudience = "omsd-api"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 678_000_000, time.UTC)

func testConfig() Config {
	return Config{Issuer: testIssuer, Audience: testAudience}
}

func mustKey(t testing.TB, alg string) jwk.Key {
	t.Helper()
	k, err := GenerateKey(alg)
	if err != nil {
		t.Fatalf("GenerateKey(%q): %v", alg, err)
	}
	return k
}

func mustIssuer(t testing.TB, signing jwk.Key, previous ...jwk.Key) *Issuer {
	t.Helper()
	iss, err := NewIssuer(testConfig(), signing, previous...)
	if err != nil {
		t.Fatalf("NewIssuer: %v", err)
	}
	return iss
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func mustJSON(t testing.TB, v interface{}) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// segments splits a compact token and decodes its header and payload.
func segments(t testing.TB, tok string) (hdr, payload map[string]interface{}) {
	t.Helper()
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d segments, want 3", len(parts))
	}
	for i, dst := range []*map[string]interface{}{&hdr, &payload} {
		raw, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
		if err := json.Unmarshal(raw, dst); err != nil {
			t.Fatalf("segment %d: %v", i, err)
		}
	}
	return hdr, payload
}

// rawSign builds a compact JWS by hand: the given header and claims are
// encoded as-is and signed with key using alg, so headers and claims that the
// Issuer would never produce can be tested.
func rawSign(t testing.TB, key jwk.Key, alg jwa.SignatureAlgorithm, hdr, claims map[string]interface{}) string {
	t.Helper()
	input := b64(mustJSON(t, hdr)) + "." + b64(mustJSON(t, claims))
	priv, err := rawPrivate(key)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := jws.NewSigner(alg)
	if err != nil {
		t.Fatal(err)
	}
	sig, err := signer.Sign([]byte(input), priv)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// hmacToken builds an HS256 token whose HMAC secret is secret.
func hmacToken(t testing.TB, hdr, claims map[string]interface{}, secret []byte) string {
	t.Helper()
	input := b64(mustJSON(t, hdr)) + "." + b64(mustJSON(t, claims))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + b64(m.Sum(nil))
}

// goodClaims are claims that the issuer would accept at testNow.
func goodClaims() map[string]interface{} {
	iat := testNow.Truncate(time.Second).Unix()
	return map[string]interface{}{
		"iss":   testIssuer,
		"aud":   testAudience,
		"sub":   "user-1",
		"sid":   "session-1",
		"jti":   "jti-1",
		"iat":   iat,
		"nbf":   iat,
		"exp":   iat + 600,
		"email": "u@example.test",
		"roles": []string{"admin"},
	}
}

func goodHeader(key jwk.Key) map[string]interface{} {
	return map[string]interface{}{"alg": key.Algorithm().String(), "kid": key.KeyID(), "typ": "JWT"}
}

func with(m map[string]interface{}, kv ...interface{}) map[string]interface{} {
	out := make(map[string]interface{}, len(m))
	for k, v := range m {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		out[kv[i].(string)] = kv[i+1]
	}
	return out
}

func without(m map[string]interface{}, keys ...string) map[string]interface{} {
	out := with(m)
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

// wantInvalid asserts that err is ErrInvalidToken with the given reason and
// that the message does not echo the token.
func wantInvalid(t *testing.T, err error, reason, tok string) {
	t.Helper()
	if err == nil {
		t.Fatalf("Verify accepted the token; want %q", reason)
	}
	if !errors.Is(err, ErrInvalidToken) {
		t.Fatalf("error %v is not ErrInvalidToken", err)
	}
	if want := ErrInvalidToken.Error() + ": " + reason; err.Error() != want {
		t.Fatalf("error = %q, want %q", err.Error(), want)
	}
	for _, part := range strings.Split(tok, ".") {
		if len(part) >= 8 && strings.Contains(err.Error(), part) {
			t.Fatalf("error %q leaks part of the token", err.Error())
		}
	}
}

func TestGenerateKey(t *testing.T) {
	for _, tc := range []struct {
		in   string
		alg  jwa.SignatureAlgorithm
		kty  jwa.KeyType
		priv interface{}
	}{
		{"", jwa.ES256, jwa.EC, &ecdsa.PrivateKey{}},
		{AlgES256, jwa.ES256, jwa.EC, &ecdsa.PrivateKey{}},
		{AlgEdDSA, jwa.EdDSA, jwa.OKP, ed25519.PrivateKey{}},
	} {
		k := mustKey(t, tc.in)
		if k.Algorithm() != tc.alg || k.KeyType() != tc.kty || k.KeyUsage() != "sig" {
			t.Errorf("GenerateKey(%q): alg=%s kty=%s use=%q", tc.in, k.Algorithm(), k.KeyType(), k.KeyUsage())
		}
		var raw interface{}
		if err := k.Raw(&raw); err != nil {
			t.Fatal(err)
		}
		if reflect.TypeOf(raw) != reflect.TypeOf(tc.priv) {
			t.Errorf("GenerateKey(%q): raw key %T, want %T", tc.in, raw, tc.priv)
		}
		// kid is the RFC 7638 thumbprint, computed independently here.
		pub, _ := k.PublicKey()
		var tpInput []byte
		switch tc.kty {
		case jwa.EC:
			p := pub.(jwk.ECDSAPublicKey)
			tpInput = []byte(`{"crv":"P-256","kty":"EC","x":"` + b64(p.X()) + `","y":"` + b64(p.Y()) + `"}`)
		case jwa.OKP:
			p := pub.(jwk.OKPPublicKey)
			tpInput = []byte(`{"crv":"Ed25519","kty":"OKP","x":"` + b64(p.X()) + `"}`)
		}
		sum := sha256.Sum256(tpInput)
		if k.KeyID() != b64(sum[:]) {
			t.Errorf("GenerateKey(%q): kid %q is not the RFC 7638 thumbprint %q", tc.in, k.KeyID(), b64(sum[:]))
		}
	}
	if a, b := mustKey(t, ""), mustKey(t, ""); a.KeyID() == b.KeyID() {
		t.Error("two generated keys share a kid")
	}
	for _, bad := range []string{"RS256", "HS256", "none", "es256", "Ed25519"} {
		if _, err := GenerateKey(bad); err == nil {
			t.Errorf("GenerateKey(%q) succeeded", bad)
		}
	}
	if k, err := Ephemeral(AlgEdDSA); err != nil || k.Algorithm() != jwa.EdDSA {
		t.Errorf("Ephemeral(EdDSA) = %v, %v", k, err)
	}
}

func TestIssueVerifyRoundTrip(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			key := mustKey(t, alg)
			iss := mustIssuer(t, key)
			if iss.SigningKeyID() != key.KeyID() {
				t.Fatalf("SigningKeyID = %q, want %q", iss.SigningKeyID(), key.KeyID())
			}
			roles := []string{"admin", "picker"}
			tok, issued, err := iss.Issue("user-42", "sess-7", "a@example.test", roles, testNow.Add(24*time.Hour), testNow)
			if err != nil {
				t.Fatal(err)
			}
			roles[0] = "mutated" // Issue must have copied the slice.

			wantIat := testNow.Truncate(time.Second)
			want := Claims{
				Subject:   "user-42",
				SessionID: "sess-7",
				TokenID:   issued.TokenID,
				Email:     "a@example.test",
				Roles:     []string{"admin", "picker"},
				IssuedAt:  wantIat,
				NotBefore: wantIat,
				Expiry:    wantIat.Add(DefaultTTL),
			}
			if !reflect.DeepEqual(issued, want) {
				t.Fatalf("issued claims\n got %+v\nwant %+v", issued, want)
			}
			got, err := iss.Verify(tok, testNow)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("verified claims\n got %+v\nwant %+v", got, want)
			}

			jti, err := base64.RawURLEncoding.DecodeString(issued.TokenID)
			if err != nil || len(jti) != 16 {
				t.Fatalf("jti %q is not 128 bits of base64url (%v)", issued.TokenID, err)
			}
			_, again, _ := iss.Issue("user-42", "sess-7", "", nil, testNow.Add(time.Hour), testNow)
			if again.TokenID == issued.TokenID {
				t.Fatal("two tokens share a jti")
			}

			hdr, payload := segments(t, tok)
			wantHdr := map[string]interface{}{"alg": alg, "kid": key.KeyID(), "typ": "JWT"}
			if !reflect.DeepEqual(hdr, wantHdr) {
				t.Errorf("header = %v, want %v", hdr, wantHdr)
			}
			wantPayload := map[string]interface{}{
				"iss":   testIssuer,
				"aud":   testAudience, // a single string, not an array
				"sub":   "user-42",
				"sid":   "sess-7",
				"jti":   issued.TokenID,
				"iat":   float64(wantIat.Unix()),
				"nbf":   float64(wantIat.Unix()),
				"exp":   float64(wantIat.Add(DefaultTTL).Unix()),
				"email": "a@example.test",
				"roles": []interface{}{"admin", "picker"},
			}
			if !reflect.DeepEqual(payload, wantPayload) {
				t.Errorf("payload\n got %v\nwant %v", payload, wantPayload)
			}
		})
	}
}

func TestIssueEmptyRolesIsArray(t *testing.T) {
	iss := mustIssuer(t, mustKey(t, ""))
	tok, c, err := iss.Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
	if err != nil {
		t.Fatal(err)
	}
	_, payload := segments(t, tok)
	if r, ok := payload["roles"].([]interface{}); !ok || len(r) != 0 {
		t.Fatalf("roles = %#v, want []", payload["roles"])
	}
	got, err := iss.Verify(tok, testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got.Roles == nil || len(got.Roles) != 0 || !reflect.DeepEqual(got, c) {
		t.Fatalf("got %+v, want %+v", got, c)
	}
}

func TestIssueRejectsBadInput(t *testing.T) {
	iss := mustIssuer(t, mustKey(t, ""))
	later := testNow.Add(time.Hour)
	for name, f := range map[string]func() error{
		"empty subject": func() error { _, _, err := iss.Issue("", "s", "", nil, later, testNow); return err },
		"empty session": func() error { _, _, err := iss.Issue("u", "", "", nil, later, testNow); return err },
		"session expired": func() error {
			_, _, err := iss.Issue("u", "s", "", nil, testNow.Add(-time.Second), testNow)
			return err
		},
		"session ends now": func() error {
			_, _, err := iss.Issue("u", "s", "", nil, testNow, testNow)
			return err
		},
		"zero now": func() error { _, _, err := iss.Issue("u", "s", "", nil, later, time.Time{}); return err },
	} {
		if err := f(); err == nil {
			t.Errorf("%s: Issue succeeded", name)
		}
	}
}

func TestExpNeverPastSessionExpiry(t *testing.T) {
	iss := mustIssuer(t, mustKey(t, ""))
	skew := DefaultSkew
	for _, d := range []time.Duration{
		1500 * time.Millisecond, 2 * time.Second, 90*time.Second + 999*time.Millisecond,
		DefaultTTL - time.Nanosecond, DefaultTTL, DefaultTTL + time.Nanosecond, 48 * time.Hour,
	} {
		sessExp := testNow.Add(d)
		tok, c, err := iss.Issue("u", "s", "", nil, sessExp, testNow)
		if err != nil {
			t.Fatalf("session +%v: %v", d, err)
		}
		if c.Expiry.After(sessExp) {
			t.Errorf("session +%v: exp %v is past the session expiry %v", d, c.Expiry, sessExp)
		}
		if c.Expiry.After(testNow.Add(DefaultTTL)) {
			t.Errorf("session +%v: exp %v is past now+TTL", d, c.Expiry)
		}
		if d < DefaultTTL && sessExp.Sub(c.Expiry) >= time.Second {
			t.Errorf("session +%v: exp %v needlessly earlier than the session expiry", d, c.Expiry)
		}
		if d >= DefaultTTL+time.Second && !c.Expiry.Equal(c.IssuedAt.Add(DefaultTTL)) {
			t.Errorf("session +%v: exp %v, want iat+TTL", d, c.Expiry)
		}
		// What the token carries is what Claims said.
		_, payload := segments(t, tok)
		if got := int64(payload["exp"].(float64)); got != c.Expiry.Unix() {
			t.Errorf("session +%v: token exp %d, claims exp %d", d, got, c.Expiry.Unix())
		}
		// And the token dies (allowing for skew) with the session.
		_, err = iss.Verify(tok, sessExp.Add(skew))
		wantInvalid(t, err, reasonExpired, tok)
	}
}

func TestTTLConfig(t *testing.T) {
	cfg := testConfig()
	cfg.TTL = 2 * time.Minute
	iss, err := NewIssuer(cfg, mustKey(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	_, c, err := iss.Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Expiry.Sub(c.IssuedAt); got != 2*time.Minute {
		t.Fatalf("exp-iat = %v, want 2m", got)
	}
}

func TestNewIssuerRejects(t *testing.T) {
	es := mustKey(t, "")
	pubES, _ := es.PublicKey()
	sym, _ := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
	rsaRaw, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaKey, _ := jwk.FromRaw(rsaRaw)
	p384Raw, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384, _ := jwk.FromRaw(p384Raw)
	lying, _ := es.Clone()
	_ = lying.Set(jwk.AlgorithmKey, jwa.HS256)
	encKey, _ := es.Clone()
	_ = encKey.Set(jwk.KeyUsageKey, "enc")

	for name, tc := range map[string]struct {
		cfg     Config
		signing jwk.Key
		prev    []jwk.Key
	}{
		"no issuer":         {Config{Audience: "a"}, es, nil},
		"no audience":       {Config{Issuer: "i"}, es, nil},
		"negative ttl":      {Config{Issuer: "i", Audience: "a", TTL: -time.Second}, es, nil},
		"negative skew":     {Config{Issuer: "i", Audience: "a", Skew: -time.Second}, es, nil},
		"nil key":           {testConfig(), nil, nil},
		"public signing":    {testConfig(), pubES, nil},
		"symmetric signing": {testConfig(), sym, nil},
		"rsa signing":       {testConfig(), rsaKey, nil},
		"p384 signing":      {testConfig(), p384, nil},
		"alg mismatch":      {testConfig(), lying, nil},
		"use enc":           {testConfig(), encKey, nil},
		"duplicate kid":     {testConfig(), es, []jwk.Key{pubES}},
		"symmetric prev":    {testConfig(), es, []jwk.Key{sym}},
		"nil prev":          {testConfig(), es, []jwk.Key{nil}},
	} {
		if _, err := NewIssuer(tc.cfg, tc.signing, tc.prev...); err == nil {
			t.Errorf("%s: NewIssuer succeeded", name)
		}
	}
}

func TestNewIssuerDoesNotModifyKeys(t *testing.T) {
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	k, _ := jwk.FromRaw(raw)
	iss := mustIssuer(t, k)
	if k.KeyID() != "" || k.Algorithm().String() != "" {
		t.Fatalf("caller's key was modified: kid=%q alg=%q", k.KeyID(), k.Algorithm())
	}
	tp, _ := thumbprint(k)
	if iss.SigningKeyID() != tp {
		t.Fatalf("filled-in kid %q, want thumbprint %q", iss.SigningKeyID(), tp)
	}
}

func TestKeyFileJWKRoundTrip(t *testing.T) {
	for _, alg := range []string{AlgES256, AlgEdDSA} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "signing.jwk")
			key := mustKey(t, alg)
			if err := WriteKeyFile(path, key); err != nil {
				t.Fatal(err)
			}
			st, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if st.Mode().Perm() != 0o600 {
				t.Fatalf("key file mode %v, want 0600", st.Mode().Perm())
			}
			before, _ := os.ReadFile(path)
			if !bytes.Contains(before, []byte(`"d"`)) {
				t.Fatal("key file does not hold the private key")
			}

			// Refuse to overwrite, and leave the file alone.
			err = WriteKeyFile(path, mustKey(t, alg))
			if err == nil || !strings.Contains(err.Error(), "exists") {
				t.Fatalf("second WriteKeyFile: %v, want refusal", err)
			}
			if after, _ := os.ReadFile(path); !bytes.Equal(before, after) {
				t.Fatal("existing key file was modified")
			}

			loaded, err := LoadKeyFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if loaded.KeyID() != key.KeyID() || loaded.Algorithm() != key.Algorithm() || loaded.KeyUsage() != "sig" {
				t.Fatalf("loaded kid=%q alg=%s use=%q", loaded.KeyID(), loaded.Algorithm(), loaded.KeyUsage())
			}
			// Same key material: a token from the original verifies with the loaded key and back.
			a, b := mustIssuer(t, key), mustIssuer(t, loaded)
			tok, _, _ := a.Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
			if _, err := b.Verify(tok, testNow); err != nil {
				t.Fatalf("token from original key rejected by loaded key: %v", err)
			}
			tok, _, _ = b.Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
			if _, err := a.Verify(tok, testNow); err != nil {
				t.Fatalf("token from loaded key rejected by original key: %v", err)
			}
		})
	}
}

func TestWriteKeyFileRejectsPublicKey(t *testing.T) {
	pub, _ := mustKey(t, "").PublicKey()
	path := filepath.Join(t.TempDir(), "pub.jwk")
	if err := WriteKeyFile(path, pub); err == nil {
		t.Fatal("WriteKeyFile wrote a public-only key")
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("file was created: %v", err)
	}
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestKeyFilePEM(t *testing.T) {
	dir := t.TempDir()
	ecRaw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	_, edRaw, _ := ed25519.GenerateKey(rand.Reader)
	for _, tc := range []struct {
		name string
		raw  interface{}
		alg  jwa.SignatureAlgorithm
		sec1 bool
	}{
		{"ec-pkcs8", ecRaw, jwa.ES256, false},
		{"ec-sec1", ecRaw, jwa.ES256, true},
		{"ed25519-pkcs8", edRaw, jwa.EdDSA, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var path string
			if tc.sec1 {
				der, err := x509.MarshalECPrivateKey(tc.raw.(*ecdsa.PrivateKey))
				if err != nil {
					t.Fatal(err)
				}
				path = writePEM(t, dir, tc.name+".pem", "EC PRIVATE KEY", der)
			} else {
				der, err := x509.MarshalPKCS8PrivateKey(tc.raw)
				if err != nil {
					t.Fatal(err)
				}
				path = writePEM(t, dir, tc.name+".pem", "PRIVATE KEY", der)
			}
			loaded, err := LoadKeyFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, _ := jwk.FromRaw(tc.raw)
			tp, _ := thumbprint(want)
			if loaded.KeyID() != tp || loaded.Algorithm() != tc.alg || loaded.KeyUsage() != "sig" {
				t.Fatalf("loaded kid=%q (want %q) alg=%s use=%q", loaded.KeyID(), tp, loaded.Algorithm(), loaded.KeyUsage())
			}
			// The loaded key signs for the original raw key.
			iss := mustIssuer(t, loaded)
			tok, _, _ := iss.Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
			parts := strings.Split(tok, ".")
			sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
			v, _ := jws.NewVerifier(tc.alg)
			var pub interface{}
			switch k := tc.raw.(type) {
			case *ecdsa.PrivateKey:
				pub = &k.PublicKey
			case ed25519.PrivateKey:
				pub = k.Public()
			}
			if err := v.Verify([]byte(parts[0]+"."+parts[1]), sig, pub); err != nil {
				t.Fatalf("token not signed by the PEM key: %v", err)
			}
		})
	}

	// A JWK file written by WriteKeyFile then re-encoded as PEM loads to the same kid.
	key := mustKey(t, "")
	priv, _ := rawPrivate(key)
	der, _ := x509.MarshalPKCS8PrivateKey(priv)
	loaded, err := LoadKeyFile(writePEM(t, dir, "again.pem", "PRIVATE KEY", der))
	if err != nil || loaded.KeyID() != key.KeyID() {
		t.Fatalf("PEM of generated key: kid %v, %v; want %q", loaded, err, key.KeyID())
	}
}

func TestLoadKeyFileRejects(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	es := mustKey(t, "")
	pub, _ := es.PublicKey()
	ecRaw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	pubDER, _ := x509.MarshalPKIXPublicKey(&ecRaw.PublicKey)
	rsaRaw, _ := rsa.GenerateKey(rand.Reader, 2048)
	rsaDER, _ := x509.MarshalPKCS8PrivateKey(rsaRaw)
	p384Raw, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	p384DER, _ := x509.MarshalPKCS8PrivateKey(p384Raw)
	p384JWK, _ := jwk.FromRaw(p384Raw)
	sym, _ := jwk.FromRaw([]byte("0123456789abcdef0123456789abcdef"))
	lying, _ := es.Clone()
	_ = lying.Set(jwk.AlgorithmKey, jwa.RS256)
	// A JWK whose private scalar belongs to another key.
	other := mustKey(t, "")
	var m map[string]interface{}
	_ = json.Unmarshal(mustJSON(t, es), &m)
	var om map[string]interface{}
	_ = json.Unmarshal(mustJSON(t, other), &om)
	m["d"] = om["d"]
	set := jwk.NewSet()
	_ = set.AddKey(es)

	for name, tc := range map[string]struct {
		path string
		msg  string
	}{
		"missing":       {filepath.Join(dir, "nope"), "no such file"},
		"empty":         {write("empty", nil), "empty"},
		"garbage":       {write("garbage", []byte("hello")), "no PEM private key"},
		"bad json":      {write("badjson", []byte("{nope")), "invalid JWK JSON"},
		"public jwk":    {write("pub.jwk", mustJSON(t, pub)), "public-only"},
		"public pem":    {write("pub.pem", pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})), "public-only"},
		"rsa pem":       {write("rsa.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: rsaDER})), "unsupported private key type"},
		"p384 pem":      {write("p384.pem", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: p384DER})), "P-384"},
		"p384 jwk":      {write("p384.jwk", mustJSON(t, p384JWK)), "P-384"},
		"oct jwk":       {write("oct.jwk", mustJSON(t, sym)), "unsupported key type"},
		"alg mismatch":  {write("lying.jwk", mustJSON(t, lying)), `alg "RS256"`},
		"jwk set":       {write("set.json", mustJSON(t, set)), "JWK Set"},
		"mismatched d":  {write("mismatch.jwk", mustJSON(t, m)), "self-test"},
		"encrypted pem": {write("enc.pem", pem.EncodeToMemory(&pem.Block{Type: "ENCRYPTED PRIVATE KEY", Bytes: []byte{1}})), "encrypted"},
		"too big":       {write("big", bytes.Repeat([]byte{' '}, maxKeyFileSize+1)), "larger than"},
	} {
		_, err := LoadKeyFile(tc.path)
		if err == nil {
			t.Errorf("%s: LoadKeyFile succeeded", name)
			continue
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: error %q does not mention %q", name, err, tc.msg)
		}
	}
}

func TestLoadKeyFileFillsKidAndAlg(t *testing.T) {
	raw, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	bare, _ := jwk.FromRaw(raw) // no kid, alg, use
	path := filepath.Join(t.TempDir(), "bare.jwk")
	if err := os.WriteFile(path, mustJSON(t, bare), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeyFile(path)
	if err != nil {
		t.Fatal(err)
	}
	tp, _ := thumbprint(bare)
	if k.KeyID() != tp || k.Algorithm() != jwa.ES256 {
		t.Fatalf("kid=%q alg=%s; want %q ES256", k.KeyID(), k.Algorithm(), tp)
	}
	// An explicit kid is kept.
	_ = bare.Set(jwk.KeyIDKey, "operator-chosen")
	path2 := filepath.Join(t.TempDir(), "named.jwk")
	_ = os.WriteFile(path2, mustJSON(t, bare), 0o600)
	if k, err := LoadKeyFile(path2); err != nil || k.KeyID() != "operator-chosen" {
		t.Fatalf("explicit kid: %v, %v", k, err)
	}
}

type jwksDoc struct {
	Keys []map[string]interface{} `json:"keys"`
}

func TestRotation(t *testing.T) {
	oldKey := mustKey(t, AlgES256)
	newKey := mustKey(t, AlgEdDSA)
	oldIss := mustIssuer(t, oldKey)
	oldTok, oldClaims, err := oldIss.Issue("u", "s", "", []string{"r"}, testNow.Add(time.Hour), testNow)
	if err != nil {
		t.Fatal(err)
	}

	// New key signs; old key (given as public-only, as from an old JWKS) still verifies.
	oldPub, _ := oldKey.PublicKey()
	rot := mustIssuer(t, newKey, oldPub)
	if rot.SigningKeyID() != newKey.KeyID() {
		t.Fatal("rotated issuer does not sign with the new key")
	}
	got, err := rot.Verify(oldTok, testNow)
	if err != nil {
		t.Fatalf("token signed by previous key rejected: %v", err)
	}
	if !reflect.DeepEqual(got, oldClaims) {
		t.Fatalf("claims %+v, want %+v", got, oldClaims)
	}
	newTok, _, err := rot.Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
	if err != nil {
		t.Fatal(err)
	}
	if hdr, _ := segments(t, newTok); hdr["kid"] != newKey.KeyID() || hdr["alg"] != "EdDSA" {
		t.Fatalf("new token header %v", hdr)
	}
	if _, err := rot.Verify(newTok, testNow); err != nil {
		t.Fatal(err)
	}
	// The old issuer does not know the new key.
	_, err = oldIss.Verify(newTok, testNow)
	wantInvalid(t, err, reasonUnknownKid, newTok)

	// JWKS lists both, public only, with kid, alg and use.
	var doc jwksDoc
	if err := json.Unmarshal(rot.JWKS(), &doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 2 {
		t.Fatalf("JWKS has %d keys, want 2: %s", len(doc.Keys), rot.JWKS())
	}
	want := map[string]string{newKey.KeyID(): "EdDSA", oldKey.KeyID(): "ES256"}
	for _, k := range doc.Keys {
		kid, _ := k["kid"].(string)
		if want[kid] == "" || k["alg"] != want[kid] || k["use"] != "sig" {
			t.Errorf("JWKS key %v", k)
		}
		delete(want, kid)
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi", "k"} {
			if _, ok := k[private]; ok {
				t.Errorf("JWKS key %s has private member %q", kid, private)
			}
		}
	}
	if len(want) != 0 {
		t.Errorf("JWKS misses %v", want)
	}
	// The JWKS parses back as a public set that verifies both tokens.
	set, err := jwk.Parse(rot.JWKS())
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{oldTok, newTok} {
		if _, err := jws.Verify([]byte(tok), jws.WithKeySet(set)); err != nil {
			t.Errorf("JWKS does not verify a token: %v", err)
		}
	}
	// JWKS() hands out a copy.
	j := rot.JWKS()
	j[0] = 'X'
	if rot.JWKS()[0] != '{' {
		t.Fatal("JWKS() exposes its internal buffer")
	}

	// A key in no set: rejected.
	stranger := mustKey(t, AlgES256)
	strangerTok, _, _ := mustIssuer(t, stranger).Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
	_, err = rot.Verify(strangerTok, testNow)
	wantInvalid(t, err, reasonUnknownKid, strangerTok)

	// Once the old key is retired, its tokens stop verifying.
	retired := mustIssuer(t, newKey)
	_, err = retired.Verify(oldTok, testNow)
	wantInvalid(t, err, reasonUnknownKid, oldTok)
}

func TestVerifyTampering(t *testing.T) {
	key := mustKey(t, AlgES256)
	iss := mustIssuer(t, key)
	kid := key.KeyID()
	good := goodClaims()
	hdr := goodHeader(key)
	skew := DefaultSkew

	pub, _ := key.PublicKey()
	pubJWK := mustJSON(t, pub)
	rawPub, _ := rawPublic(key)
	pubDER, _ := x509.MarshalPKIXPublicKey(rawPub)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})
	ecPub := rawPub.(*ecdsa.PublicKey)
	pubPoint, _ := ecPub.Bytes()

	// Another ES256 key posing under our kid.
	impostor := mustKey(t, AlgES256)
	// An Ed25519 key posing under our (ES256) kid.
	edKey := mustKey(t, AlgEdDSA)

	signed, _, err := iss.Issue("user-1", "session-1", "", nil, testNow.Add(time.Hour), testNow)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(signed, ".")
	// Flip one character in the middle of the payload segment.
	flipped := []byte(parts[1])
	i := len(flipped) / 2
	if flipped[i] == 'A' {
		flipped[i] = 'B'
	} else {
		flipped[i] = 'A'
	}

	noneHdr := b64(mustJSON(t, map[string]interface{}{"alg": "none", "kid": kid}))
	hsHdr := map[string]interface{}{"alg": "HS256", "kid": kid, "typ": "JWT"}
	exp := good["exp"].(int64)
	nowFloor := testNow.Truncate(time.Second)

	cases := []struct {
		name   string
		tok    string
		now    time.Time
		reason string // "" = must verify
	}{
		// Controls: the hand-built tokens are otherwise acceptable, so every
		// rejection below is caused by the one thing that case changes.
		{"control: hand-built", rawSign(t, key, jwa.ES256, hdr, good), testNow, ""},
		{"control: issued", signed, testNow, ""},
		{"control: header alg absent", rawSign(t, key, jwa.ES256, without(hdr, "alg"), good), testNow, ""},
		{"control: exp within skew", rawSign(t, key, jwa.ES256, hdr, good), time.Unix(exp, 0).Add(skew - time.Second), ""},
		{"control: nbf within skew", rawSign(t, key, jwa.ES256, hdr, with(good, "nbf", nowFloor.Add(skew-time.Second).Unix())), testNow, ""},
		{"control: no email, no roles", rawSign(t, key, jwa.ES256, hdr, without(good, "email", "roles")), testNow, ""},

		{"alg none", noneHdr + "." + parts[1] + ".", testNow, reasonBadSignature},
		{"alg none, no kid", b64([]byte(`{"alg":"none"}`)) + "." + parts[1] + ".", testNow, reasonMissingKid},
		{"HS256 keyed with public JWK JSON", hmacToken(t, hsHdr, good, pubJWK), testNow, reasonBadSignature},
		{"HS256 keyed with public PEM", hmacToken(t, hsHdr, good, pubPEM), testNow, reasonBadSignature},
		{"HS256 keyed with public DER", hmacToken(t, hsHdr, good, pubDER), testNow, reasonBadSignature},
		{"HS256 keyed with public point", hmacToken(t, hsHdr, good, pubPoint), testNow, reasonBadSignature},
		{"HS256 keyed with JWKS", hmacToken(t, hsHdr, good, iss.JWKS()), testNow, reasonBadSignature},
		{"unknown kid", rawSign(t, key, jwa.ES256, with(hdr, "kid", "not-"+kid), good), testNow, reasonUnknownKid},
		{"missing kid", rawSign(t, key, jwa.ES256, without(hdr, "kid"), good), testNow, reasonMissingKid},
		{"empty kid", rawSign(t, key, jwa.ES256, with(hdr, "kid", ""), good), testNow, reasonMissingKid},
		{"other ES256 key, same kid", rawSign(t, impostor, jwa.ES256, hdr, good), testNow, reasonBadSignature},
		{"EdDSA token for ES256 kid", rawSign(t, edKey, jwa.EdDSA, with(hdr, "alg", "EdDSA"), good), testNow, reasonBadSignature},
		{"payload byte flipped", parts[0] + "." + string(flipped) + "." + parts[2], testNow, reasonBadSignature},
		{"signature stripped", parts[0] + "." + parts[1] + ".", testNow, reasonBadSignature},
		{"header alg lies (ES384)", rawSign(t, key, jwa.ES256, with(hdr, "alg", "ES384"), good), testNow, ""},
		{"b64 false", rawSign(t, key, jwa.ES256, with(hdr, "b64", false, "crit", []string{"b64"}), good), testNow, reasonBadHeader},
		{"crit", rawSign(t, key, jwa.ES256, with(hdr, "crit", []string{"exp"}), good), testNow, reasonBadHeader},
		{"expired at exp+skew", rawSign(t, key, jwa.ES256, hdr, good), time.Unix(exp, 0).Add(skew), reasonExpired},
		{"expired long ago", signed, testNow.Add(24 * time.Hour), reasonExpired},
		{"nbf beyond skew", rawSign(t, key, jwa.ES256, hdr, with(good, "nbf", nowFloor.Add(skew+time.Second).Unix())), testNow, reasonNotYetValid},
		{"iat beyond skew", rawSign(t, key, jwa.ES256, hdr, with(good, "iat", nowFloor.Add(skew+time.Second).Unix())), testNow, reasonIssuedInFuture},
		{"verified before issue", signed, testNow.Add(-skew - 2*time.Second), reasonIssuedInFuture}, // jwx checks iat before nbf
		{"wrong iss", rawSign(t, key, jwa.ES256, hdr, with(good, "iss", "https://evil.test")), testNow, reasonWrongIssuer},
		{"missing iss", rawSign(t, key, jwa.ES256, hdr, without(good, "iss")), testNow, reasonWrongIssuer},
		{"wrong aud", rawSign(t, key, jwa.ES256, hdr, with(good, "aud", "other-api")), testNow, reasonWrongAudience},
		{"wrong aud list", rawSign(t, key, jwa.ES256, hdr, with(good, "aud", []string{"a", "b"})), testNow, reasonWrongAudience},
		{"missing aud", rawSign(t, key, jwa.ES256, hdr, without(good, "aud")), testNow, reasonWrongAudience},
		{"missing sid", rawSign(t, key, jwa.ES256, hdr, without(good, "sid")), testNow, reasonMissingSid},
		{"empty sid", rawSign(t, key, jwa.ES256, hdr, with(good, "sid", "")), testNow, reasonMissingSid},
		{"numeric sid", rawSign(t, key, jwa.ES256, hdr, with(good, "sid", 7)), testNow, reasonMissingSid},
		{"missing sub", rawSign(t, key, jwa.ES256, hdr, without(good, "sub")), testNow, reasonMissingSub},
		{"missing exp", rawSign(t, key, jwa.ES256, hdr, without(good, "exp")), testNow, reasonMissingExp},
		{"exp zero", rawSign(t, key, jwa.ES256, hdr, with(good, "exp", 0)), testNow, reasonMissingExp},
		{"roles a string", rawSign(t, key, jwa.ES256, hdr, with(good, "roles", "admin")), testNow, reasonBadRoles},
		{"roles with a number", rawSign(t, key, jwa.ES256, hdr, with(good, "roles", []interface{}{"a", 1})), testNow, reasonBadRoles},
		{"roles null", rawSign(t, key, jwa.ES256, hdr, with(good, "roles", nil)), testNow, reasonBadRoles},
		{"email a number", rawSign(t, key, jwa.ES256, hdr, with(good, "email", 1)), testNow, reasonBadEmail},
		{"exp a string", rawSign(t, key, jwa.ES256, hdr, with(good, "exp", "soon")), testNow, reasonMalformedClaim},
		{"payload not an object", rawSignPayload(t, key, hdr, []byte(`["x"]`)), testNow, reasonMalformedClaim},
		{"empty", "", testNow, reasonMalformed},
		{"garbage", "a.b.c", testNow, reasonMalformed},
		{"two segments", parts[0] + "." + parts[1], testNow, reasonMalformed},
		{"four segments", signed + ".x", testNow, reasonMalformed},
		{"JSON serialization", jsonSerialization(t, signed), testNow, reasonMalformed},
		{"too long", signed + strings.Repeat("A", maxTokenLen), testNow, reasonTooLong},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, err := iss.Verify(tc.tok, tc.now)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("control token rejected: %v", err)
				}
				if c.Subject != "user-1" || c.SessionID != "session-1" {
					t.Fatalf("claims %+v", c)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", c)
			}
			wantInvalid(t, err, tc.reason, tc.tok)
			if !reflect.DeepEqual(c, Claims{}) {
				t.Fatalf("claims returned with an error: %+v", c)
			}
		})
	}
}

func rawSignPayload(t testing.TB, key jwk.Key, hdr map[string]interface{}, payload []byte) string {
	t.Helper()
	input := b64(mustJSON(t, hdr)) + "." + b64(payload)
	priv, _ := rawPrivate(key)
	signer, _ := jws.NewSigner(jwa.ES256)
	sig, err := signer.Sign([]byte(input), priv)
	if err != nil {
		t.Fatal(err)
	}
	return input + "." + b64(sig)
}

// jsonSerialization re-encodes a valid compact token in JWS flattened JSON
// serialization; the signature is still valid, but Verify accepts compact only.
func jsonSerialization(t testing.TB, compact string) string {
	t.Helper()
	p := strings.Split(compact, ".")
	return string(mustJSON(t, map[string]string{"protected": p[0], "payload": p[1], "signature": p[2]}))
}

func TestVerifyUsesGivenClock(t *testing.T) {
	iss := mustIssuer(t, mustKey(t, ""))
	// Issued far in the past relative to the wall clock: only the now
	// argument decides validity.
	past := time.Date(2001, 1, 1, 0, 0, 0, 0, time.UTC)
	tok, c, err := iss.Issue("u", "s", "", nil, past.Add(time.Hour), past)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := iss.Verify(tok, past.Add(time.Minute)); err != nil {
		t.Fatalf("rejected at issue time: %v", err)
	}
	if _, err := iss.Verify(tok, c.Expiry.Add(DefaultSkew-time.Second)); err != nil {
		t.Fatalf("rejected within skew: %v", err)
	}
	_, err = iss.Verify(tok, c.Expiry.Add(DefaultSkew))
	wantInvalid(t, err, reasonExpired, tok)
}

func TestSkewConfig(t *testing.T) {
	cfg := testConfig()
	cfg.Skew = time.Minute
	iss, err := NewIssuer(cfg, mustKey(t, ""))
	if err != nil {
		t.Fatal(err)
	}
	tok, c, _ := iss.Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
	if _, err := iss.Verify(tok, c.Expiry.Add(59*time.Second)); err != nil {
		t.Fatalf("rejected within 1m skew: %v", err)
	}
	_, err = iss.Verify(tok, c.Expiry.Add(time.Minute))
	wantInvalid(t, err, reasonExpired, tok)
}

func TestOtherIssuerConfigRejected(t *testing.T) {
	key := mustKey(t, "")
	a := mustIssuer(t, key)
	cfg := testConfig()
	cfg.Audience = "another-service"
	b, err := NewIssuer(cfg, key)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, _ := a.Issue("u", "s", "", nil, testNow.Add(time.Hour), testNow)
	_, err = b.Verify(tok, testNow)
	wantInvalid(t, err, reasonWrongAudience, tok)
}

func TestConcurrentUse(t *testing.T) {
	iss := mustIssuer(t, mustKey(t, AlgEdDSA), mustKey(t, AlgES256))
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				tok, _, err := iss.Issue("u", "s", "", []string{"r"}, testNow.Add(time.Hour), testNow)
				if err == nil {
					_, err = iss.Verify(tok, testNow)
				}
				if err != nil {
					errs <- err
					return
				}
				_ = iss.JWKS()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

func BenchmarkIssue(b *testing.B) {
	for _, alg := range []string{AlgES256, AlgEdDSA} {
		b.Run(alg, func(b *testing.B) {
			iss := mustIssuer(b, mustKey(b, alg))
			roles := []string{"admin", "picker"}
			exp := testNow.Add(time.Hour)
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := iss.Issue("user-42", "sess-7", "a@example.test", roles, exp, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerify is a full verification (no cache): signature and claims.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{AlgES256, AlgEdDSA} {
		b.Run(alg, func(b *testing.B) {
			cfg := testConfig()
			cfg.CacheSize = -1
			iss, err := NewIssuer(cfg, mustKey(b, alg))
			if err != nil {
				b.Fatal(err)
			}
			tok, _, err := iss.Issue("user-42", "sess-7", "a@example.test", []string{"admin", "picker"}, testNow.Add(time.Hour), testNow)
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := iss.Verify(tok, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkVerifyCached is a token verified before: a cache hit (hash,
// lookup, time claims).
func BenchmarkVerifyCached(b *testing.B) {
	iss := mustIssuer(b, mustKey(b, AlgES256))
	tok, _, err := iss.Issue("user-42", "sess-7", "a@example.test", []string{"admin", "picker"}, testNow.Add(time.Hour), testNow)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := iss.Verify(tok, testNow); err != nil {
			b.Fatal(err)
		}
	}
	if st := iss.CacheStats(); st.Misses != 1 {
		b.Fatalf("stats %+v: want one miss", st)
	}
}
