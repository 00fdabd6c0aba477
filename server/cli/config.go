package cli

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vero-oms/omsd/server/auth"
)

// Config is every setting of `omsd serve`. Each comes from an OMS_*
// environment variable and can be overridden by the flag of the same name.
type Config struct {
	Addr     string
	Dev      bool
	DevRedis bool
	DemoData bool // dev mode only: seed the demo back office

	InstrumentsFile string // the instrument master; empty: the embedded dev set
	// HolidaysFile adds closed dates to the trading calendar; empty: the
	// embedded dev calendar with the embedded dev set, none otherwise.
	HolidaysFile  string
	MarketSession string // auto, or a session name pinning every market
	// DevMarketMaker (dev mode only) rests market-maker orders around each
	// reference price so a demo order fills.
	DevMarketMaker bool
	// Venue is local (this instance runs the venue simulator's books; one
	// per store) or off (reads only: trading POSTs answer 502).
	Venue string
	// VenueLeaseTTL is the venue owner's lease (see HoldVenue).
	VenueLeaseTTL time.Duration
	// LatencyRetention is how long latency records are kept.
	LatencyRetention time.Duration
	// StreamHistorySize and StreamHistoryTTL bound the history of each
	// order and account channel of the Streaming API (recovery replays it).
	StreamHistorySize int
	StreamHistoryTTL  time.Duration
	// StreamCommandRate and StreamCommandBurst bound one connection's
	// commands (a token bucket per connection).
	StreamCommandRate, StreamCommandBurst int
	// StreamOutboxPoll is how often the venue owner reads the outbox
	// without being told of a commit (a notification lost in a reconnect).
	StreamOutboxPoll time.Duration
	// FIXAddr is the FIX acceptor's address (auto: 127.0.0.1:9878 in dev
	// mode, off otherwise); FIXSessionsFile its sessions; FIXResetTime
	// when a FIX session day begins (Asia/Ho_Chi_Minh).
	FIXAddr         string
	FIXSessionsFile string
	FIXResetTime    string
	// FIXListener, when set, is used instead of listening on FIXAddr
	// (tests bind a free port first).
	FIXListener net.Listener
	// GCPercent is the garbage collector's target for serve (GOGC; see
	// applyGC); 0 keeps Go's default.
	GCPercent int
	// MinProcs is the fewest Ps (GOMAXPROCS) serve runs with (see
	// applyProcs); 0 keeps Go's choice.
	MinProcs int
	// TraceDir, when set, keeps Go's flight recorder on and writes its
	// window there on SIGUSR1 (startFlightRecorder).
	TraceDir string
	LogJSON  bool
	LogLvl   string

	SecretFile  string
	Secret      string
	KeyFile     string
	PrevKeyFile string
	JWTAlg      string
	JWTIssuer   string
	JWTAudience string
	JWTTTL      time.Duration
	JWTSkew     time.Duration

	RedisURL        string
	RedisMasterName string
	RedisPrefix     string
	RedisTimeout    time.Duration
	StoreTimeout    time.Duration

	IdentitiesFile string

	SMTPURL    string
	MailFrom   string
	MailOutbox string

	SessionLifespan    time.Duration
	CodeLifespan       time.Duration
	VerifiedLifespan   time.Duration
	MaxCodeAttempts    int
	LoginLimit         auth.Limit
	LoginIPLimit       auth.Limit
	LoginAccountLimit  auth.Limit
	LoginSlowdown      time.Duration
	RecoveryLimit      auth.Limit
	RecoveryIPLimit    auth.Limit
	VerifyIPLimit      auth.Limit
	ResetIPLimit       auth.Limit
	RecoveryCodeBudget auth.Limit
	ThrottleIPv4Prefix int
	ThrottleIPv6Prefix int
	PasswordMin        int
	PasswordMax        int
	HashConcurrency    int
	// HashMemoryKiB and HashTime are the argon2id cost of new password
	// hashes; production refuses less than the OWASP baseline.
	HashMemoryKiB int
	HashTime      int
	HashWait      time.Duration

	MaxBodyBytes   int64
	CookieSecure   bool
	TrustedProxies []*net.IPNet

	ReadHeaderTimeout time.Duration
	ReadTimeout       time.Duration
	WriteTimeout      time.Duration
	IdleTimeout       time.Duration
	ShutdownTimeout   time.Duration

	// MetricsAddr is where GET /metrics listens; empty disables metrics.
	MetricsAddr string
	// MetricsListener, when set, serves /metrics instead of listening on
	// MetricsAddr (tests: a listener on 127.0.0.1:0). No setting.
	MetricsListener net.Listener

	// Clock replaces time.Now in the auth and reference domains; tests only
	// (no setting).
	Clock func() time.Time
}

