package mail

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	netmail "net/mail"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	gomail "github.com/wneessen/go-mail"
)

// DefaultSMTPTimeout is used by NewSMTP when timeout <= 0.
const DefaultSMTPTimeout = 30 * time.Second

// StartTLS modes for smtp:// URLs (query parameter "starttls").
const (
	StartTLSOpportunistic = "opportunistic" // upgrade if offered (default for loopback hosts)
	StartTLSRequired      = "required"      // fail if STARTTLS is not offered (default otherwise)
	StartTLSNone          = "none"          // never upgrade (local test servers)
)

// SMTP delivers messages through an SMTP server. A fresh connection is used
// for every Send, so an *SMTP is safe for concurrent use.
type SMTP struct {
	host        string // host name or IP without brackets
	addr        string // host:port for dialing
	implicitTLS bool   // smtps://
	startTLS    string // one of the StartTLS* constants (smtp:// only)
	user, pass  string
	hasAuth     bool
	skipVerify  bool
	from        *netmail.Address
	timeout     time.Duration
	redacted    string
}

// NewSMTP parses rawURL and returns an SMTP sender.
//
// Accepted forms:
//
//	smtp://[user:pass@]host[:port][?starttls=opportunistic|required|none]
//
// starttls defaults to required, or opportunistic for a loopback host.
//
//	smtps://[user:pass@]host[:port]
//
// plus the optional query parameter insecure_skip_verify=true (tests only).
// The default port is 25 for smtp:// and 465 for smtps://. With user info,
// AUTH PLAIN is used; go-mail refuses to send the credentials over an
// unencrypted connection unless the host is localhost, 127.0.0.1 or ::1, and
// NewSMTP rejects starttls=none with credentials for any other host up front.
//
// timeout bounds connecting and every individual SMTP command; <= 0 means
// DefaultSMTPTimeout. The ctx passed to Send bounds the whole delivery.
func NewSMTP(rawURL, from string, timeout time.Duration) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		// *url.Error repeats the whole URL, password included: drop it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, fmt.Errorf("mail: invalid SMTP URL: %w", err)
	}
	s := &SMTP{timeout: timeout, redacted: u.Redacted()}
	if s.timeout <= 0 {
		s.timeout = DefaultSMTPTimeout
	}
	if err := s.parseAddr(u); err != nil {
		return nil, err
	}
	if err := s.parseQuery(u.RawQuery); err != nil {
		return nil, err
	}
	if s.startTLS == "" && !s.implicitTLS {
		// Recovery codes cross this connection: a non-loopback server must
		// upgrade to TLS unless the operator says otherwise explicitly.
		s.startTLS = StartTLSRequired
		if isLoopbackName(s.host) {
			s.startTLS = StartTLSOpportunistic
		}
	}
	if err := s.parseAuth(u); err != nil {
		return nil, err
	}
	s.from, err = parseFrom(from)
	if err != nil {
		return nil, err
	}
	return s, nil
}

func (s *SMTP) invalid(format string, args ...any) error {
	return fmt.Errorf("mail: invalid SMTP URL %s: %s", s.redacted, fmt.Sprintf(format, args...))
}

// parseAddr reads the scheme (smtp or smtps), host and port.
func (s *SMTP) parseAddr(u *url.URL) error {
	var defaultPort string
	switch strings.ToLower(u.Scheme) {
	case "smtp":
		defaultPort = "25"
	case "smtps":
		defaultPort = "465"
		s.implicitTLS = true
	default:
		return s.invalid("scheme must be smtp or smtps")
	}
	if u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.Fragment != "" {
		return s.invalid("unexpected path")
	}
	s.host = u.Hostname()
	if s.host == "" {
		return s.invalid("missing host")
	}
	port := u.Port()
	if port == "" {
		port = defaultPort
	}
	if p, err := strconv.Atoi(port); err != nil || p < 1 || p > 65535 {
		return s.invalid("bad port")
	}
	s.addr = net.JoinHostPort(s.host, port)
	return nil
}

// parseQuery reads starttls and insecure_skip_verify, each at most once.
func (s *SMTP) parseQuery(raw string) error {
	q, err := url.ParseQuery(raw)
	if err != nil {
		return fmt.Errorf("mail: invalid SMTP URL %s: bad query: %w", s.redacted, err)
	}
	for key, vals := range q {
		if len(vals) != 1 {
			return s.invalid("%s given %d times", key, len(vals))
		}
		v := vals[0]
		switch key {
		case "starttls":
			if s.implicitTLS {
				return s.invalid("starttls does not apply to smtps")
			}
			switch strings.ToLower(v) {
			case StartTLSOpportunistic, StartTLSRequired, StartTLSNone:
				s.startTLS = strings.ToLower(v)
			default:
				return s.invalid("starttls must be opportunistic, required or none")
			}
		case "insecure_skip_verify":
			b, err := strconv.ParseBool(v)
			if err != nil {
				return s.invalid("insecure_skip_verify must be a boolean")
			}
			s.skipVerify = b
		default:
			return s.invalid("unknown parameter %q", key)
		}
	}
	return nil
}

// parseAuth reads the credentials; plain authentication without TLS is
// refused for a non-loopback host.
func (s *SMTP) parseAuth(u *url.URL) error {
	if u.User == nil {
		return nil
	}
	s.hasAuth = true
	s.user = u.User.Username()
	s.pass, _ = u.User.Password()
	if s.user == "" {
		return s.invalid("empty user name")
	}
	if !s.implicitTLS && s.startTLS == StartTLSNone && !isLoopbackName(s.host) {
		return s.invalid("refusing plain authentication without TLS to non-loopback host")
	}
	return nil
}

