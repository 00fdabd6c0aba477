package mail

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"io"
	"log"
	"math/big"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/emersion/go-sasl"
	smtpd "github.com/emersion/go-smtp"
)

// received is one message as seen by the test SMTP server.
type received struct {
	From   string
	To     []string
	Data   []byte
	User   string // authenticated user, "" if none
	TLS    bool   // connection was encrypted when DATA arrived
	Helo   string
	Server string
}

// testBackend records every delivered message. If user is set, AUTH PLAIN
// is offered and required.
type testBackend struct {
	user, pass string

	mu   sync.Mutex
	msgs []received
	auth []string // attempted auth user names, successful or not
	open int      // sessions not yet logged out (connection still open)
}

func (b *testBackend) NewSession(c *smtpd.Conn) (smtpd.Session, error) {
	b.mu.Lock()
	b.open++
	b.mu.Unlock()
	return &testSession{b: b, c: c}, nil
}

// waitAllClosed fails the test if a client connection stays open: go-smtp
// logs a session out when its connection closes.
func (b *testBackend) waitAllClosed(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for {
		b.mu.Lock()
		open := b.open
		b.mu.Unlock()
		if open == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d SMTP connection(s) left open by the client", open)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func (b *testBackend) messages() []received {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]received(nil), b.msgs...)
}

type testSession struct {
	b    *testBackend
	c    *smtpd.Conn
	user string
	cur  received
}

func (s *testSession) AuthMechanisms() []string {
	if s.b.user == "" {
		return nil
	}
	return []string{sasl.Plain}
}

func (s *testSession) Auth(mech string) (sasl.Server, error) {
	if s.b.user == "" || mech != sasl.Plain {
		return nil, smtpd.ErrAuthUnknownMechanism
	}
	return sasl.NewPlainServer(func(identity, username, password string) error {
		s.b.mu.Lock()
		s.b.auth = append(s.b.auth, username)
		s.b.mu.Unlock()
		if username != s.b.user || password != s.b.pass {
			return smtpd.ErrAuthFailed
		}
		s.user = username
		return nil
	}), nil
}

func (s *testSession) Mail(from string, _ *smtpd.MailOptions) error {
	if s.b.user != "" && s.user == "" {
		return smtpd.ErrAuthRequired
	}
	s.cur = received{From: from}
	return nil
}

func (s *testSession) Rcpt(to string, _ *smtpd.RcptOptions) error {
	s.cur.To = append(s.cur.To, to)
	return nil
}

func (s *testSession) Data(r io.Reader) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	s.cur.Data = data
	s.cur.User = s.user
	_, s.cur.TLS = s.c.TLSConnectionState()
	s.cur.Helo = s.c.Hostname()
	s.b.mu.Lock()
	s.b.msgs = append(s.b.msgs, s.cur)
	s.b.mu.Unlock()
	return nil
}

func (s *testSession) Reset() { s.cur = received{} }
func (s *testSession) Logout() error {
	s.b.mu.Lock()
	s.b.open--
	s.b.mu.Unlock()
	return nil
}

type serverOpts struct {
	user, pass string
	tls        *tls.Config // offered via STARTTLS, or implicit if implicitTLS
	implicit   bool
}

// startServer runs a go-smtp server on a free 127.0.0.1 port and returns its
// port and backend.
func startServer(t *testing.T, o serverOpts) (string, *testBackend) {
	t.Helper()
	be := &testBackend{user: o.user, pass: o.pass}
	srv := smtpd.NewServer(be)
	srv.Domain = "localhost"
	srv.AllowInsecureAuth = true
	srv.ReadTimeout = 10 * time.Second
	srv.WriteTimeout = 10 * time.Second
	srv.ErrorLog = log.New(io.Discard, "", 0)
	var (
		ln  net.Listener
		err error
	)
	if o.implicit {
		ln, err = tls.Listen("tcp", "127.0.0.1:0", o.tls)
	} else {
		srv.TLSConfig = o.tls
		ln, err = net.Listen("tcp", "127.0.0.1:0")
	}
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(ln)
	}()
	t.Cleanup(func() {
		_ = srv.Close()
		// Close only knows listeners Serve has registered already; a test
		// that ends quickly could otherwise leave Serve blocked in Accept.
		_ = ln.Close()
		<-done
	})
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	return port, be
}

// selfSignedTLS returns a server config with a throw-away certificate for
// 127.0.0.1 / localhost.
func selfSignedTLS(t *testing.T) *tls.Config {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		MinVersion:   tls.VersionTLS12,
	}
}