// setting is one row of the configuration table.
type setting struct {
	name string // flag name; env is OMS_ + upper snake case
	def  string
	help string
	set  func(c *Config, v string) error
}

func (s setting) env() string {
	return "OMS_" + strings.ToUpper(strings.ReplaceAll(s.name, "-", "_"))
}

func str(dst func(*Config) *string) func(*Config, string) error {
	return func(c *Config, v string) error { *dst(c) = v; return nil }
}

func dur(dst func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return fmt.Errorf("want a duration such as 15m, got %q", v)
		}
		*dst(c) = d
		return nil
	}
}

func integer(dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("want a whole number, got %q", v)
		}
		*dst(c) = n
		return nil
	}
}

func boolean(dst func(*Config) *bool) func(*Config, string) error {
	return func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return fmt.Errorf("want true or false, got %q", v)
		}
		*dst(c) = b
		return nil
	}
}

func prefixLen(maxBits int, dst func(*Config) *int) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > maxBits {
			return fmt.Errorf("want a prefix length from 1 to %d, got %q", maxBits, v)
		}
		*dst(c) = n
		return nil
	}
}

// limit parses "COUNT/WINDOW", e.g. 10/15m.
func limit(dst func(*Config) *auth.Limit) func(*Config, string) error {
	return func(c *Config, v string) error {
		n, w, ok := strings.Cut(v, "/")
		count, err1 := strconv.ParseInt(n, 10, 64)
		window, err2 := time.ParseDuration(w)
		if !ok || err1 != nil || err2 != nil || count <= 0 || window <= 0 {
			return fmt.Errorf("want COUNT/WINDOW such as 10/15m, got %q", v)
		}
		*dst(c) = auth.Limit{Count: count, Window: window}
		return nil
	}
}

