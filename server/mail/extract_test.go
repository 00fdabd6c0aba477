package mail

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

func crlf(s string) []byte { return []byte(strings.ReplaceAll(s, "\n", "\r\n")) }

func TestExtractCode(t *testing.T) {
	b64 := base64.StdEncoding.EncodeToString([]byte("Your code is 314159.\nIt expires in 5 minutes.\n"))
	b64 = b64[:20] + "\n" + b64[20:] // line-wrapped like real mail

	cases := []struct {
		name string
		raw  []byte
		code string
		ok   bool
	}{
		{
			name: "quoted-printable soft break inside the code",
			raw: crlf(`From: a@example.com
To: b@example.com
Subject: x
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="BB"

--BB
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

Your code is: 27=
1828 =E2=80=94 it expires in 10 minutes.
--BB
Content-Type: text/html; charset=UTF-8
Content-Transfer-Encoding: quoted-printable

<p>999999</p>
--BB--
`),
			code: "271828", ok: true,
		},
		{
			name: "base64 text part after html part",
			raw: crlf(`From: a@example.com
Subject: x
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary=BB

--BB
Content-Type: text/html; charset=UTF-8

<p>code 999999</p>
--BB
Content-Type: text/plain; charset=UTF-8
Content-Transfer-Encoding: base64

` + b64 + `
--BB--
`),
			code: "314159", ok: true,
		},
		{
			name: "nested mixed/alternative",
			raw: crlf(`Subject: x
Content-Type: multipart/mixed; boundary=OUT

--OUT
Content-Type: multipart/alternative; boundary=IN

--IN
Content-Type: text/plain

code: 161803
--IN--
--OUT--
`),
			code: "161803", ok: true,
		},
		{
			name: "single part, no MIME headers",
			raw:  crlf("Subject: x\n\nYour code: 577215\n"),
			code: "577215", ok: true,
		},
		{
			name: "code only in html",
			raw: crlf(`Content-Type: multipart/alternative; boundary=BB

--BB
Content-Type: text/html

<p>123456</p>
--BB--
`),
		},
		{name: "no six-digit number", raw: crlf("Subject: x\n\nExpires in 15 minutes, code 1234567 or 12345.\n")},
		{name: "not a message", raw: []byte("\x00\x01garbage")},
		{name: "empty", raw: nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			code, ok := ExtractCode(c.raw)
			if code != c.code || ok != c.ok {
				t.Errorf("ExtractCode = %q, %v; want %q, %v", code, ok, c.code, c.ok)
			}
		})
	}
}

func TestExtractCodeFromRenderedMail(t *testing.T) {
	// The HTML part of a rendered mail is quoted-printable with the code
	// split by a soft line break (see the letter-spacing <p>); the text
	// part must still yield the code.
	from, err := parseFrom(testFrom)
	if err != nil {
		t.Fatal(err)
	}
	msg, err := buildMsg(from, RecoveryCode("x@example.com", "000042", time.Minute), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	var sb strings.Builder
	if _, err := msg.WriteTo(&sb); err != nil {
		t.Fatal(err)
	}
	if code, ok := ExtractCode([]byte(sb.String())); !ok || code != "000042" {
		t.Errorf("ExtractCode = %q, %v", code, ok)
	}
}
