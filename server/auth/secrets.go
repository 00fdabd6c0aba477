package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
)

// SessionTokenPrefix marks session tokens so leaked ones are easy to find in
// code and logs (secret scanners key on it).
const SessionTokenPrefix = "oms_st_"

// randomString returns n random bytes, base64url without padding.
func randomString(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("auth: crypto/rand failed: " + err.Error()) // never happens on supported platforms
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

func newSessionToken() string   { return SessionTokenPrefix + randomString(32) } // 256 bits
func newSessionID() string      { return randomString(16) }
func newRecoveryCookie() string { return randomString(32) } // 256 bits, opaque

// newIdentityID returns a random (version 4) UUID.
func newIdentityID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("auth: crypto/rand failed: " + err.Error())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// newCode returns a uniformly random 6-digit code.
func newCode() string {
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("auth: crypto/rand failed: " + err.Error())
		}
		// Rejection sampling keeps the distribution uniform.
		v := binary.BigEndian.Uint64(b[:])
		const limit = (1<<64 - 1) / 1_000_000 * 1_000_000
		if v < limit {
			return fmt.Sprintf("%06d", v%1_000_000)
		}
	}
}

// hashToken is how tokens and cookies are keyed in the store: the store
// never sees the secret itself.
func hashToken(t string) string {
	sum := sha256.Sum256([]byte(t))
	return hex.EncodeToString(sum[:])
}

func (s *Service) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.secret)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

// emailKey names an address in the store and in rate-limit keys without
// revealing it.
func (s *Service) emailKey(email string) string { return hex.EncodeToString(s.mac("email", email)) }

// codeMAC binds a code to the address it was sent to.
func (s *Service) codeMAC(emailKey, code string) []byte {
	return s.mac("recovery-code", emailKey, code)
}

// NormalizeEmail is the canonical form identities are stored and looked up by.
func NormalizeEmail(e string) string { return strings.ToLower(strings.TrimSpace(e)) }
