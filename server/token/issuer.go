package token

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// Defaults for Config.
const (
	DefaultTTL  = 15 * time.Minute
	DefaultSkew = 10 * time.Second
)

// maxTokenLen bounds the size of a token Verify is willing to look at.
const maxTokenLen = 8 << 10

// Private claim names.
const (
	claimSessionID = "sid"
	claimEmail     = "email"
	claimRoles     = "roles"
)

// ErrInvalidToken is returned, wrapped with a short reason, by every
// verification failure. Test for it with errors.Is. The reason never
// contains the token or any value taken from it.
var ErrInvalidToken = errors.New("invalid token")

// Reasons attached to ErrInvalidToken.
const (
	reasonMalformed      = "malformed token"
	reasonTooLong        = "token too long"
	reasonMissingKid     = "missing kid"
	reasonUnknownKid     = "unknown kid"
	reasonBadHeader      = "unsupported header parameter"
	reasonBadSignature   = "bad signature"
	reasonMalformedClaim = "malformed claims"
	reasonExpired        = "token expired"
	reasonNotYetValid    = "token not yet valid"
	reasonIssuedInFuture = "token issued in the future"
	reasonWrongIssuer    = "wrong issuer"
	reasonWrongAudience  = "wrong audience"
	reasonMissingSub     = "missing sub"
	reasonMissingSid     = "missing sid"
	reasonMissingExp     = "missing exp"
	reasonBadRoles       = "roles is not an array of strings"
	reasonBadEmail       = "email is not a string"
)

func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, reason)
}

// Errors returned by the key provider; mapped to reasons by Verify.
var (
	errMissingKid = errors.New(reasonMissingKid)
	errUnknownKid = errors.New(reasonUnknownKid)
	errBadHeader  = errors.New(reasonBadHeader)
)

// Config configures an Issuer.
type Config struct {
	// Issuer is the "iss" claim written and required. Required.
	Issuer string
	// Audience is the "aud" claim (a single string) written and required.
	// Required.
	Audience string
	// TTL is the lifetime of an issued token (capped by the session's
	// expiry). Zero means DefaultTTL (15m).
	TTL time.Duration
	// Skew is the clock skew tolerated when checking exp, nbf and iat.
	// Zero means DefaultSkew (10s).
	Skew time.Duration
	// CacheSize bounds the verified-token cache: a token verified once is
	// served from it (signature check skipped, time claims checked again)
	// until it expires or is evicted, least recently used first. Zero means
	// DefaultCacheSize; negative disables the cache.
	CacheSize int
}

// Claims are the claims of an issued or verified token.
type Claims struct {
	Subject   string
	SessionID string
	TokenID   string
	Email     string
	Roles     []string
	IssuedAt  time.Time
	NotBefore time.Time
	Expiry    time.Time
}

type verifyKey struct {
	alg jwa.SignatureAlgorithm
	pub interface{} // *ecdsa.PublicKey or ed25519.PublicKey
}

// Issuer issues and verifies the service's bearer JWTs. It is immutable
// after NewIssuer and safe for concurrent use.
type Issuer struct {
	cfg Config

	signKid string
	signAlg jwa.SignatureAlgorithm
	signKey interface{} // raw private key

	keys      map[string]verifyKey // kid -> public key with its pinned alg
	verifyOpt jws.VerifyOption
	jwks      []byte

	cache     *verifiedCache // nil when disabled
	cacheSize int
}

