// Package mail sends the transactional e-mails of the OMS authentication
// service (recovery codes, password-change notices).
//
// Three Sender implementations are provided:
//
//   - SMTP delivers through an SMTP submission server (go-mail client).
//   - Outbox writes each message as an .eml file into a directory, for
//     development and tests.
//   - Async wraps another Sender with a bounded queue and retrying workers so
//     that request handlers never block on mail delivery.
//
// Message bodies frequently contain secrets (recovery codes). Nothing in this
// package logs a body or puts it into an error value.
package mail

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	netmail "net/mail"
	"strings"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// Message is a single e-mail to one recipient. Text is the text/plain body,
// HTML the text/html alternative; when both are set the mail is sent as
// multipart/alternative.
type Message struct {
	To      string
	Subject string
	Text    string
	HTML    string
}

// Sender delivers a Message.
type Sender interface {
	Send(ctx context.Context, m Message) error
}

// ErrInvalidMessage is wrapped by errors about malformed messages (bad
// recipient, header injection attempts, empty body).
var ErrInvalidMessage = errors.New("mail: invalid message")

// parseFrom validates a From value ("addr@example.com" or
// "Name <addr@example.com>") and returns the parsed address.
func parseFrom(from string) (*netmail.Address, error) {
	if strings.ContainsAny(from, "\r\n") {
		return nil, errors.New("mail: from address contains a line break")
	}
	a, err := netmail.ParseAddress(from)
	if err != nil {
		return nil, fmt.Errorf("mail: invalid from address %q: %w", from, err)
	}
	return a, nil
}

// validate checks a message before it is rendered. The returned error never
// includes Text or HTML.
func (m Message) validate() (*netmail.Address, error) {
	if strings.ContainsAny(m.To, "\r\n") {
		return nil, fmt.Errorf("%w: recipient contains a line break", ErrInvalidMessage)
	}
	to, err := netmail.ParseAddress(m.To)
	if err != nil {
		return nil, fmt.Errorf("%w: recipient %q: %w", ErrInvalidMessage, m.To, err)
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return nil, fmt.Errorf("%w: subject contains a line break", ErrInvalidMessage)
	}
	if m.Text == "" && m.HTML == "" {
		return nil, fmt.Errorf("%w: empty body", ErrInvalidMessage)
	}
	return to, nil
}

// buildMsg renders m into a go-mail message: From, To, Subject, Date,
// Message-ID and a multipart/alternative body (text/plain first, then
// text/html, the order RFC 2046 prescribes: least to most preferred).
func buildMsg(from *netmail.Address, m Message, now time.Time) (*gomail.Msg, error) {
	to, err := m.validate()
	if err != nil {
		return nil, err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(from)
	msg.ToMailAddress(to)
	msg.Subject(m.Subject)
	msg.SetDateWithValue(now)
	id, err := newMessageID(from.Address)
	if err != nil {
		return nil, err
	}
	msg.SetMessageIDWithValue(id)
	switch {
	case m.Text != "" && m.HTML != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
		msg.AddAlternativeString(gomail.TypeTextHTML, m.HTML)
	case m.Text != "":
		msg.SetBodyString(gomail.TypeTextPlain, m.Text)
	default:
		msg.SetBodyString(gomail.TypeTextHTML, m.HTML)
	}
	return msg, nil
}

// newMessageID returns "<random>@<domain of from>" (without angle brackets;
// go-mail adds them). Using the sender's domain rather than the local
// hostname (go-mail's default) avoids leaking container host names.
func newMessageID(fromAddr string) (string, error) {
	domain := "localhost"
	if i := strings.LastIndexByte(fromAddr, '@'); i >= 0 && i < len(fromAddr)-1 {
		domain = fromAddr[i+1:]
	}
	r, err := randomHex(16)
	if err != nil {
		return "", err
	}
	return r + "@" + domain, nil
}

func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("mail: random: %w", err)
	}
	return hex.EncodeToString(b), nil
}