// isLoopbackName mirrors the check go-mail's PLAIN auth applies before it
// sends credentials over an unencrypted connection.
func isLoopbackName(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// String returns the server URL with the password redacted.
func (s *SMTP) String() string { return s.redacted }

// Send delivers m. Errors never contain the message body; SMTP reply codes
// are exposed through *DeliveryError.
func (s *SMTP) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return &DeliveryError{Server: s.addr, msg: err.Error(), cause: err}
	}
	msg, err := buildMsg(s.from, m, time.Now())
	if err != nil {
		return err
	}
	d := &dialer{s: s, ctx: ctx, tlsConf: s.tlsConfig()}
	defer d.closeAll()
	client, err := gomail.NewClient(s.host, s.clientOptions(d)...)
	if err != nil {
		return &DeliveryError{Server: s.addr, msg: "configuring client: " + err.Error()}
	}
	if err := client.DialAndSendWithContext(ctx, msg); err != nil {
		return s.deliveryError(ctx, err)
	}
	return nil
}

// dialer is Send's own dialer: go-mail formats host:port with "%s:%d"
// (broken for IPv6 literals), and we need the raw connection to abort a
// delivery when ctx ends (go-mail only honours ctx while dialing). Every
// dialed connection is also closed when Send returns, because go-mail
// leaves it open when EHLO or STARTTLS fail inside DialAndSendWithContext.
type dialer struct {
	s       *SMTP
	ctx     context.Context // the delivery's: its end closes the connections
	tlsConf *tls.Config
	mu      sync.Mutex
	conns   []net.Conn
	stops   []func() bool
}

func (d *dialer) dial(dctx context.Context, _, _ string) (net.Conn, error) {
	nd := &net.Dialer{}
	var (
		c   net.Conn
		err error
	)
	if d.s.implicitTLS {
		c, err = (&tls.Dialer{NetDialer: nd, Config: d.tlsConf}).DialContext(dctx, "tcp", d.s.addr)
	} else {
		c, err = nd.DialContext(dctx, "tcp", d.s.addr)
	}
	if err != nil {
		return nil, err
	}
	d.mu.Lock()
	d.conns = append(d.conns, c)
	d.stops = append(d.stops, context.AfterFunc(d.ctx, func() { _ = c.Close() }))
	d.mu.Unlock()
	return c, nil
}

func (d *dialer) closeAll() {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, stop := range d.stops {
		stop()
	}
	for _, c := range d.conns {
		_ = c.Close()
	}
}

// clientOptions are go-mail's options for one delivery through d.
func (s *SMTP) clientOptions(d *dialer) []gomail.Option {
	opts := []gomail.Option{
		gomail.WithTimeout(s.timeout),
		gomail.WithDialContextFunc(d.dial),
		gomail.WithTLSConfig(d.tlsConf),
	}
	switch {
	case s.implicitTLS:
		// The dialer already speaks TLS; WithSSL keeps go-mail from trying
		// STARTTLS on top of it.
		opts = append(opts, gomail.WithSSL())
	case s.startTLS == StartTLSRequired:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case s.startTLS == StartTLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if s.hasAuth {
		opts = append(opts,
			gomail.WithSMTPAuth(gomail.SMTPAuthPlain),
			gomail.WithUsername(s.user),
			gomail.WithPassword(s.pass),
		)
	}
	return opts
}

func (s *SMTP) tlsConfig() *tls.Config {
	return &tls.Config{
		ServerName:         s.host,
		MinVersion:         tls.VersionTLS12,
		InsecureSkipVerify: s.skipVerify, //nolint:gosec // opt-in, tests only
	}
}

// deliveryError converts a go-mail error into a *DeliveryError. go-mail's
// *SendError keeps a pointer to the message (SendError.Msg), so it is never
// wrapped; only its text (reason, server reply, recipient, Message-ID) is kept.
func (s *SMTP) deliveryError(ctx context.Context, err error) error {
	de := &DeliveryError{Server: s.addr, msg: err.Error()}
	var se *gomail.SendError
	if errors.As(err, &se) {
		de.Code = se.ErrorCode()
		de.Temporary = se.IsTemp()
	} else {
		var te *textproto.Error
		if errors.As(err, &te) {
			de.Code = te.Code
			de.Temporary = te.Code >= 400 && te.Code < 500
		}
		de.cause = err
	}
	if cerr := ctx.Err(); cerr != nil {
		// The connection was closed under go-mail's feet; report why.
		de.msg = cerr.Error() + ": " + de.msg
		de.cause = cerr
	}
	return de
}

// DeliveryError is returned by (*SMTP).Send when the server could not be
// reached or rejected the message. It never contains the message body.
type DeliveryError struct {
	Server    string // host:port
	Code      int    // SMTP reply code, 0 if unknown (network error, ...)
	Temporary bool   // 4xx reply
	msg       string
	cause     error
}

func (e *DeliveryError) Error() string {
	return "mail: smtp delivery via " + e.Server + " failed: " + e.msg
}

// Unwrap exposes network and context errors (never go-mail's SendError).
func (e *DeliveryError) Unwrap() error { return e.cause }

// Permanent reports a 5xx reply: retrying will not help. Async uses this to
// stop retrying.
func (e *DeliveryError) Permanent() bool { return e.Code >= 500 && e.Code < 600 }
