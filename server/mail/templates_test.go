package mail

import (
	"strings"
	"testing"
	"time"
)

func TestRecoveryCodeTemplate(t *testing.T) {
	m := RecoveryCode("alice@example.com", "654321", 15*time.Minute)
	if m.To != "alice@example.com" || m.Subject != "Your Vero OMS recovery code" {
		t.Errorf("To/Subject = %q / %q", m.To, m.Subject)
	}
	for name, body := range map[string]string{"text": m.Text, "html": m.HTML} {
		for _, want := range []string{"654321", "expires in 15 minutes", "did not ask"} {
			if !strings.Contains(body, want) {
				t.Errorf("%s body lacks %q:\n%s", name, want, body)
			}
		}
	}
	if !strings.HasPrefix(m.HTML, "<!DOCTYPE html>") {
		t.Errorf("HTML does not look like HTML:\n%s", m.HTML)
	}

	for ttl, want := range map[time.Duration]string{
		30 * time.Second: "expires in 1 minute.",
		time.Minute:      "expires in 1 minute.",
		90 * time.Second: "expires in 2 minutes.",
		0:                "expires in 1 minute.",
		time.Hour:        "expires in 60 minutes.",
	} {
		if got := RecoveryCode("a@example.com", "123456", ttl).Text; !strings.Contains(got, want) {
			t.Errorf("ttl %v: text lacks %q", ttl, want)
		}
	}
}

func TestPasswordChangedTemplate(t *testing.T) {
	at := time.Date(2026, 3, 4, 15, 6, 7, 0, time.FixedZone("CET", 3600))
	m := PasswordChanged("bob@example.com", at, "198.51.100.23")
	if m.To != "bob@example.com" || m.Subject != PasswordChangedSubject {
		t.Errorf("To/Subject = %q / %q", m.To, m.Subject)
	}
	for name, body := range map[string]string{"text": m.Text, "html": m.HTML} {
		for _, want := range []string{"password", "was changed", "4 March 2026 14:06:07 UTC", "198.51.100.23", "did not change your password", "Forgot password"} {
			if !strings.Contains(strings.ToLower(body), strings.ToLower(want)) {
				t.Errorf("%s body lacks %q:\n%s", name, want, body)
			}
		}
	}
	if got := PasswordChanged("bob@example.com", at, " ").Text; !strings.Contains(got, "From IP: unknown") {
		t.Errorf("empty ip not rendered as unknown:\n%s", got)
	}
}

func TestTemplatesEscapeHTML(t *testing.T) {
	to := `"Eve <script>alert(1)</script>" <eve@example.com>`
	m := RecoveryCode(to, "112233", time.Minute)
	if strings.Contains(m.HTML, "<script>") || strings.Contains(m.HTML, "<eve@") {
		t.Errorf("recipient not escaped in HTML:\n%s", m.HTML)
	}
	if !strings.Contains(m.HTML, "&lt;script&gt;alert(1)&lt;/script&gt;") || !strings.Contains(m.HTML, "&lt;eve@example.com&gt;") {
		t.Errorf("escaped recipient missing from HTML:\n%s", m.HTML)
	}
	// The text part is plain text: no HTML entities.
	if !strings.Contains(m.Text, to) {
		t.Errorf("text part altered the recipient:\n%s", m.Text)
	}

	ip := `<img src=x onerror="alert(1)">`
	p := PasswordChanged("bob@example.com", time.Now(), ip)
	if strings.Contains(p.HTML, "<img") {
		t.Errorf("ip not escaped in HTML:\n%s", p.HTML)
	}
	if !strings.Contains(p.HTML, "&lt;img src=x onerror=&#34;alert(1)&#34;&gt;") {
		t.Errorf("escaped ip missing:\n%s", p.HTML)
	}
	if !strings.Contains(p.Text, ip) {
		t.Errorf("text part altered the ip:\n%s", p.Text)
	}

	// Code is escaped as well (it is data, not markup).
	if h := RecoveryCode("a@example.com", "<b>1</b>", time.Minute).HTML; strings.Contains(h, "<b>1</b>") {
		t.Errorf("code not escaped:\n%s", h)
	}
}