// NewIssuer returns an Issuer that signs with signing and verifies tokens
// signed by signing or by any of previous (keys being rotated out, private or
// public). All of them are published by JWKS. Keys missing kid or alg get
// them filled in on a copy; the caller's keys are not modified.
func NewIssuer(cfg Config, signing jwk.Key, previous ...jwk.Key) (*Issuer, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if signing == nil {
		return nil, errors.New("token: signing key is required")
	}
	if !isPrivate(signing) {
		return nil, errors.New("token: signing key is public-only; a private key is required")
	}
	iss := &Issuer{cfg: cfg, keys: make(map[string]verifyKey, 1+len(previous))}
	set := jwk.NewSet()
	for i, k := range append([]jwk.Key{signing}, previous...) {
		what := "signing key"
		if i > 0 {
			what = fmt.Sprintf("previous key #%d", i)
		}
		if err := iss.addKey(set, k, i == 0); err != nil {
			return nil, fmt.Errorf("token: %s: %w", what, err)
		}
	}
	if iss.jwks, err = json.Marshal(set); err != nil {
		return nil, fmt.Errorf("token: encode JWKS: %w", err)
	}
	switch {
	case cfg.CacheSize == 0:
		iss.cacheSize = DefaultCacheSize
	case cfg.CacheSize > 0:
		iss.cacheSize = cfg.CacheSize
	}
	if iss.cacheSize > 0 {
		if iss.cache, err = newVerifiedCache(iss.cacheSize); err != nil {
			return nil, fmt.Errorf("token: verified-token cache: %w", err)
		}
	}
	iss.verifyOpt = jws.WithKeyProvider(jws.KeyProviderFunc(iss.fetchKeys))
	return iss, nil
}

// withDefaults checks cfg and fills in the default TTL and skew.
func (cfg Config) withDefaults() (Config, error) {
	if cfg.Issuer == "" {
		return cfg, errors.New("token: Config.Issuer is required")
	}
	if cfg.Audience == "" {
		return cfg, errors.New("token: Config.Audience is required")
	}
	switch {
	case cfg.TTL < 0:
		return cfg, errors.New("token: Config.TTL must not be negative")
	case cfg.TTL == 0:
		cfg.TTL = DefaultTTL
	case cfg.TTL < time.Second:
		return cfg, errors.New("token: Config.TTL must be at least 1s")
	}
	switch {
	case cfg.Skew < 0:
		return cfg, errors.New("token: Config.Skew must not be negative")
	case cfg.Skew == 0:
		cfg.Skew = DefaultSkew
	}
	return cfg, nil
}

// addKey checks one key (a copy gets its kid and alg filled in), adds its
// public half to the verifying keys and to the JWKS set, and makes it the
// signing key when signs.
func (iss *Issuer) addKey(set jwk.Set, k jwk.Key, signs bool) error {
	if k == nil {
		return errors.New("is nil")
	}
	k, err := k.Clone()
	if err != nil {
		return err
	}
	alg, err := normalizeKey(k)
	if err != nil {
		return err
	}
	if isPrivate(k) {
		if err := selfTest(k); err != nil {
			return err
		}
	}
	kid := k.KeyID()
	if _, dup := iss.keys[kid]; dup {
		return fmt.Errorf("duplicate kid %q", kid)
	}
	pub, err := publicJWK(k, alg)
	if err != nil {
		return err
	}
	rawPub, err := rawPublic(pub)
	if err != nil {
		return err
	}
	iss.keys[kid] = verifyKey{alg: alg, pub: rawPub}
	if err := set.AddKey(pub); err != nil {
		return fmt.Errorf("add to JWKS: %w", err)
	}
	if signs {
		priv, err := rawPrivate(k)
		if err != nil {
			return err
		}
		iss.signKid, iss.signAlg, iss.signKey = kid, alg, priv
	}
	return nil
}

// fetchKeys selects the one key named by the token's kid and hands it to
// jws.Verify with the algorithm pinned to that key. The header's alg is
// deliberately ignored.
func (iss *Issuer) fetchKeys(_ context.Context, sink jws.KeySink, sig *jws.Signature, _ *jws.Message) error {
	h := sig.ProtectedHeaders()
	// We never issue these; b64=false and crit change how the message is
	// processed, so refuse them outright.
	if _, ok := h.Get("b64"); ok {
		return errBadHeader
	}
	if _, ok := h.Get(jws.CriticalKey); ok {
		return errBadHeader
	}
	kid := h.KeyID()
	if kid == "" {
		return errMissingKid
	}
	k, ok := iss.keys[kid]
	if !ok {
		return errUnknownKid
	}
	sink.Key(k.alg, k.pub)
	return nil
}

// SigningKeyID returns the kid of the key new tokens are signed with.
func (iss *Issuer) SigningKeyID() string { return iss.signKid }

// JWKS returns the public JSON Web Key Set, {"keys":[...]}, holding the
// signing key and any previous keys (public parts with kid, alg and use).
func (iss *Issuer) JWKS() []byte {
	return append([]byte(nil), iss.jwks...)
}

