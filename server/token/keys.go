// Package token holds the signing keys of the service, issues and verifies
// its bearer JWTs, and publishes the public JSON Web Key Set.
//
// Only two signature algorithms are supported: ES256 (ECDSA P-256 with
// SHA-256, the default) and EdDSA (Ed25519). The verification algorithm is
// always taken from the key that the token's "kid" selects, never from the
// token's own header.
package token

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// Supported signature algorithm names, as accepted by GenerateKey.
const (
	AlgES256 = "ES256"
	AlgEdDSA = "EdDSA"
)

// maxKeyFileSize bounds what LoadKeyFile is willing to read.
const maxKeyFileSize = 64 << 10

// GenerateKey creates a new private signing key for alg, which is "ES256"
// (also the default when alg is empty) or "EdDSA" (Ed25519). The key's kid is
// its RFC 7638 thumbprint (base64url of the SHA-256), and its alg and use
// ("sig") are set.
func GenerateKey(alg string) (jwk.Key, error) {
	var raw interface{}
	switch alg {
	case "", AlgES256:
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("token: generate ES256 key: %w", err)
		}
		raw = k
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, fmt.Errorf("token: generate EdDSA key: %w", err)
		}
		raw = k
	default:
		return nil, fmt.Errorf("token: unsupported signing algorithm %q (want %s or %s)", alg, AlgES256, AlgEdDSA)
	}
	key, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, fmt.Errorf("token: wrap generated key: %w", err)
	}
	if _, err := normalizeKey(key); err != nil {
		return nil, err
	}
	return key, nil
}

// Ephemeral is GenerateKey under a name that says what it is for: a key that
// lives only as long as the process (development mode). Tokens signed with it
// stop verifying after a restart; the caller is expected to log a warning.
func Ephemeral(alg string) (jwk.Key, error) {
	return GenerateKey(alg)
}

// WriteKeyFile writes the private key as JWK JSON to path with mode 0600.
// It refuses to overwrite an existing file.
func WriteKeyFile(path string, key jwk.Key) error {
	if key == nil {
		return errors.New("token: write key file: nil key")
	}
	if !isPrivate(key) {
		return errors.New("token: write key file: key is public-only; a private signing key is required")
	}
	if _, err := algorithmOf(key); err != nil {
		return fmt.Errorf("token: write key file: %w", err)
	}
	data, err := json.MarshalIndent(key, "", "  ")
	if err != nil {
		return fmt.Errorf("token: write key file: encode JWK: %w", err)
	}
	data = append(data, '\n')

	// O_EXCL: never overwrite (or follow a symlink to) an existing file.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("token: write key file: %s already exists; refusing to overwrite it", path)
		}
		return fmt.Errorf("token: write key file: %w", err)
	}
	fail := func(err error) error {
		_ = f.Close()
		_ = os.Remove(path)
		return fmt.Errorf("token: write key file: %w", err)
	}
	// The umask can only remove bits, but be explicit about the result.
	if err := f.Chmod(0o600); err != nil {
		return fail(err)
	}
	if _, err := f.Write(data); err != nil {
		return fail(err)
	}
	if err := f.Sync(); err != nil {
		return fail(err)
	}
	if err := f.Close(); err != nil {
		_ = os.Remove(path)
		return fmt.Errorf("token: write key file: %w", err)
	}
	return nil
}

// LoadKeyFile reads a private signing key from path. The file holds either a
// single JWK as JSON or a PEM block: PKCS#8 "PRIVATE KEY" (EC P-256 or
// Ed25519) or SEC1 "EC PRIVATE KEY" (P-256). Missing kid (RFC 7638
// thumbprint) and alg are filled in. Keys that are public-only, encrypted, or
// not usable for ES256/EdDSA are rejected.
func LoadKeyFile(path string) (jwk.Key, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("token: load key file: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("token: load key file %s: %w", path, err)
	}
	if len(data) > maxKeyFileSize {
		return nil, fmt.Errorf("token: load key file %s: larger than %d bytes; not a key file", path, maxKeyFileSize)
	}
	key, err := parseKey(data)
	if err != nil {
		return nil, fmt.Errorf("token: load key file %s: %w", path, err)
	}
	return key, nil
}

