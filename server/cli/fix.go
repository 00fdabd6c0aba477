package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/fixacceptor"
	"github.com/vero-oms/omsd/server/metrics"
	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/server/risk"
	"github.com/vero-oms/omsd/store"
)

// devFIXAddr is the FIX acceptor's address in dev mode.
const devFIXAddr = "127.0.0.1:9878"

// fixAddr is where the acceptor listens ("" when off).
func fixAddr(c Config) string {
	switch c.FIXAddr {
	case "off", "":
		return ""
	case "auto":
		if c.Dev {
			return devFIXAddr
		}
		return ""
	}
	return c.FIXAddr
}

// fixSessions are the configured sessions: the file's, and in dev mode
// the demo session.
func fixSessions(c Config) ([]fixacceptor.SessionConfig, error) {
	var out []fixacceptor.SessionConfig
	if c.FIXSessionsFile != "" {
		s, err := fixacceptor.LoadSessions(c.FIXSessionsFile)
		if err != nil {
			return nil, fmt.Errorf("OMS_FIX_SESSIONS_FILE: %w", err)
		}
		out = s
	}
	if c.Dev {
		demo := fixacceptor.DemoSession()
		for _, s := range out {
			if s.SenderCompID == demo.SenderCompID {
				return out, nil // the file's own DEMOCLIENT wins
			}
		}
		out = append(out, demo)
	}
	return out, nil
}

// resetOffset parses HH:MM.
func resetOffset(v string) (time.Duration, error) {
	t, err := time.Parse("15:04", v)
	if err != nil {
		return 0, fmt.Errorf("OMS_FIX_RESET_TIME: want HH:MM, got %q", v)
	}
	return time.Duration(t.Hour())*time.Hour + time.Duration(t.Minute())*time.Minute, nil
}

// buildFIX makes the FIX acceptor when it is on; serveFIX starts it.
func buildFIX(c Config, app *App, st store.Store, m *metrics.Metrics, log *slog.Logger) error {
	if fixAddr(c) == "" && c.FIXListener == nil && c.FIXSessionsFile == "" {
		return nil
	}
	// With sessions and no address the acceptor only queues reports: the
	// venue instance must queue them for sessions served elsewhere.
	if c.Dev && c.FIXListener == nil && !loopbackAddr(fixAddr(c)) {
		return fmt.Errorf("refusing dev mode's FIX acceptor on %s: loopback addresses only", fixAddr(c))
	}
	sessions, err := fixSessions(c)
	if err != nil {
		return err
	}
	reset, err := resetOffset(c.FIXResetTime)
	if err != nil {
		return err
	}
	o := fixacceptor.Options{Sessions: sessions, Store: st, Trading: app.Trading, Readable: risk.New(st).Readable,
		Enabled: func(ctx context.Context, email string) (bool, error) {
			id, err := st.IdentityByEmail(ctx, auth.NormalizeEmail(email))
			if errors.Is(err, store.ErrNotFound) {
				return false, nil
			}
			return err == nil && id.State == store.IdentityActive, err
		},
		VerifySecret: app.hasher.Verify, ResetAt: reset, Log: log} // the session layer runs on wall time (heartbeats, SendingTime)
	if m != nil {
		o.Metrics = m.Registry()
	}
	a, err := fixacceptor.New(o)
	if err != nil {
		return fmt.Errorf("FIX acceptor: %w", err)
	}
	app.FIX = a
	app.closers = append(app.closers, func(ctx context.Context) { _ = a.Close(ctx) })
	return nil
}

// serveFIX listens and serves FIX until the returned stop is called.
func serveFIX(c Config, app *App, log *slog.Logger) (func(), error) {
	if app.FIX == nil || (fixAddr(c) == "" && c.FIXListener == nil) {
		return func() {}, nil
	}
	ln := c.FIXListener
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", fixAddr(c)); err != nil {
			return nil, fmt.Errorf("OMS_FIX_ADDR: %w", err)
		}
	}
	go func() {
		if err := app.FIX.Serve(ln); err != nil {
			log.Error("FIX acceptor stopped", "err", err)
		}
	}()
	log.Info("serving FIX 4.2", "addr", ln.Addr().String())
	return func() { _ = ln.Close() }, nil
}

// runFIX is `omsd fix sessions`: the configured sessions and their
// stored sequence numbers.
func runFIX(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	if len(args) > 0 && args[0] == "hash-secret" {
		return hashFIXSecret(ctx, args[1:], stdin, stdout)
	}
	if len(args) == 0 || args[0] != "sessions" {
		return errors.New("usage: omsd fix sessions [flags of omsd serve] | omsd fix hash-secret < secret")
	}
	c, err := ParseConfig(args[1:], osEnv, stdout)
	if err != nil {
		return err
	}
	sessions, err := fixSessions(c)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, c, slog.New(slog.NewTextHandler(io.Discard, nil)), nil)
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintf(stdout, "%-28s %-24s %-12s %8s %8s  %s\n", "SESSION", "IDENTITY", "DAY", "NEXT_IN", "NEXT_OUT", "SOURCES")
	for _, s := range sessions {
		q, err := st.FIXSeq(ctx, s.Name())
		if err != nil {
			return err
		}
		day := q.Day
		if day == "" {
			day = "-"
		}
		fmt.Fprintf(stdout, "%-28s %-24s %-12s %8d %8d  %s\n", s.Name(), s.Identity, day, max(q.NextIn, 1), max(q.NextOut, 1), strings.Join(s.SourceCIDRs, ","))
	}
	return nil
}

// hashFIXSecret is `omsd fix hash-secret`: the argon2id PHC string of the
// secret read from stdin, for a session's secret_argon2id.
func hashFIXSecret(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	c, err := ParseConfig(args, osEnv, stdout)
	if err != nil {
		return err
	}
	b, err := io.ReadAll(io.LimitReader(stdin, 4096))
	if err != nil {
		return err
	}
	secret := strings.TrimRight(string(b), "\r\n")
	if len(secret) < 12 {
		return errors.New("a FIX session secret needs at least 12 characters")
	}
	phc, err := password.NewHasher(hashParams(c), 1).Hash(ctx, secret)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(stdout, phc)
	return err
}
