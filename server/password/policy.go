package password

import (
	_ "embed"
	"fmt"
	"strings"
	"sync"
	"unicode/utf8"
)

// Default length limits, in Unicode code points.
const (
	DefaultMinLength = 8
	DefaultMaxLength = 256
)

// Policy is the strength policy for new passwords. A zero MinLength or
// MaxLength means the default (8 and 256). Lengths are counted in Unicode
// code points, not bytes.
type Policy struct {
	MinLength, MaxLength int
}

// DefaultPolicy is the policy with the default limits.
var DefaultPolicy = Policy{MinLength: DefaultMinLength, MaxLength: DefaultMaxLength}

// WeakPasswordError is returned by Policy.Check for a password that the
// policy rejects. Reason is a short sentence meant for the user; it never
// contains the password.
type WeakPasswordError struct {
	Reason string
}

func (e *WeakPasswordError) Error() string { return e.Reason }

// Reasons given by Policy.Check (the length ones are formatted with the limit).
const (
	reasonTooShort = "password must be at least %d characters"
	reasonTooLong  = "password must be at most %d characters"
	reasonEmail    = "password must not be your email address"
	reasonCommon   = "password is too common"
)

// Check returns nil if password is acceptable for the account with the given
// email, or a *WeakPasswordError saying why not: it is shorter than
// MinLength or longer than MaxLength, it equals the email address or the part
// of it before the '@' (ignoring case and surrounding spaces), or it is in the
// embedded list of common passwords (ignoring case).
func (p Policy) Check(password, email string) error {
	minLen, maxLen := p.MinLength, p.MaxLength
	if minLen <= 0 {
		minLen = DefaultMinLength
	}
	if maxLen <= 0 {
		maxLen = DefaultMaxLength
	}
	n := utf8.RuneCountInString(password)
	if n < minLen {
		return &WeakPasswordError{Reason: fmt.Sprintf(reasonTooShort, minLen)}
	}
	if n > maxLen {
		return &WeakPasswordError{Reason: fmt.Sprintf(reasonTooLong, maxLen)}
	}

	pw := strings.TrimSpace(password)
	if email = strings.TrimSpace(email); email != "" {
		if strings.EqualFold(pw, email) {
			return &WeakPasswordError{Reason: reasonEmail}
		}
		if at := strings.LastIndexByte(email, '@'); at > 0 {
			if local := strings.TrimSpace(email[:at]); local != "" && strings.EqualFold(pw, local) {
				return &WeakPasswordError{Reason: reasonEmail}
			}
		}
	}

	if isCommon(pw) {
		return &WeakPasswordError{Reason: reasonCommon}
	}
	return nil
}

// commonPasswordsText is the list of common passwords: one per line, lower
// case, lines starting with '#' are comments.
//
//go:embed common-passwords.txt
var commonPasswordsText string

var commonPasswords = sync.OnceValue(func() map[string]struct{} {
	set := make(map[string]struct{}, 10000)
	for line := range strings.Lines(commonPasswordsText) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		set[strings.ToLower(line)] = struct{}{}
	}
	return set
})

// isCommon reports whether password (ignoring case) is in the common list.
func isCommon(password string) bool {
	_, ok := commonPasswords()[strings.ToLower(password)]
	return ok
}