func parseKey(data []byte) (jwk.Key, error) {
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 {
		return nil, errors.New("file is empty")
	}
	var key jwk.Key
	var err error
	if trimmed[0] == '{' {
		key, err = parseJWK(trimmed)
	} else {
		key, err = parsePEM(trimmed)
	}
	if err != nil {
		return nil, err
	}
	if _, err := algorithmOf(key); err != nil {
		return nil, err
	}
	if !isPrivate(key) {
		return nil, errors.New("key is public-only; a private signing key is required")
	}
	if _, err := normalizeKey(key); err != nil {
		return nil, err
	}
	if err := selfTest(key); err != nil {
		return nil, err
	}
	return key, nil
}

func parseJWK(data []byte) (jwk.Key, error) {
	var probe map[string]json.RawMessage
	if err := json.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("invalid JWK JSON: %w", err)
	}
	if _, ok := probe["keys"]; ok {
		return nil, errors.New(`file holds a JWK Set ("keys"); expected a single private JWK`)
	}
	if _, ok := probe["kty"]; !ok {
		return nil, errors.New(`invalid JWK: missing "kty"`)
	}
	key, err := jwk.ParseKey(data)
	if err != nil {
		return nil, fmt.Errorf("invalid JWK: %w", err)
	}
	return key, nil
}

func parsePEM(data []byte) (jwk.Key, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM private key found (expected JWK JSON or a PEM \"PRIVATE KEY\" block)")
		}
		var raw interface{}
		var err error
		switch block.Type {
		case "EC PARAMETERS":
			// openssl ecparam -genkey writes this before the key; skip it.
			continue
		case "PRIVATE KEY":
			raw, err = x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("invalid PKCS#8 private key: %w", err)
			}
		case "EC PRIVATE KEY":
			raw, err = x509.ParseECPrivateKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("invalid SEC1 EC private key: %w", err)
			}
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("encrypted PEM private keys are not supported; decrypt it first")
		case "PUBLIC KEY", "EC PUBLIC KEY", "CERTIFICATE":
			return nil, fmt.Errorf("PEM %q is public-only; a private signing key is required", block.Type)
		default:
			return nil, fmt.Errorf("unsupported PEM block %q (expected \"PRIVATE KEY\")", block.Type)
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted {
			return nil, errors.New("encrypted PEM private keys are not supported; decrypt it first")
		}
		switch k := raw.(type) {
		case *ecdsa.PrivateKey:
			if k.Curve != elliptic.P256() {
				return nil, fmt.Errorf("unsupported EC curve %s (only P-256 / ES256 is supported)", k.Curve.Params().Name)
			}
		case ed25519.PrivateKey:
		default:
			return nil, fmt.Errorf("unsupported private key type %T (only EC P-256 and Ed25519 are supported)", raw)
		}
		key, err := jwk.FromRaw(raw)
		if err != nil {
			return nil, fmt.Errorf("convert PEM key to JWK: %w", err)
		}
		return key, nil
	}
}

// isPrivate reports whether key holds private material of a supported kind.
func isPrivate(key jwk.Key) bool {
	switch key.(type) {
	case jwk.ECDSAPrivateKey, jwk.OKPPrivateKey:
		return true
	}
	return false
}

type curver interface {
	Crv() jwa.EllipticCurveAlgorithm
}

// algorithmOf returns the only signature algorithm this package allows for
// key, checking its type, curve, and any alg / use it already carries.
func algorithmOf(key jwk.Key) (jwa.SignatureAlgorithm, error) {
	var want jwa.SignatureAlgorithm
	switch kty := key.KeyType(); kty {
	case jwa.EC:
		c, ok := key.(curver)
		if !ok || c.Crv() != jwa.P256 {
			crv := "unknown"
			if ok {
				crv = c.Crv().String()
			}
			return "", fmt.Errorf("unsupported EC curve %s (only P-256 / ES256 is supported)", crv)
		}
		want = jwa.ES256
	case jwa.OKP:
		c, ok := key.(curver)
		if !ok || c.Crv() != jwa.Ed25519 {
			crv := "unknown"
			if ok {
				crv = c.Crv().String()
			}
			return "", fmt.Errorf("unsupported OKP curve %s (only Ed25519 / EdDSA is supported)", crv)
		}
		want = jwa.EdDSA
	default:
		return "", fmt.Errorf("unsupported key type %q (only EC P-256 and OKP Ed25519 are supported)", kty.String())
	}
	if a := key.Algorithm().String(); a != "" && a != want.String() {
		return "", fmt.Errorf("key declares alg %q but a %s key can only be used with %s", a, key.KeyType(), want)
	}
	if u := key.KeyUsage(); u != "" && u != jwk.ForSignature.String() {
		return "", fmt.Errorf("key declares use %q; a signing key needs use \"sig\"", u)
	}
	return want, nil
}