// Issue signs a token for subject in session sessionID. Its expiry is
// now+TTL, or sessionExpiresAt if that is earlier. Times are truncated to
// whole seconds; the returned Claims are exactly what the token holds.
func (iss *Issuer) Issue(subject, sessionID, email string, roles []string, sessionExpiresAt, now time.Time) (string, Claims, error) {
	if subject == "" {
		return "", Claims{}, errors.New("token: issue: empty subject")
	}
	if sessionID == "" {
		return "", Claims{}, errors.New("token: issue: empty session ID")
	}
	if now.IsZero() {
		return "", Claims{}, errors.New("token: issue: zero time")
	}
	iat := now.Truncate(time.Second).UTC()
	exp := now.Add(iss.cfg.TTL)
	if sessionExpiresAt.Before(exp) {
		exp = sessionExpiresAt
	}
	// Truncating rounds down, so exp never passes the session's expiry.
	exp = exp.Truncate(time.Second).UTC()
	if !exp.After(iat) {
		return "", Claims{}, errors.New("token: issue: session expires too soon (or has expired)")
	}

	var jti [16]byte
	if _, err := rand.Read(jti[:]); err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: random jti: %w", err)
	}
	c := Claims{
		Subject:   subject,
		SessionID: sessionID,
		TokenID:   base64.RawURLEncoding.EncodeToString(jti[:]),
		Email:     email,
		Roles:     append(make([]string, 0, len(roles)), roles...),
		IssuedAt:  iat,
		NotBefore: iat,
		Expiry:    exp,
	}

	t := jwt.New()
	t.Options().Enable(jwt.FlattenAudience) // "aud": "x", not ["x"]
	for _, kv := range []struct {
		k string
		v interface{}
	}{
		{jwt.IssuerKey, iss.cfg.Issuer},
		{jwt.AudienceKey, iss.cfg.Audience},
		{jwt.SubjectKey, c.Subject},
		{claimSessionID, c.SessionID},
		{jwt.JwtIDKey, c.TokenID},
		{jwt.IssuedAtKey, c.IssuedAt},
		{jwt.NotBeforeKey, c.NotBefore},
		{jwt.ExpirationKey, c.Expiry},
		{claimEmail, c.Email},
		{claimRoles, c.Roles},
	} {
		if err := t.Set(kv.k, kv.v); err != nil {
			return "", Claims{}, fmt.Errorf("token: issue: set %s: %w", kv.k, err)
		}
	}

	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, iss.signKid); err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: set kid: %w", err)
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: set typ: %w", err)
	}
	signed, err := jwt.Sign(t, jwt.WithKey(iss.signAlg, iss.signKey, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", Claims{}, fmt.Errorf("token: issue: sign: %w", err)
	}
	return string(signed), c, nil
}

// Verify checks token as of now and returns its claims. The signature is
// checked with the key named by the token's kid, using that key's algorithm;
// then exp and nbf (and iat) with the configured skew, iss, aud, and the
// presence of sub, sid and exp. Every failure is ErrInvalidToken wrapped
// with a short reason.
//
// A token that verified before is served from the verified-token cache
// (see Config.CacheSize): the signature check is skipped, but iat, exp and
// nbf are checked against now again, and only while this Issuer still has
// the key that verified it. Whatever the caller checks beyond the token
// (the session) is not cached.
func (iss *Issuer) Verify(token string, now time.Time) (Claims, error) {
	if len(token) > maxTokenLen {
		return Claims{}, invalid(reasonTooLong)
	}
	// Compact serialization only: header.payload.signature.
	if strings.Count(token, ".") != 2 {
		return Claims{}, invalid(reasonMalformed)
	}
	if iss.cache == nil {
		c, _, err := iss.verify(token, now)
		return c, err
	}
	key := hashToken(token)
	if c, err, ok := iss.fromCache(key, now); ok {
		return c, err
	}
	c, kid, err := iss.verify(token, now)
	if err != nil {
		return Claims{}, err
	}
	e := cached{kid: kid, claims: c}
	e.claims.Roles = append([]string(nil), c.Roles...)
	if c.Roles != nil && e.claims.Roles == nil {
		e.claims.Roles = []string{}
	}
	iss.cache.add(key, e)
	return c, nil
}

