// Package cli is the omsd command line: `serve`, `identity` and `keys`.
// Parsing configuration (ParseConfig) is separate from wiring (Build) and
// running (Serve) so tests can start the real program in-process.
package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/server/token"
)

const usage = `omsd serves the Vero OMS REST API.

Usage:
  omsd serve [flags]                 run the service (omsd serve --help lists every setting)
  omsd identity create --email E --role R [--role R] [--name N]
                                     create an identity; the password is read from stdin
  omsd identity list                 list identities
  omsd identity disable --email E    disable an identity and end its sessions
  omsd keys generate --out FILE [--alg ES256|EdDSA]
                                     write a new private JWT signing key (mode 0600)
  omsd contract check [--overlay FILE] NEW.json
                                     apply the overlay to a new upstream contract and list what breaks
                                     (exit 0 compatible, 1 breaking, 2 unusable input)
  omsd validate [--ignore-unmatched] FILE...
                                     check recorded traffic (HAR or JSON lines) against the contract
                                     (exit 0 clean, 1 violations, 2 unusable input)

  omsd fix sessions [flags]          the FIX sessions configured and their stored sequence numbers
  omsd fix hash-secret [flags]       read a FIX session secret on stdin, print its argon2id hash (secret_argon2id)

The identity commands read the same OMS_* settings as serve (OMS_REDIS_URL, OMS_REDIS_PREFIX, password limits).
`

// Main runs the command line and returns the exit code.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		args = []string{"serve"}
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stdout, stderr)
	case "identity":
		err = runIdentity(ctx, args[1:], stdin, stdout, stderr)
	case "keys":
		err = runKeys(args[1:], stdout)
	case "contract":
		err = runContract(args[1:], stdout, stderr)
	case "validate":
		err = runValidate(ctx, args[1:], stdout, stderr)
	case "fix":
		err = runFIX(ctx, args[1:], stdin, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprint(stderr, usage)
		return 2
	}
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "omsd:", err)
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		return 1
	}
	return 0
}

func newLogger(c Config, w io.Writer) *slog.Logger {
	var lvl slog.Level
	_ = lvl.UnmarshalText([]byte(c.LogLvl))
	opts := &slog.HandlerOptions{Level: lvl}
	if c.LogJSON {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func runServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	c, err := ParseConfig(args, osEnv, stdout)
	if err != nil {
		return err
	}
	log := newLogger(c, stderr)
	applyGC(c)
	if n := applyProcs(c); n > 0 {
		log.Info("serve: GOMAXPROCS raised above the CPUs Go chose (--min-procs)", "gomaxprocs", n)
	}
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := startFlightRecorder(ctx, c.TraceDir, log); err != nil {
		return err
	}
	app, err := Build(ctx, c, log)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", c.Addr)
	if err != nil {
		app.Close(context.Background())
		return err
	}
	return Serve(ctx, c, app, ln, log)
}

// applyGC sets the collector's target. omsd's live heap is small (tens of
// MB) and every order allocates, so at Go's default target the collector
// runs several times a second under load, and its marking shares the two
// cores of a small box with the order path: in back-to-back runs the FIX
// round trip's p99 at 1 000 orders/s was 6.0–13.9 ms at 100, 4.4–4.6 ms
// at 300 (docs/benchmarks.md). GOGC in the environment wins.
func applyGC(c Config) {
	if c.GCPercent > 0 && os.Getenv("GOGC") == "" {
		debug.SetGCPercent(c.GCPercent)
	}
}

// applyProcs raises GOMAXPROCS to c.MinProcs when Go chose fewer (the
// CPUs it may use) and returns the new value (0: unchanged). The collector
// gives its background marking a quarter of the Ps; below four that is
// less than one whole P, so Go marks in "fractional" workers, and a
// scheduled one marks for up to milliseconds ahead of the goroutines queued
// on its P. An order hops through a dozen goroutines (HTTP, lane, venue,
// publisher, broker) on its way to a subscriber, so on two CPUs every
// collection left a burst of late reports (a runtime trace showed queued
// goroutines waiting 2–4 ms during marking). With four Ps one dedicated
// worker marks and the other Ps keep running goroutines
// (docs/benchmarks.md). GOMAXPROCS in the environment wins.
func applyProcs(c Config) int {
	if c.MinProcs == 0 || os.Getenv("GOMAXPROCS") != "" || runtime.GOMAXPROCS(0) >= c.MinProcs {
		return 0
	}
	runtime.GOMAXPROCS(c.MinProcs)
	return c.MinProcs
}

// identityFlags are the identity subcommands' own flags; other settings
// come from the environment like serve's.
func runIdentity(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("identity: want create, list or disable")
	}
	fs := flag.NewFlagSet("omsd identity "+args[0], flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "email address")
	name := fs.String("name", "", "display name")
	var roles multiFlag
	fs.Var(&roles, "role", "role (admin, maker, checker, trader); repeat or comma-separate")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c, err := ParseConfig(nil, osEnv, stdout)
	if err != nil {
		return err
	}
	if c.RedisURL == "" {
		return errors.New("identity commands need OMS_REDIS_URL: the embedded store lives only inside a running server (use OMS_IDENTITIES_FILE for it)")
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	st, err := openStore(ctx, c, log, nil)
	if err != nil {
		return err
	}
	defer st.Close()
	admin := auth.NewIdentityAdmin(st, password.NewHasher(password.DefaultParams, 1),
		password.Policy{MinLength: c.PasswordMin, MaxLength: c.PasswordMax})
	switch args[0] {
	case "create":
		pw, err := readPassword(stdin)
		if err != nil {
			return err
		}
		id, err := admin.CreateIdentity(ctx, auth.NewIdentity{Email: *email, Password: pw, Roles: roles, Name: *name})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created %s %s roles=%s\n", id.ID, id.Email, strings.Join(id.Roles, ","))
	case "list":
		list, err := admin.ListIdentities(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tEMAIL\tROLES\tSTATE\tNAME")
		for _, id := range list {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", id.ID, id.Email, strings.Join(id.Roles, ","), id.State, id.Name)
		}
		return tw.Flush()
	case "disable":
		id, err := admin.DisableIdentity(ctx, *email)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "disabled %s %s\n", id.ID, id.Email)
	default:
		return fmt.Errorf("identity: unknown command %q", args[0])
	}
	return nil
}

// readPassword reads the first line of stdin (so `echo pw |` and a file both
// work); the password never appears in argv or the environment.
func readPassword(r io.Reader) (string, error) {
	line, err := bufio.NewReader(r).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", err
	}
	line = strings.TrimRight(line, "\r\n")
	if line == "" {
		return "", errors.New("no password on stdin")
	}
	return line, nil
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

func runKeys(args []string, stdout io.Writer) error {
	if len(args) == 0 || args[0] != "generate" {
		return errors.New("keys: want generate")
	}
	fs := flag.NewFlagSet("omsd keys generate", flag.ContinueOnError)
	out := fs.String("out", "", "file to write (must not exist)")
	alg := fs.String("alg", "ES256", "ES256 or EdDSA")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("keys generate: --out is required")
	}
	k, err := token.GenerateKey(*alg)
	if err != nil {
		return err
	}
	if err := token.WriteKeyFile(*out, k); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s key %s to %s\n", *alg, k.KeyID(), *out)
	return nil
}