var settings = []setting{
	{"addr", "127.0.0.1:8080", "listen address", str(func(c *Config) *string { return &c.Addr })},
	{"metrics-addr", "127.0.0.1:9464", "listen address of GET /metrics (Prometheus); empty disables metrics", str(func(c *Config) *string { return &c.MetricsAddr })},
	{"dev", "false", "development mode: embedded store, ephemeral key and secret, demo identities, cookies without Secure; loopback addresses only", boolean(func(c *Config) *bool { return &c.Dev })},
	{"demo-data", "true", "in dev mode, seed the demo back office (reference values, two accounts with cash and holdings, grants for the demo identities, a group, risk rules); ignored outside dev mode", boolean(func(c *Config) *bool { return &c.DemoData })},
	{"holidays-file", "", "trading calendar: dates the exchanges close besides weekends (JSON {\"holidays\": [\"YYYY-MM-DD\", …]}, format in docs/trading.md); empty: the embedded dev calendar when the instruments are the dev set, none otherwise", str(func(c *Config) *string { return &c.HolidaysFile })},
	{"instruments-file", "", "instrument master (JSON; format in docs/trading.md); empty: the embedded dev set. Loaded and checked at start, a bad file refuses to start", str(func(c *Config) *string { return &c.InstrumentsFile })},
	{"market-session", "auto", "market sessions: auto follows each market's schedule (Asia/Ho_Chi_Minh); a session name (continuous, closed, ...) pins every market to it; dev mode defaults to continuous", str(func(c *Config) *string { return &c.MarketSession })},
	{"dev-market-maker", "true", "in dev mode, rest market-maker orders (account 099MM00001) around each reference price so a demo order fills; false leaves the books empty; ignored outside dev mode", boolean(func(c *Config) *bool { return &c.DevMarketMaker })},
	{"venue", "local", "local: this instance runs the venue simulator's books (one per store: with Redis a lease in the store refuses a second owner at start); off: this instance serves the reads and answers the trading POSTs with 502", func(c *Config, v string) error {
		if v != "local" && v != "off" {
			return fmt.Errorf("want local or off, got %q", v)
		}
		c.Venue = v
		return nil
	}},
	{"venue-lease-ttl", "15s", "how long the venue owner's lease lasts unless renewed (every third of it); a starting owner waits up to this long (and a fifth more) for the lease of a crashed owner to lapse", dur(func(c *Config) *time.Duration { return &c.VenueLeaseTTL })},
	{"latency-retention", "24h", "how long latency records (GET /api/v1/util/latency/*) are kept", dur(func(c *Config) *time.Duration { return &c.LatencyRetention })},
	{"stream-history-size", "1000", "Streaming API: publications kept per order and account channel for recovery after a reconnect", integer(func(c *Config) *int { return &c.StreamHistorySize })},
	{"stream-command-rate", "20", "Streaming API: commands a second one connection may send (a token bucket); more are answered 111 too many requests", integer(func(c *Config) *int { return &c.StreamCommandRate })},
	{"stream-command-burst", "320", "Streaming API: the bucket's size, enough for a terminal to connect and subscribe to 256 channels at once", integer(func(c *Config) *int { return &c.StreamCommandBurst })},
	{"stream-outbox-poll", "1s", "Streaming API: how often the venue owner reads the outbox unasked; commits wake it at once (on Redis, also those of other instances, by a notification a reconnect can lose), so this only bounds the delay after such a loss", dur(func(c *Config) *time.Duration { return &c.StreamOutboxPoll })},
	{"stream-history-ttl", "24h", "Streaming API: how long a channel's history is kept after its last publication", dur(func(c *Config) *time.Duration { return &c.StreamHistoryTTL })},
	{"fix-addr", "auto", "FIX 4.2 acceptor address (docs/fix.md): auto is 127.0.0.1:9878 in dev mode and off otherwise; off disables it", str(func(c *Config) *string { return &c.FIXAddr })},
	{"fix-sessions-file", "", "FIX sessions (JSON; format in docs/fix.md); dev mode adds the demo session DEMOCLIENT>OMSD", str(func(c *Config) *string { return &c.FIXSessionsFile })},
	{"fix-reset-time", "07:00", "FIX session day start, HH:MM Asia/Ho_Chi_Minh: sequence numbers start again at 1 (a connected session is logged out)", str(func(c *Config) *string { return &c.FIXResetTime })},
	{"gc-percent", "300", "garbage collector target of serve, as GOGC (docs/operations.md): 300 lets the heap grow to four times what is live between collections; 0 keeps Go's default (100); a GOGC environment variable wins", integer(func(c *Config) *int { return &c.GCPercent })},
	{"min-procs", "4", "fewest Ps (GOMAXPROCS) of serve: Go's own choice (the CPUs it may use) is raised to this, because below four Ps the collector marks in fractional workers that hold up the goroutines queued behind them (docs/operations.md); 0 keeps Go's choice; a GOMAXPROCS environment variable wins", integer(func(c *Config) *int { return &c.MinProcs })},
	{"dev-redis", "false", "allow dev mode (and its demo identities) on the Redis of redis-url; never on a production Redis", boolean(func(c *Config) *bool { return &c.DevRedis })},
	{"log-format", "json", "log format: json or text", func(c *Config, v string) error {
		if v != "json" && v != "text" {
			return fmt.Errorf("want json or text, got %q", v)
		}
		c.LogJSON = v == "json"
		return nil
	}},
	{"trace-dir", "", "directory where SIGUSR1 writes the last 5 s of Go's execution trace (the flight recorder, for `go tool trace`; docs/operations.md); empty: off", str(func(c *Config) *string { return &c.TraceDir })},
	{"log-level", "info", "log level: debug, info, warn, error", str(func(c *Config) *string { return &c.LogLvl })},
	{"secret", "", "server secret (>= 32 bytes) keying recovery-code and email HMACs; prefer secret-file", str(func(c *Config) *string { return &c.Secret })},
	{"secret-file", "", "file holding the server secret", str(func(c *Config) *string { return &c.SecretFile })},
	{"jwt-key-file", "", "private signing key (JWK or PKCS#8 PEM); `omsd keys generate` writes one", str(func(c *Config) *string { return &c.KeyFile })},
	{"jwt-previous-key-file", "", "previous signing key, still accepted and published during a rotation", str(func(c *Config) *string { return &c.PrevKeyFile })},
	{"jwt-alg", "ES256", "algorithm of the ephemeral dev key: ES256 or EdDSA", str(func(c *Config) *string { return &c.JWTAlg })},
	{"jwt-issuer", "omsd", "JWT iss claim", str(func(c *Config) *string { return &c.JWTIssuer })},
	{"jwt-audience", "vero-oms", "JWT aud claim", str(func(c *Config) *string { return &c.JWTAudience })},
	{"jwt-ttl", "15m", "JWT lifetime (never past the session's expiry)", dur(func(c *Config) *time.Duration { return &c.JWTTTL })},
	{"jwt-skew", "10s", "clock skew allowed when checking exp and nbf", dur(func(c *Config) *time.Duration { return &c.JWTSkew })},
	{"redis-url", "", "Redis URL (redis:// or rediss://; several comma-separated addresses form a cluster); empty: embedded memory store", str(func(c *Config) *string { return &c.RedisURL })},
	{"redis-master-name", "", "Sentinel master name (redis-url then lists the sentinels)", str(func(c *Config) *string { return &c.RedisMasterName })},
	{"redis-prefix", "oms:", "prefix of every Redis key", str(func(c *Config) *string { return &c.RedisPrefix })},
	{"redis-timeout", "1s", "Redis dial, read and write timeout", dur(func(c *Config) *time.Duration { return &c.RedisTimeout })},
	{"store-timeout", "2s", "bound on every Redis command or pipeline, retries included; past it the request answers 502 (503 on /api/v1/oms/*)", dur(func(c *Config) *time.Duration { return &c.StoreTimeout })},
	{"identities-file", "", "JSON list of {email,password,roles,name} imported at start (creates missing, never overwrites)", str(func(c *Config) *string { return &c.IdentitiesFile })},
	{"smtp-url", "", "SMTP server, smtp://user:pass@host:587 or smtps://host:465; empty: write mail to the outbox", str(func(c *Config) *string { return &c.SMTPURL })},
	{"mail-from", "Vero OMS <no-reply@oms.example>", "sender address of outgoing mail", str(func(c *Config) *string { return &c.MailFrom })},
	{"mail-outbox", "", "directory receiving .eml files instead of SMTP (dev mode default: var/outbox); production needs smtp-url or this set explicitly", str(func(c *Config) *string { return &c.MailOutbox })},
	{"session-lifespan", "24h", "login session lifetime", dur(func(c *Config) *time.Duration { return &c.SessionLifespan })},
	{"recovery-code-lifespan", "10m", "lifetime of a recovery code", dur(func(c *Config) *time.Duration { return &c.CodeLifespan })},
	{"recovery-verified-lifespan", "10m", "time to set the password after the code is verified", dur(func(c *Config) *time.Duration { return &c.VerifiedLifespan })},
	{"recovery-max-attempts", "5", "wrong codes before a recovery session dies", integer(func(c *Config) *int { return &c.MaxCodeAttempts })},
	{"login-limit", "10/15m", "failed logins per email from one client network (or one signed-in device): past it, 429", limit(func(c *Config) *auth.Limit { return &c.LoginLimit })},
	{"login-ip-limit", "100/15m", "failed logins per client network", limit(func(c *Config) *auth.Limit { return &c.LoginIPLimit })},
	{"login-account-limit", "100/15m", "failed logins per email from all networks: past it, logins from unknown clients slow down (never refused)", limit(func(c *Config) *auth.Limit { return &c.LoginAccountLimit })},
	{"login-slowdown", "2s", "delay of a login to an account past login-account-limit", dur(func(c *Config) *time.Duration { return &c.LoginSlowdown })},
	{"recovery-limit", "5/1h", "recovery starts per email (known or not)", limit(func(c *Config) *auth.Limit { return &c.RecoveryLimit })},
	{"recovery-ip-limit", "30/1h", "recovery starts per client network", limit(func(c *Config) *auth.Limit { return &c.RecoveryIPLimit })},
	{"verify-ip-limit", "60/15m", "recovery code checks per client network", limit(func(c *Config) *auth.Limit { return &c.VerifyIPLimit })},
	{"reset-ip-limit", "30/15m", "password resets per client network", limit(func(c *Config) *auth.Limit { return &c.ResetIPLimit })},
	{"recovery-code-budget", "10/24h", "recovery code checks per address across all its recovery sessions; past it no code is mailed and checks get 429", limit(func(c *Config) *auth.Limit { return &c.RecoveryCodeBudget })},
	{"throttle-ipv4-prefix", "32", "prefix length of the IPv4 client network the per-IP limits count", prefixLen(32, func(c *Config) *int { return &c.ThrottleIPv4Prefix })},
	{"throttle-ipv6-prefix", "64", "prefix length of the IPv6 client network the per-IP limits count (a host gets a whole /64)", prefixLen(128, func(c *Config) *int { return &c.ThrottleIPv6Prefix })},
	{"password-min", "8", "shortest accepted password (characters)", integer(func(c *Config) *int { return &c.PasswordMin })},
	{"password-max", "256", "longest accepted password (characters)", integer(func(c *Config) *int { return &c.PasswordMax })},
	{"hash-concurrency", strconv.Itoa(runtime.NumCPU()), "argon2id hashes allowed at once (each uses 19 MiB)", integer(func(c *Config) *int { return &c.HashConcurrency })},
	{"hash-memory", "19456", "argon2id memory per password hash, in KiB (OWASP baseline 19456); outside dev mode at least the baseline's cost (memory × passes ≥ 19456 × 2, memory ≥ 7168)", integer(func(c *Config) *int { return &c.HashMemoryKiB })},
	{"hash-time", "2", "argon2id passes per password hash (OWASP baseline 2 at 19456 KiB)", integer(func(c *Config) *int { return &c.HashTime })},
	{"hash-wait", "5s", "longest wait for a free hashing slot; past it password routes answer 503 with Retry-After", dur(func(c *Config) *time.Duration { return &c.HashWait })},
	{"max-body-bytes", "65536", "largest accepted request body; larger gets 413", func(c *Config, v string) error {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("want a positive number of bytes, got %q", v)
		}
		c.MaxBodyBytes = n
		return nil
	}},
	{"cookie-secure", "true", "mark the recovery cookie Secure (dev mode defaults to false)", boolean(func(c *Config) *bool { return &c.CookieSecure })},
	{"trusted-proxies", "", "comma-separated CIDRs whose X-Forwarded-For is trusted for the client IP", func(c *Config, v string) error {
		c.TrustedProxies = nil
		for _, part := range strings.Split(v, ",") {
			if part = strings.TrimSpace(part); part == "" {
				continue
			}
			_, n, err := net.ParseCIDR(part)
			if err != nil {
				return fmt.Errorf("want CIDRs such as 10.0.0.0/8, got %q", part)
			}
			c.TrustedProxies = append(c.TrustedProxies, n)
		}
		return nil
	}},
	{"read-header-timeout", "5s", "HTTP read-header timeout", dur(func(c *Config) *time.Duration { return &c.ReadHeaderTimeout })},
	{"read-timeout", "15s", "HTTP read timeout", dur(func(c *Config) *time.Duration { return &c.ReadTimeout })},
	{"write-timeout", "30s", "HTTP write timeout", dur(func(c *Config) *time.Duration { return &c.WriteTimeout })},
	{"idle-timeout", "120s", "HTTP keep-alive idle timeout", dur(func(c *Config) *time.Duration { return &c.IdleTimeout })},
	{"shutdown-timeout", "20s", "grace period for in-flight requests on SIGTERM", dur(func(c *Config) *time.Duration { return &c.ShutdownTimeout })},
}

