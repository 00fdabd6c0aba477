package e2e

import (
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/mail"
	"github.com/vero-oms/omsd/server/mail/mailtest"
)

// The recovery flow with OMS_SMTP_URL set: the code arrives through a real
// SMTP server (authenticated), not the outbox.
func TestRecoveryThroughSMTP(t *testing.T) {
	t.Parallel()
	smtp := mailtest.Start(t, "omsd", "smtp-secret-pass")
	e := start(t, "memory", func(c *cli.Config) {
		c.SMTPURL = smtp.URL()
		c.MailFrom = "OMS <no-reply@oms.example>"
	})
	expect(t, e.post(nil, "/api/auth/recovery/start", map[string]string{"email": makerEmail}), 200, "")
	m := smtp.WaitFor(t, makerEmail, "recovery code", 5*time.Second)
	if m.From != "no-reply@oms.example" {
		t.Fatalf("envelope sender %q", m.From)
	}
	code, ok := mail.ExtractCode(m.Data)
	if !ok {
		t.Fatalf("no code in %s", m.Data)
	}
	expect(t, e.post(nil, "/api/auth/recovery/verify", map[string]string{"code": code}), 200, "")
	expect(t, e.post(nil, "/api/auth/recovery/reset-password", map[string]string{"password": "smtp-delivered-pass-1"}), 200, "")
	smtp.WaitFor(t, makerEmail, "password was changed", 5*time.Second)
	if e.mailCount() != 0 {
		t.Fatal("with SMTP configured nothing may be written to the outbox")
	}
	e.login(nil, makerEmail, "smtp-delivered-pass-1")
}
