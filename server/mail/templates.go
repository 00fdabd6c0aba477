package mail

import (
	"bytes"
	htmltemplate "html/template"
	"strconv"
	"strings"
	texttemplate "text/template"
	"time"
)

// Product name used in subjects and bodies.
const productName = "Vero OMS"

// RecoverySubject is the subject of RecoveryCode mails.
const RecoverySubject = "Your " + productName + " recovery code"

// PasswordChangedSubject is the subject of PasswordChanged mails.
const PasswordChangedSubject = "Your " + productName + " password was changed"

type recoveryData struct {
	To      string
	Code    string
	Expires string // "15 minutes"
	Product string
}

type passwordChangedData struct {
	To      string
	When    string
	IP      string
	Product string
}

var recoveryText = texttemplate.Must(texttemplate.New("recovery.txt").Parse(
	`Hello,

Your {{.Product}} recovery code is:

    {{.Code}}

The code expires in {{.Expires}}. Enter it on the password recovery page to
choose a new password. Never share this code with anyone; {{.Product}} staff
will never ask you for it.

If you did not ask for a recovery code, you can safely ignore this mail: your
password has not been changed.

This mail was sent to {{.To}}.
`))

var recoveryHTML = htmltemplate.Must(htmltemplate.New("recovery.html").Parse(
	`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{{.Product}} recovery code</title></head>
<body style="font-family: sans-serif; line-height: 1.5;">
<p>Hello,</p>
<p>Your {{.Product}} recovery code is:</p>
<p style="font-size: 24px; font-weight: bold; letter-spacing: 4px;">{{.Code}}</p>
<p>The code expires in {{.Expires}}. Enter it on the password recovery page to choose a new password.
Never share this code with anyone; {{.Product}} staff will never ask you for it.</p>
<p>If you did not ask for a recovery code, you can safely ignore this mail: your password has not been changed.</p>
<p style="color: #666; font-size: 12px;">This mail was sent to {{.To}}.</p>
</body>
</html>
`))

var passwordChangedText = texttemplate.Must(texttemplate.New("password-changed.txt").Parse(
	`Hello,

The password of your {{.Product}} account was changed.

    When:    {{.When}}
    From IP: {{.IP}}

If this was you, no action is needed.

If you did NOT change your password, your account may be compromised:
reset your password immediately using "Forgot password" on the sign-in
page and contact your {{.Product}} administrator.

This mail was sent to {{.To}}.
`))

var passwordChangedHTML = htmltemplate.Must(htmltemplate.New("password-changed.html").Parse(
	`<!DOCTYPE html>
<html>
<head><meta charset="utf-8"><title>{{.Product}} password changed</title></head>
<body style="font-family: sans-serif; line-height: 1.5;">
<p>Hello,</p>
<p>The password of your {{.Product}} account was changed.</p>
<table>
<tr><td>When:</td><td>{{.When}}</td></tr>
<tr><td>From IP:</td><td>{{.IP}}</td></tr>
</table>
<p>If this was you, no action is needed.</p>
<p><strong>If you did not change your password</strong>, your account may be compromised:
reset your password immediately using &ldquo;Forgot password&rdquo; on the sign-in page
and contact your {{.Product}} administrator.</p>
<p style="color: #666; font-size: 12px;">This mail was sent to {{.To}}.</p>
</body>
</html>
`))

// RecoveryCode builds the mail carrying a password recovery code valid for
// ttl (rounded up to whole minutes, at least one).
func RecoveryCode(to, code string, ttl time.Duration) Message {
	d := recoveryData{To: to, Code: code, Expires: minutes(ttl), Product: productName}
	return Message{
		To:      to,
		Subject: RecoverySubject,
		Text:    renderText(recoveryText, d),
		HTML:    renderHTML(recoveryHTML, d),
	}
}

// PasswordChanged builds the notice sent after a password change performed
// at time at from address ip (empty ip renders as "unknown").
func PasswordChanged(to string, at time.Time, ip string) Message {
	if strings.TrimSpace(ip) == "" {
		ip = "unknown"
	}
	d := passwordChangedData{
		To:      to,
		When:    at.UTC().Format("Monday, 2 January 2006 15:04:05 MST"),
		IP:      ip,
		Product: productName,
	}
	return Message{
		To:      to,
		Subject: PasswordChangedSubject,
		Text:    renderText(passwordChangedText, d),
		HTML:    renderHTML(passwordChangedHTML, d),
	}
}

func minutes(ttl time.Duration) string {
	n := int((ttl + time.Minute - 1) / time.Minute)
	if n < 1 {
		n = 1
	}
	if n == 1 {
		return "1 minute"
	}
	return strconv.Itoa(n) + " minutes"
}

// The templates are fixed and their data are plain strings, so execution
// cannot fail; a panic here is a programming error caught by the tests.
func renderText(t *texttemplate.Template, data any) string {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		panic("mail: template " + t.Name() + ": " + err.Error())
	}
	return buf.String()
}

func renderHTML(t *htmltemplate.Template, data any) string {
	var buf bytes.Buffer
	if err := t.Execute(&buf, data); err != nil {
		panic("mail: template " + t.Name() + ": " + err.Error())
	}
	return buf.String()
}