// flagValue adapts a setting to flag.Value.
type flagValue struct {
	c   *Config
	s   setting
	cur string
}

func (f *flagValue) String() string     { return f.cur }
func (f *flagValue) Set(v string) error { f.cur = v; return f.s.set(f.c, v) }
func (f *flagValue) IsBoolFlag() bool   { return f.s.def == "true" || f.s.def == "false" }

// ParseConfig reads defaults, then OMS_* variables from env, then flags.
// It returns flag.ErrHelp after printing the table for -h/--help.
func ParseConfig(args []string, env func(string) (string, bool), out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet("omsd serve", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	explicit := map[string]bool{}
	for _, s := range settings {
		v := s.def
		if e, ok := env(s.env()); ok {
			v = e
			explicit[s.name] = true
		}
		if err := s.set(&c, v); err != nil {
			return c, fmt.Errorf("%s: %w", s.env(), err)
		}
		fs.Var(&flagValue{c: &c, s: s, cur: v}, s.name, s.help)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printSettings(out)
		}
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	fs.Visit(func(f *flag.Flag) { explicit[f.Name] = true })
	if c.Dev && !explicit["cookie-secure"] {
		c.CookieSecure = false // plain-http localhost
	}
	if c.Dev && !explicit["market-session"] {
		c.MarketSession = "continuous" // a demo order can trade at any hour
	}
	if c.Dev && c.MailOutbox == "" {
		c.MailOutbox = "var/outbox"
	}
	return c, nil
}

func printSettings(w io.Writer) {
	fmt.Fprintln(w, "Usage: omsd serve [flags]\n\nEvery setting reads its environment variable; a flag overrides it.")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "\nFLAG\tENVIRONMENT\tDEFAULT\tMEANING")
	for _, s := range settings {
		def := s.def
		if def == "" {
			def = "(none)"
		}
		fmt.Fprintf(tw, "--%s\t%s\t%s\t%s\n", s.name, s.env(), def, s.help)
	}
	tw.Flush()
}

// osEnv is os.LookupEnv; a variable for tests.
var osEnv = os.LookupEnv
