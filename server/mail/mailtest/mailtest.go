// Package mailtest runs a real SMTP server (go-smtp) on a loopback port for
// tests outside server/mail that need to receive what omsd sends.
package mailtest

import (
	"io"
	"log"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	smtpd "github.com/emersion/go-smtp"
)

// Message is one delivered mail.
type Message struct {
	From string
	To   []string
	Data []byte
}

// Server is a running SMTP sink requiring PLAIN auth with User/Pass.
type Server struct {
	Addr       string
	User, Pass string
	mu         sync.Mutex
	msgs       []Message
}

// Start runs a server until the test ends.
func Start(tb testing.TB, user, pass string) *Server {
	tb.Helper()
	s := &Server{User: user, Pass: pass}
	srv := smtpd.NewServer(s)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true // loopback only
	srv.ReadTimeout, srv.WriteTimeout = 10*time.Second, 10*time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Close(); _ = ln.Close(); <-done })
	s.Addr = ln.Addr().String()
	return s
}

// URL is an OMS_SMTP_URL for this server (plain text, loopback).
func (s *Server) URL() string {
	return "smtp://" + s.User + ":" + s.Pass + "@" + s.Addr + "?starttls=none"
}

// WaitFor returns the first message to `to` whose raw text contains substr.
func (s *Server) WaitFor(tb testing.TB, to, substr string, within time.Duration) Message {
	tb.Helper()
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		for _, m := range s.msgs {
			for _, rcpt := range m.To {
				if rcpt == to && strings.Contains(string(m.Data), substr) {
					s.mu.Unlock()
					return m
				}
			}
		}
		s.mu.Unlock()
		time.Sleep(20 * time.Millisecond)
	}
	tb.Fatalf("no mail to %s containing %q within %s", to, substr, within)
	return Message{}
}

// NewSession implements smtpd.Backend.
func (s *Server) NewSession(*smtpd.Conn) (smtpd.Session, error) { return &session{s: s}, nil }

type session struct {
	s      *Server
	authed bool
	cur    Message
}

func (x *session) AuthMechanisms() []string { return []string{sasl.Plain} }

func (x *session) Auth(mech string) (sasl.Server, error) {
	return sasl.NewPlainServer(func(_, user, pass string) error {
		if user != x.s.User || pass != x.s.Pass {
			return smtpd.ErrAuthFailed
		}
		x.authed = true
		return nil
	}), nil
}

func (x *session) Mail(from string, _ *smtpd.MailOptions) error {
	if !x.authed {
		return smtpd.ErrAuthRequired
	}
	x.cur = Message{From: from}
	return nil
}

func (x *session) Rcpt(to string, _ *smtpd.RcptOptions) error {
	x.cur.To = append(x.cur.To, to)
	return nil
}

func (x *session) Data(r io.Reader) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	x.cur.Data = b
	x.s.mu.Lock()
	x.s.msgs = append(x.s.msgs, x.cur)
	x.s.mu.Unlock()
	return nil
}

func (x *session) Reset()        { x.cur = Message{} }
func (x *session) Logout() error { return nil }