const testFrom = "Vero OMS <no-reply@vero.example>"

func newTestSMTP(t *testing.T, rawURL string) *SMTP {
	t.Helper()
	s, err := NewSMTP(rawURL, testFrom, 5*time.Second)
	if err != nil {
		t.Fatalf("NewSMTP(%q): %v", rawURL, err)
	}
	return s
}

func sendCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestSMTPDeliversRecoveryMail(t *testing.T) {
	port, be := startServer(t, serverOpts{})
	s := newTestSMTP(t, "smtp://127.0.0.1:"+port+"?starttls=none")

	const code = "482913"
	if err := s.Send(sendCtx(t), RecoveryCode("alice@example.com", code, 15*time.Minute)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := be.messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages, want 1", len(msgs))
	}
	got := msgs[0]
	if got.From != "no-reply@vero.example" {
		t.Errorf("envelope from = %q", got.From)
	}
	if len(got.To) != 1 || got.To[0] != "alice@example.com" {
		t.Errorf("envelope to = %q", got.To)
	}
	if got.TLS {
		t.Error("starttls=none but connection was encrypted")
	}
	p := parseMIME(t, got.Data)
	if !strings.Contains(p.header.Get("From"), "no-reply@vero.example") {
		t.Errorf("From header = %q", p.header.Get("From"))
	}
	if p.header.Get("To") != "<alice@example.com>" {
		t.Errorf("To header = %q", p.header.Get("To"))
	}
	if p.subject != RecoverySubject {
		t.Errorf("Subject = %q, want %q", p.subject, RecoverySubject)
	}
	if _, err := p.header.Date(); err != nil {
		t.Errorf("Date header: %v", err)
	}
	if id := p.header.Get("Message-Id"); !strings.HasPrefix(id, "<") || !strings.HasSuffix(id, "@vero.example>") {
		t.Errorf("Message-ID = %q", id)
	}
	if p.header.Get("User-Agent") != "" || p.header.Get("X-Mailer") != "" {
		t.Errorf("library User-Agent/X-Mailer leaked: %q %q", p.header.Get("User-Agent"), p.header.Get("X-Mailer"))
	}
	if !strings.Contains(p.text, code) || !strings.Contains(p.text, "15 minutes") {
		t.Errorf("text part lacks code or expiry:\n%s", p.text)
	}
	if !strings.Contains(p.html, code) || !strings.Contains(p.html, "<p") {
		t.Errorf("html part lacks code:\n%s", p.html)
	}
	if c, ok := ExtractCode(got.Data); !ok || c != code {
		t.Errorf("ExtractCode = %q, %v; want %q", c, ok, code)
	}
}

