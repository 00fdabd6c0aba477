package password

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestPolicyCheck(t *testing.T) {
	const email = "Jane.Doe@Example.com"
	cases := []struct {
		name     string
		policy   Policy
		password string
		email    string
		reason   string // "" means accepted
	}{
		{"good", DefaultPolicy, "violet-tractor-91", email, ""},
		{"empty", DefaultPolicy, "", email, "password must be at least 8 characters"},
		{"7 chars", DefaultPolicy, "xk2#pq9", email, "password must be at least 8 characters"},
		{"8 chars", DefaultPolicy, "xk2#pq9z", email, ""},
		// 7 code points, 14+ bytes: too short although len() >= 8.
		{"unicode 7 code points", DefaultPolicy, "ñßøæ€漢字", email, "password must be at least 8 characters"},
		{"unicode 8 code points", DefaultPolicy, "ñßøæ€漢字🔑", email, ""},
		{"256 code points", DefaultPolicy, strings.Repeat("ab", 128), email, ""},
		{"257 code points", DefaultPolicy, strings.Repeat("ab", 128) + "c", email, "password must be at most 256 characters"},
		// 256 code points but 1024 bytes: accepted.
		{"256 four-byte code points", DefaultPolicy, strings.Repeat("🔑", 256), email, ""},
		{"custom min", Policy{MinLength: 12, MaxLength: 64}, "xk2#pq9zab1", email, "password must be at least 12 characters"},
		{"custom max", Policy{MinLength: 12, MaxLength: 16}, "xk2#pq9zab1.xk2#p", email, "password must be at most 16 characters"},
		{"zero policy uses defaults (min)", Policy{}, "xk2#pq9", email, "password must be at least 8 characters"},
		{"zero policy uses defaults (max)", Policy{}, strings.Repeat("x", 257), email, "password must be at most 256 characters"},
		{"email", DefaultPolicy, "Jane.Doe@Example.com", email, "password must not be your email address"},
		{"email other case", DefaultPolicy, "jane.doe@example.COM", email, "password must not be your email address"},
		{"email with spaces", DefaultPolicy, "  jane.doe@example.com ", " " + email + " ", "password must not be your email address"},
		{"local part", DefaultPolicy, "jane.doe", email, "password must not be your email address"},
		{"local part other case", DefaultPolicy, "JANE.DOE", email, "password must not be your email address"},
		{"local part with spaces", DefaultPolicy, " Jane.Doe\t", email, "password must not be your email address"},
		{"contains local part is ok", DefaultPolicy, "jane.doe-rides-bikes", email, ""},
		{"domain is not the local part", DefaultPolicy, "example.com", email, ""},
		{"no email", DefaultPolicy, "xk2#pq9zab1", "", ""},
		{"email without @", DefaultPolicy, "janedoe99", "janedoe99", "password must not be your email address"},
		{"common", DefaultPolicy, "password", email, "password is too common"},
		{"common upper case", DefaultPolicy, "PASSWORD", email, "password is too common"},
		{"common mixed case", DefaultPolicy, "IloveYou", email, "password is too common"},
		{"common with spaces", DefaultPolicy, " qwertyuiop ", email, "password is too common"},
		{"common digits", DefaultPolicy, "12345678", email, "password is too common"},
		{"common from list end", DefaultPolicy, "hugohugo", email, "password is too common"},
		{"common but short", DefaultPolicy, "qwerty", email, "password must be at least 8 characters"},
		{"common with min 6", Policy{MinLength: 6}, "Qwerty", email, "password is too common"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.policy.Check(tc.password, tc.email)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tc.password, err)
				}
				return
			}
			var weak *WeakPasswordError
			if !errors.As(err, &weak) {
				t.Fatalf("Check(%q) = %v (%T), want *WeakPasswordError", tc.password, err, err)
			}
			if weak.Reason != tc.reason || err.Error() != tc.reason {
				t.Fatalf("Check(%q): reason %q, Error() %q; want %q", tc.password, weak.Reason, err.Error(), tc.reason)
			}
			// The reason is a fixed sentence; it must not echo the password
			// (the word "password" itself is part of every reason).
			if pw := strings.TrimSpace(tc.password); len(pw) >= 3 && !strings.EqualFold(pw, "password") && strings.Contains(strings.ToLower(weak.Reason), strings.ToLower(pw)) {
				t.Fatalf("reason %q contains the password", weak.Reason)
			}
		})
	}
}

func TestCommonListLoaded(t *testing.T) {
	set := commonPasswords()
	if n := len(set); n < 9000 || n > 20000 {
		t.Fatalf("common list has %d entries, want about 10000", n)
	}
	for _, pw := range []string{"password", "123456", "12345678", "qwerty", "iloveyou", "trustno1", "letmein", "sunshine", "qwerty123", "password1", "1q2w3e4r"} {
		if _, ok := set[pw]; !ok {
			t.Errorf("%q missing from the common list", pw)
		}
	}
	for pw := range set {
		if pw == "" || strings.HasPrefix(pw, "#") || pw != strings.ToLower(pw) || pw != strings.TrimSpace(pw) || !utf8.ValidString(pw) {
			t.Errorf("bad entry %q in the common list", pw)
		}
	}
	if isCommon("violet-tractor-91") {
		t.Error("isCommon reports a random password as common")
	}
	// The header line names the source and must not become an entry.
	if !strings.HasPrefix(commonPasswordsText, "# Source:") {
		t.Error("common-passwords.txt lacks its source header")
	}
}
