package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strconv"
	"strings"
	"time"
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
func newDeviceID() string       { return randomString(16) } // 22 characters

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

// DeviceCookie is the signed cookie a successful login hands the client. It
// names a device (random id) and the account it signed in to, so later
// failures by strangers on that account do not throttle it.
type DeviceCookie struct {
	Value string
	TTL   time.Duration
}

const deviceCookieVersion = "d1"

// newDeviceCookie signs {device id, expiry} for the account emailKey.
func (s *Service) newDeviceCookie(deviceID, emailKey string, now time.Time) DeviceCookie {
	exp := now.Add(s.cfg.DeviceLifespan).Unix()
	payload := deviceID + "." + strconv.FormatInt(exp, 10)
	mac := base64.RawURLEncoding.EncodeToString(s.mac("device", emailKey, payload))
	return DeviceCookie{Value: deviceCookieVersion + "." + payload + "." + mac, TTL: s.cfg.DeviceLifespan}
}

// checkDevice returns the device id of a cookie that is well formed,
// unexpired and signed for emailKey.
func (s *Service) checkDevice(cookie, emailKey string, now time.Time) (string, bool) {
	parts := strings.Split(cookie, ".")
	if len(parts) != 4 || parts[0] != deviceCookieVersion || len(parts[1]) != 22 {
		return "", false
	}
	exp, err := strconv.ParseInt(parts[2], 10, 64)
	if err != nil || now.Unix() >= exp {
		return "", false
	}
	// Strict: one text per signature (the last character's spare bits must
	// be zero), so a cookie cannot be re-spelled and still verify.
	got, err := base64.RawURLEncoding.Strict().DecodeString(parts[3])
	if err != nil || !hmac.Equal(got, s.mac("device", emailKey, parts[1]+"."+parts[2])) {
		return "", false
	}
	return parts[1], true
}