func TestSMTPPlainAuth(t *testing.T) {
	port, be := startServer(t, serverOpts{user: "mailer", pass: "s3cret pass"})

	// Password with characters that need URL escaping.
	good := newTestSMTP(t, "smtp://mailer:s3cret%20pass@127.0.0.1:"+port+"?starttls=none")
	if err := good.Send(sendCtx(t), PasswordChanged("bob@example.com", time.Now(), "192.0.2.7")); err != nil {
		t.Fatalf("Send with right password: %v", err)
	}
	msgs := be.messages()
	if len(msgs) != 1 || msgs[0].User != "mailer" {
		t.Fatalf("messages = %+v, want one from authenticated user", msgs)
	}

	bad := newTestSMTP(t, "smtp://mailer:wrong@127.0.0.1:"+port+"?starttls=none")
	msg := RecoveryCode("bob@example.com", "135790", time.Minute)
	err := bad.Send(sendCtx(t), msg)
	if err == nil {
		t.Fatal("Send with wrong password succeeded")
	}
	var de *DeliveryError
	if !errors.As(err, &de) || de.Code != 535 || !de.Permanent() {
		t.Errorf("error = %#v (%v), want DeliveryError code 535", err, err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error leaks the password: %v", err)
	}
	if strings.Contains(err.Error(), "135790") || strings.Contains(err.Error(), "recovery code is") {
		t.Errorf("error leaks the body: %v", err)
	}
	if n := len(be.messages()); n != 1 {
		t.Errorf("server has %d messages after failed auth, want 1", n)
	}
	be.waitAllClosed(t)

	// No credentials: server refuses MAIL FROM with 502.
	anon := newTestSMTP(t, "smtp://127.0.0.1:"+port+"?starttls=none")
	if err := anon.Send(sendCtx(t), msg); err == nil {
		t.Fatal("Send without auth to auth-requiring server succeeded")
	} else if strings.Contains(err.Error(), "135790") {
		t.Errorf("error leaks the body: %v", err)
	}
}

func TestSMTPStartTLS(t *testing.T) {
	port, be := startServer(t, serverOpts{user: "u", pass: "p", tls: selfSignedTLS(t)})
	msg := RecoveryCode("carol@example.com", "246810", 10*time.Minute)

	// The certificate is self-signed: verification must fail by default,
	// and go-mail must not fall back to plaintext.
	for _, q := range []string{"", "?starttls=required"} {
		s := newTestSMTP(t, "smtp://u:p@127.0.0.1:"+port+q)
		if err := s.Send(sendCtx(t), msg); err == nil {
			t.Fatalf("%q: Send with untrusted certificate succeeded", q)
		}
	}
	if n := len(be.messages()); n != 0 {
		t.Fatalf("server got %d messages despite bad certificate", n)
	}
	be.waitAllClosed(t)

	for _, q := range []string{"?insecure_skip_verify=true", "?starttls=required&insecure_skip_verify=true"} {
		s := newTestSMTP(t, "smtp://u:p@127.0.0.1:"+port+q)
		if err := s.Send(sendCtx(t), msg); err != nil {
			t.Fatalf("%q: Send: %v", q, err)
		}
	}
	msgs := be.messages()
	if len(msgs) != 2 {
		t.Fatalf("got %d messages, want 2", len(msgs))
	}
	for _, m := range msgs {
		if !m.TLS || m.User != "u" {
			t.Errorf("message delivered with TLS=%v user=%q, want TLS and user u", m.TLS, m.User)
		}
	}
}

func TestSMTPStartTLSRequiredButNotOffered(t *testing.T) {
	port, be := startServer(t, serverOpts{})
	s := newTestSMTP(t, "smtp://127.0.0.1:"+port+"?starttls=required")
	err := s.Send(sendCtx(t), RecoveryCode("dave@example.com", "111222", time.Minute))
	if err == nil || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want STARTTLS error", err)
	}
	if n := len(be.messages()); n != 0 {
		t.Fatalf("server got %d messages", n)
	}
	// go-mail returns from a failed STARTTLS check without closing the
	// connection; SMTP.Send must close it.
	be.waitAllClosed(t)
	// Default (opportunistic) falls back to plaintext when not offered.
	s = newTestSMTP(t, "smtp://127.0.0.1:"+port)
	if err := s.Send(sendCtx(t), RecoveryCode("dave@example.com", "111222", time.Minute)); err != nil {
		t.Fatalf("opportunistic Send: %v", err)
	}
}

func TestSMTPImplicitTLS(t *testing.T) {
	port, be := startServer(t, serverOpts{user: "u", pass: "p", tls: selfSignedTLS(t), implicit: true})
	s := newTestSMTP(t, "smtps://u:p@127.0.0.1:"+port+"?insecure_skip_verify=true")
	if err := s.Send(sendCtx(t), RecoveryCode("erin@example.com", "987650", time.Minute)); err != nil {
		t.Fatalf("Send: %v", err)
	}
	msgs := be.messages()
	if len(msgs) != 1 || !msgs[0].TLS || msgs[0].User != "u" {
		t.Fatalf("messages = %+v", msgs)
	}
	if c, ok := ExtractCode(msgs[0].Data); !ok || c != "987650" {
		t.Errorf("ExtractCode = %q, %v", c, ok)
	}
}