// normalizeKey checks key and fills in a missing kid (RFC 7638 thumbprint),
// alg and use. It returns the key's algorithm.
func normalizeKey(key jwk.Key) (jwa.SignatureAlgorithm, error) {
	alg, err := algorithmOf(key)
	if err != nil {
		return "", err
	}
	if key.KeyID() == "" {
		kid, err := thumbprint(key)
		if err != nil {
			return "", err
		}
		if err := key.Set(jwk.KeyIDKey, kid); err != nil {
			return "", fmt.Errorf("set kid: %w", err)
		}
	}
	if key.Algorithm().String() == "" {
		if err := key.Set(jwk.AlgorithmKey, alg); err != nil {
			return "", fmt.Errorf("set alg: %w", err)
		}
	}
	if key.KeyUsage() == "" {
		if err := key.Set(jwk.KeyUsageKey, jwk.ForSignature); err != nil {
			return "", fmt.Errorf("set use: %w", err)
		}
	}
	return alg, nil
}

// thumbprint is the RFC 7638 SHA-256 thumbprint of key's public part,
// base64url-encoded without padding.
func thumbprint(key jwk.Key) (string, error) {
	pub, err := key.PublicKey()
	if err != nil {
		return "", fmt.Errorf("public key: %w", err)
	}
	tp, err := pub.Thumbprint(crypto.SHA256)
	if err != nil {
		return "", fmt.Errorf("thumbprint: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(tp), nil
}

// rawPublic returns the raw public key (*ecdsa.PublicKey or
// ed25519.PublicKey) of a private or public JWK.
func rawPublic(key jwk.Key) (interface{}, error) {
	pub, err := key.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	var raw interface{}
	if err := pub.Raw(&raw); err != nil {
		return nil, fmt.Errorf("raw public key: %w", err)
	}
	return raw, nil
}

// rawPrivate returns the raw private key (*ecdsa.PrivateKey or
// ed25519.PrivateKey) of a private JWK.
func rawPrivate(key jwk.Key) (interface{}, error) {
	var raw interface{}
	if err := key.Raw(&raw); err != nil {
		return nil, fmt.Errorf("raw private key: %w", err)
	}
	switch raw.(type) {
	case *ecdsa.PrivateKey, ed25519.PrivateKey:
		return raw, nil
	}
	return nil, fmt.Errorf("unsupported private key type %T", raw)
}

// publicJWK builds a fresh public JWK holding only the key material plus
// kid, alg and use, so that no stray member of the source key (key_ops,
// x5c, private parameters...) can leak into the published set.
func publicJWK(key jwk.Key, alg jwa.SignatureAlgorithm) (jwk.Key, error) {
	raw, err := rawPublic(key)
	if err != nil {
		return nil, err
	}
	pub, err := jwk.FromRaw(raw)
	if err != nil {
		return nil, fmt.Errorf("public JWK: %w", err)
	}
	for _, kv := range []struct {
		k string
		v interface{}
	}{
		{jwk.KeyIDKey, key.KeyID()},
		{jwk.AlgorithmKey, alg},
		{jwk.KeyUsageKey, jwk.ForSignature},
	} {
		if err := pub.Set(kv.k, kv.v); err != nil {
			return nil, fmt.Errorf("public JWK: set %s: %w", kv.k, err)
		}
	}
	return pub, nil
}

// selfTest signs a fixed message with the private key and verifies it with
// the public key derived from the same JWK, which catches JWK files whose
// private and public members do not belong together.
func selfTest(key jwk.Key) error {
	alg, err := algorithmOf(key)
	if err != nil {
		return err
	}
	priv, err := rawPrivate(key)
	if err != nil {
		return err
	}
	pub, err := rawPublic(key)
	if err != nil {
		return err
	}
	msg := []byte("omsd signing key self-test")
	signer, err := jws.NewSigner(alg)
	if err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	sig, err := signer.Sign(msg, priv)
	if err != nil {
		return fmt.Errorf("self-test: sign: %w", err)
	}
	verifier, err := jws.NewVerifier(alg)
	if err != nil {
		return fmt.Errorf("self-test: %w", err)
	}
	if err := verifier.Verify(msg, sig, pub); err != nil {
		return errors.New("self-test failed: the key's private and public parts do not match")
	}
	return nil
}