// verify is the full check: signature, then claims. It also returns the kid
// of the key that verified the signature.
func (iss *Issuer) verify(token string, now time.Time) (Claims, string, error) {
	var msg jws.Message
	payload, err := jws.Verify([]byte(token), jws.WithCompact(), iss.verifyOpt, jws.WithMessage(&msg))
	if err != nil {
		return Claims{}, "", signatureError(err)
	}
	// Decode the (now authenticated) claims directly: jwt.Parse would
	// guess the payload's format and verify again.
	t := jwt.New()
	if err := json.Unmarshal(payload, t); err != nil {
		return Claims{}, "", invalid(reasonMalformedClaim)
	}
	if err := jwt.Validate(t,
		jwt.WithClock(jwt.ClockFunc(func() time.Time { return now })),
		jwt.WithAcceptableSkew(iss.cfg.Skew),
		jwt.WithIssuer(iss.cfg.Issuer),
		jwt.WithAudience(iss.cfg.Audience),
	); err != nil {
		return Claims{}, "", claimsError(err)
	}
	c, err := claimsOf(t)
	if err != nil {
		return Claims{}, "", err
	}
	kid := ""
	if sigs := msg.Signatures(); len(sigs) == 1 {
		kid = sigs[0].ProtectedHeaders().KeyID()
	}
	return c, kid, nil
}

// signatureError names why a signature was refused.
func signatureError(err error) error {
	switch {
	case errors.Is(err, errMissingKid):
		return invalid(reasonMissingKid)
	case errors.Is(err, errUnknownKid):
		return invalid(reasonUnknownKid)
	case errors.Is(err, errBadHeader):
		return invalid(reasonBadHeader)
	case jws.IsVerificationError(err):
		return invalid(reasonBadSignature)
	}
	return invalid(reasonMalformed)
}

// claimsError names why the standard claims were refused.
func claimsError(err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired()):
		return invalid(reasonExpired)
	case errors.Is(err, jwt.ErrTokenNotYetValid()):
		return invalid(reasonNotYetValid)
	case errors.Is(err, jwt.ErrInvalidIssuedAt()):
		return invalid(reasonIssuedInFuture)
	case errors.Is(err, jwt.ErrInvalidIssuer()):
		return invalid(reasonWrongIssuer)
	case errors.Is(err, jwt.ErrInvalidAudience()):
		return invalid(reasonWrongAudience)
	}
	return invalid(reasonMalformedClaim)
}

// claimsOf reads the claims omsd issues: sub, exp and sid are required,
// email and roles typed when present.
func claimsOf(t jwt.Token) (Claims, error) {
	c := Claims{
		Subject:   t.Subject(),
		TokenID:   t.JwtID(),
		IssuedAt:  utcOrZero(t.IssuedAt()),
		NotBefore: utcOrZero(t.NotBefore()),
		Expiry:    utcOrZero(t.Expiration()),
	}
	if c.Subject == "" {
		return Claims{}, invalid(reasonMissingSub)
	}
	// jwx skips the exp check when exp is absent or 0, so insist on it here.
	if _, ok := t.Get(jwt.ExpirationKey); !ok || c.Expiry.Unix() <= 0 {
		return Claims{}, invalid(reasonMissingExp)
	}
	if v, ok := t.Get(claimSessionID); ok {
		c.SessionID, _ = v.(string)
	}
	if c.SessionID == "" {
		return Claims{}, invalid(reasonMissingSid)
	}
	if v, ok := t.Get(claimEmail); ok {
		s, isString := v.(string)
		if !isString {
			return Claims{}, invalid(reasonBadEmail)
		}
		c.Email = s
	}
	if v, ok := t.Get(claimRoles); ok {
		list, isList := v.([]interface{})
		if !isList {
			return Claims{}, invalid(reasonBadRoles)
		}
		c.Roles = make([]string, 0, len(list))
		for _, r := range list {
			s, isString := r.(string)
			if !isString {
				return Claims{}, invalid(reasonBadRoles)
			}
			c.Roles = append(c.Roles, s)
		}
	}
	return c, nil
}

func utcOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.UTC()
}