func TestSMTPServerDown(t *testing.T) {
	// A port that was free a moment ago: connection refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()

	s, err := NewSMTP("smtp://"+addr+"?starttls=none", testFrom, 500*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(context.Background(), RecoveryCode("frank@example.com", "123123", time.Minute))
	if err == nil {
		t.Fatal("Send to closed port succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send took %v", d)
	}
	var ne *net.OpError
	if !errors.As(err, &ne) {
		t.Errorf("error %v does not unwrap to *net.OpError", err)
	}
}

func TestSMTPServerSilentTimesOut(t *testing.T) {
	// Accepts connections but never sends a greeting.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})

	s, err := NewSMTP("smtp://"+ln.Addr().String()+"?starttls=none", testFrom, 300*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	err = s.Send(context.Background(), RecoveryCode("gina@example.com", "321321", time.Minute))
	if err == nil {
		t.Fatal("Send to silent server succeeded")
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send took %v with a 300ms timeout", d)
	}

	// ctx shorter than the SMTP timeout wins too.
	s, err = NewSMTP("smtp://"+ln.Addr().String()+"?starttls=none", testFrom, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start = time.Now()
	err = s.Send(ctx, RecoveryCode("gina@example.com", "321321", time.Minute))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Send took %v with a 200ms context", d)
	}
}

func TestNewSMTPURLs(t *testing.T) {
	ok := []struct {
		url      string
		addr     string
		implicit bool
		starttls string
		auth     bool
		skip     bool
	}{
		// STARTTLS is required by default for a non-loopback host; opportunistic only when asked or on loopback.
		{"smtp://mail.example.com", "mail.example.com:25", false, StartTLSRequired, false, false},
		{"smtp://u:p@mail.example.com:587", "mail.example.com:587", false, StartTLSRequired, true, false},
		{"smtp://mail.example.com:587?starttls=opportunistic", "mail.example.com:587", false, StartTLSOpportunistic, false, false},
		{"smtp://127.0.0.1:2525", "127.0.0.1:2525", false, StartTLSOpportunistic, false, false},
		{"smtp://localhost:2525", "localhost:2525", false, StartTLSOpportunistic, false, false},
		{"smtp://mail.example.com:587?starttls=required", "mail.example.com:587", false, StartTLSRequired, false, false},
		{"smtp://u:p@localhost:2525?starttls=none", "localhost:2525", false, StartTLSNone, true, false},
		{"smtp://u:p@[::1]:2525?starttls=none", "[::1]:2525", false, StartTLSNone, true, false},
		{"smtps://u:p@mail.example.com", "mail.example.com:465", true, "", true, false},
		{"smtps://mail.example.com:1465?insecure_skip_verify=true", "mail.example.com:1465", true, "", false, true},
	}
	for _, c := range ok {
		s, err := NewSMTP(c.url, testFrom, 0)
		if err != nil {
			t.Errorf("NewSMTP(%q): %v", c.url, err)
			continue
		}
		if s.addr != c.addr || s.implicitTLS != c.implicit || s.startTLS != c.starttls || s.hasAuth != c.auth || s.skipVerify != c.skip {
			t.Errorf("NewSMTP(%q) = %+v", c.url, s)
		}
		if s.timeout != DefaultSMTPTimeout {
			t.Errorf("timeout = %v", s.timeout)
		}
		if strings.Contains(s.String(), ":p@") {
			t.Errorf("String() leaks password: %s", s)
		}
	}

	bad := []string{
		"http://mail.example.com",
		"smtp://",
		"smtp://mail.example.com:0",
		"smtp://mail.example.com:99999",
		"smtp://mail.example.com/path",
		"smtp://mail.example.com?starttls=maybe",
		"smtp://mail.example.com?startls=none",
		"smtp://mail.example.com?insecure_skip_verify=perhaps",
		"smtps://mail.example.com?starttls=none",
		"smtp://u:p@mail.example.com?starttls=none", // plain auth in clear to a remote host
		"smtp://:p@mail.example.com",
	}
	for _, u := range bad {
		if _, err := NewSMTP(u, testFrom, 0); err == nil {
			t.Errorf("NewSMTP(%q) succeeded", u)
		}
	}
	if _, err := NewSMTP("smtp://localhost", "not an address", 0); err == nil {
		t.Error("NewSMTP accepted bad from")
	}

	// url.Parse errors repeat the URL; ours must not leak the password.
	_, err := NewSMTP("smtp://user:hunter2@host:port%zz", testFrom, 0)
	if err == nil {
		t.Fatal("NewSMTP accepted malformed URL")
	}
	if strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error leaks password: %v", err)
	}
}

func TestSMTPRejectsInvalidMessage(t *testing.T) {
	port, be := startServer(t, serverOpts{})
	s := newTestSMTP(t, "smtp://127.0.0.1:"+port+"?starttls=none")
	for _, m := range []Message{
		{To: "not-an-address", Subject: "x", Text: "secret-body"},
		{To: "a@example.com\r\nBcc: evil@example.com", Subject: "x", Text: "secret-body"},
		{To: "a@example.com", Subject: "x\r\nBcc: evil@example.com", Text: "secret-body"},
		{To: "a@example.com", Subject: "x"},
	} {
		err := s.Send(sendCtx(t), m)
		if !errors.Is(err, ErrInvalidMessage) {
			t.Errorf("Send(%q, %q) = %v, want ErrInvalidMessage", m.To, m.Subject, err)
		}
		if err != nil && strings.Contains(err.Error(), "secret-body") {
			t.Errorf("error leaks body: %v", err)
		}
	}
	if n := len(be.messages()); n != 0 {
		t.Errorf("server got %d messages", n)
	}
}
