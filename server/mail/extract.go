package mail

import (
	"bytes"
	"encoding/base64"
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	netmail "net/mail"
	"net/textproto"
	"regexp"
	"strings"
)

// codeRE matches a standalone 6-digit number.
var codeRE = regexp.MustCompile(`(?:^|[^0-9])([0-9]{6})(?:[^0-9]|$)`)

// maxMIMEDepth bounds multipart nesting when walking a message.
const maxMIMEDepth = 8

// ExtractCode returns the 6-digit recovery code from a raw RFC 5322 message
// (as produced by RecoveryCode and delivered by SMTP or Outbox). It reads
// the first text/plain part, decoding quoted-printable and base64 transfer
// encodings, and returns the first standalone 6-digit number in it.
func ExtractCode(raw []byte) (string, bool) {
	msg, err := netmail.ReadMessage(bytes.NewReader(raw))
	if err != nil {
		return "", false
	}
	text, ok := findTextPlain(textproto.MIMEHeader(msg.Header), msg.Body, 0)
	if !ok {
		return "", false
	}
	m := codeRE.FindStringSubmatch(text)
	if m == nil {
		return "", false
	}
	return m[1], true
}

// findTextPlain returns the decoded body of the first text/plain entity.
func findTextPlain(h textproto.MIMEHeader, body io.Reader, depth int) (string, bool) {
	ct := h.Get("Content-Type")
	if ct == "" {
		ct = "text/plain" // RFC 2045 default
	}
	mediaType, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", false
	}
	switch {
	case strings.HasPrefix(mediaType, "multipart/"):
		if depth >= maxMIMEDepth || params["boundary"] == "" {
			return "", false
		}
		mr := multipart.NewReader(body, params["boundary"])
		for {
			// NextRawPart: we decode Content-Transfer-Encoding ourselves,
			// uniformly for quoted-printable and base64.
			p, err := mr.NextRawPart()
			if err != nil {
				return "", false
			}
			if s, ok := findTextPlain(p.Header, p, depth+1); ok {
				return s, true
			}
		}
	case mediaType == "text/plain":
		b, err := io.ReadAll(decodeTransfer(h.Get("Content-Transfer-Encoding"), body))
		if err != nil {
			return "", false
		}
		return string(b), true
	default:
		return "", false
	}
}

func decodeTransfer(cte string, r io.Reader) io.Reader {
	switch strings.ToLower(strings.TrimSpace(cte)) {
	case "quoted-printable":
		return quotedprintable.NewReader(r)
	case "base64":
		// base64.NewDecoder skips the CR/LF line wrapping itself.
		return base64.NewDecoder(base64.StdEncoding, r)
	default:
		return r
	}
}
