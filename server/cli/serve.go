package cli

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"

	"github.com/vero-oms/omsd/server"
	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/fixacceptor"
	"github.com/vero-oms/omsd/server/latency"
	"github.com/vero-oms/omsd/server/mail"
	"github.com/vero-oms/omsd/server/market"
	"github.com/vero-oms/omsd/server/marketdata"
	"github.com/vero-oms/omsd/server/metrics"
	"github.com/vero-oms/omsd/server/password"
	"github.com/vero-oms/omsd/server/puthrough"
	"github.com/vero-oms/omsd/server/risk"
	"github.com/vero-oms/omsd/server/stream"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/server/trading"
	"github.com/vero-oms/omsd/server/workflow"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
	"github.com/vero-oms/omsd/store/redis"
)

// App is a fully wired service: what `omsd serve` runs, and what end-to-end
// tests start in-process on their own listener.
type App struct {
	Handler    http.Handler
	Auth       *auth.Service
	Identities *auth.IdentityAdmin
	Store      store.Store
	Tokens     *token.Issuer // JWT issuer; CacheStats reports its verified-token cache
	Outbox     string        // directory of the mail outbox; empty when SMTP is used
	closers    []func(context.Context)

	// Market is the instrument master and MarketClock the market sessions,
	// loaded and checked at start for the trading service (issue 6).
	Market      *market.Config
	MarketClock *market.Clock
	// Trading is the order pipeline (and its venue); Latency the latency
	// records.
	Trading    *trading.Service
	PutThrough *puthrough.Desk
	Latency    latency.Store
	// Stream is the Streaming API (issue 15), mounted on Handler;
	// MarketData its market data, fed by the venue simulator's books.
	Stream     *stream.Server
	MarketData *marketdata.Feed

	recorder *latency.Recorder
	hasher   *password.Hasher

	// FIX is the FIX 4.2 acceptor (issue 17); nil when OMS_FIX_ADDR is off.
	FIX *fixacceptor.Acceptor

	// MetricsHandler serves GET /metrics; nil when metrics are disabled
	// (empty OMS_METRICS_ADDR). Serve runs it on its own listener.
	MetricsHandler http.Handler
}

// Close releases the app's resources (mail queue first, then the store).
func (a *App) Close(ctx context.Context) {
	for i := len(a.closers) - 1; i >= 0; i-- {
		a.closers[i](ctx)
	}
}

// checkMode refuses what must never happen in each mode: dev mode (demo
// identities with published passwords) anywhere but an embedded store on a
// loopback address, and production without its keys, secret and mail.
func checkMode(c Config) error {
	if c.Dev {
		if c.RedisURL != "" && !c.DevRedis {
			return errors.New("refusing dev mode on a Redis store: its demo identities (published passwords, one of them admin) would stay in that Redis for good; use the embedded store, or add --dev-redis for a throwaway Redis")
		}
		if !loopbackAddr(c.Addr) {
			return fmt.Errorf("refusing dev mode on %s: dev mode has demo identities with published passwords, so it listens on loopback addresses only (127.0.0.1, ::1, localhost)", c.Addr)
		}
		return checkHashCost(c, 8, 1) // dev: any cost argon2id takes (tests use cheap hashes)
	}
	if err := checkHashCost(c, 7168, 19456*2); err != nil {
		return err
	}
	var missing []string
	if c.KeyFile == "" {
		missing = append(missing, "a JWT signing key (OMS_JWT_KEY_FILE; `omsd keys generate` makes one)")
	}
	if c.Secret == "" && c.SecretFile == "" {
		missing = append(missing, "a server secret of at least 32 bytes (OMS_SECRET_FILE or OMS_SECRET)")
	}
	if c.SMTPURL == "" && c.MailOutbox == "" {
		missing = append(missing, "a mail server for recovery codes (OMS_SMTP_URL; or OMS_MAIL_OUTBOX set explicitly to write .eml files instead)")
	}
	if len(missing) > 0 {
		return fmt.Errorf("refusing to start in production mode without %s; use --dev for a local trial", strings.Join(missing, " and "))
	}
	return nil
}

// checkHashCost refuses an argon2id cost below minMemory KiB or below
// minWork KiB × passes in all (the OWASP baseline trades memory for passes).
func checkHashCost(c Config, minMemory, minWork int) error {
	if c.HashMemoryKiB < minMemory || c.HashTime < 1 || c.HashMemoryKiB*c.HashTime < minWork || c.HashMemoryKiB > 1<<20 || c.HashTime > 100 {
		return fmt.Errorf("refusing argon2id cost memory %d KiB × %d passes: at least %d KiB and %d KiB × passes in all (at most 1 GiB, 100 passes)",
			c.HashMemoryKiB, c.HashTime, minMemory, minWork)
	}
	return nil
}

// hashParams are the argon2id parameters of new password hashes.
func hashParams(c Config) password.Params {
	p := password.DefaultParams
	p.Memory, p.Time = uint32(c.HashMemoryKiB), uint32(c.HashTime)
	return p
}

// loopbackAddr reports whether a listen address binds loopback only.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// refuseDemoIdentities stops a production start while any demo identity
// still signs in with its published password.
// loadMarket loads the instrument master (the file, or the embedded dev
// set) and the market clock, refusing a bad file or session name at start.
func loadMarket(c Config, app *App, log *slog.Logger) error {
	var (
		mc  *market.Config
		err error
	)
	source := c.InstrumentsFile
	if source != "" {
		mc, err = market.LoadFile(source)
	} else {
		source = "embedded dev set"
		mc, err = market.Dev()
	}
	if err != nil {
		return err
	}
	calendar, err := addHolidays(c, mc, source)
	if err != nil {
		return err
	}
	now := time.Now
	if c.Clock != nil {
		now = c.Clock
	}
	clock, err := market.ClockFromMode(c.MarketSession, mc.Schedule, now)
	if err != nil {
		return err
	}
	app.Market, app.MarketClock = mc, clock
	session := "auto (each market's schedule, Asia/Ho_Chi_Minh)"
	if s, pinned := clock.PinnedSession(); pinned {
		session = "pinned to " + s.String()
	}
	log.Info("instrument master loaded", "source", source, "instruments", mc.Instruments.Len(), "market_session", session,
		"holidays", len(mc.Schedule.Holidays), "calendar", calendar)
	return nil
}

// addHolidays adds OMS_HOLIDAYS_FILE's dates (or, with the embedded dev
// set and no file, the embedded dev calendar) to the schedule, and says
// where they came from.
func addHolidays(c Config, mc *market.Config, instruments string) (string, error) {
	switch {
	case c.HolidaysFile != "":
		h, err := market.LoadHolidays(c.HolidaysFile)
		if err != nil {
			return "", err
		}
		mc.Schedule.AddHolidays(h)
		return c.HolidaysFile, nil
	case c.InstrumentsFile == "":
		mc.Schedule.AddHolidays(market.DevHolidays())
		return "embedded dev calendar", nil
	}
	return "weekends and " + instruments + "'s holidays", nil
}

// demoGrants are the demo identities' levels on both demo accounts.
var demoGrants = map[string]store.GrantLevel{
	"admin@oms.example":   store.LevelAdmin,
	"maker@oms.example":   store.LevelView,
	"checker@oms.example": store.LevelView,
	"trader@oms.example":  store.LevelTrade,
}

func refuseDemoIdentities(ctx context.Context, st store.Identities, h *password.Hasher) error {
	var live []string
	for _, d := range auth.DemoIdentities {
		id, err := st.IdentityByEmail(ctx, d.Email)
		if errors.Is(err, store.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("checking for demo identities: %w", err)
		}
		if id.State != store.IdentityActive {
			continue
		}
		if ok, err := h.Verify(ctx, d.Password, id.PasswordHash); err == nil && ok {
			live = append(live, d.Email)
		}
	}
	if len(live) > 0 {
		return fmt.Errorf("refusing to start in production: the demo identities %s still sign in with their published passwords; disable them first (omsd identity disable --email %s)", strings.Join(live, ", "), live[0])
	}
	return nil
}

// Build wires the app from a configuration.
func Build(ctx context.Context, c Config, log *slog.Logger) (*App, error) {
	if err := checkMode(c); err != nil {
		return nil, err
	}
	app := &App{}
	fail := func(err error) (*App, error) { app.Close(context.Background()); return nil, err }
	if err := loadMarket(c, app, log); err != nil {
		return fail(err)
	}
	var m *metrics.Metrics
	if c.MetricsAddr != "" || c.MetricsListener != nil {
		m = metrics.New()
		app.MetricsHandler = m.Handler()
	}
	st, err := openStore(ctx, c, log, m)
	if err != nil {
		return fail(err)
	}
	app.Store = st
	app.closers = append(app.closers, func(context.Context) { _ = st.Close() })
	if err := buildAuth(ctx, c, app, m, log); err != nil {
		return fail(err)
	}
	if err := seedDev(ctx, c, app, log); err != nil {
		return fail(err)
	}
	if err := startTrading(ctx, c, app, st, log); err != nil {
		return fail(err)
	}
	if err := buildFIX(c, app, st, m, log); err != nil {
		return fail(err)
	}
	if err := startStream(c, app, st, m, log); err != nil {
		return fail(err)
	}
	if m != nil {
		m.WatchVenueBacklog(app.Trading)
		m.WatchLatencyRecorder(recorderCounters{app.recorder})
	}
	services := server.Services{Auth: app.Auth, Tokens: app.Tokens, Health: st}.WithBackOffice(st, c.Clock)
	services.Workflow = services.Workflow.WithInstruments(app.Market.Instruments)
	services.Trading, services.PutThrough, services.Latency = app.Trading, app.PutThrough, app.Latency
	opts := server.Options{
		Logger: log, Services: services,
		MaxBodyBytes: c.MaxBodyBytes, CookieSecure: c.CookieSecure, TrustedProxies: c.TrustedProxies,
	}
	if m != nil {
		opts.Metrics = m
	}
	h, err := server.New(opts)
	if err != nil {
		return fail(err)
	}
	app.Handler = withStream(h, app.Stream, devDay(c, app, log))
	return app, nil
}

// withStream serves the Streaming API's paths beside the REST API, and
// the dev next-day endpoint when dev is not nil.
func withStream(api http.Handler, s *stream.Server, dev http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/", api)
	sh := s.Handler()
	for _, p := range stream.Paths {
		mux.Handle(p, sh)
	}
	if dev != nil {
		mux.Handle(DevDayPath, dev)
	}
	return mux
}

// devDay is the dev next-day endpoint: dev mode, on the instance that
// runs the venue (it moves that instance's market clock only).
func devDay(c Config, app *App, log *slog.Logger) http.Handler {
	if !c.Dev || c.Venue == "off" {
		return nil
	}
	o := devDayOptions{Auth: app.Auth, Trading: app.Trading, Log: log}
	if c.DevMarketMaker {
		o.After = func(ctx context.Context) error { _, err := app.Trading.SeedMarketMaker(ctx); return err }
	}
	log.Warn("dev mode: POST "+DevDayPath+" with an admin's bearer token moves to the next trading day (T+2 settles on the second)",
		"trading_date", app.MarketClock.TradingDate())
	return devDayHandler(o)
}

// startStream starts the Streaming API: on the store's Redis (broker and
// presence) when the store is Redis, in memory otherwise. The instance
// that runs the venue drains the outbox; any instance serves clients.
func startStream(c Config, app *App, st store.Store, m *metrics.Metrics, log *slog.Logger) error {
	o := stream.Options{Sessions: app.Auth, Tokens: app.Tokens, Permissions: risk.New(st), Market: app.MarketData,
		HistorySize: c.StreamHistorySize, HistoryTTL: c.StreamHistoryTTL, Log: log, Now: c.Clock,
		CommandRate: float64(c.StreamCommandRate), CommandBurst: c.StreamCommandBurst, PublishEvery: c.StreamOutboxPoll}
	if c.Venue != "off" {
		o.Outbox = st
		if app.FIX != nil {
			o.Observe = app.FIX.Queue
		}
	}
	if c.RedisURL != "" {
		uo, err := redis.ParseURL(c.RedisURL, c.RedisMasterName)
		if err != nil {
			return fmt.Errorf("OMS_REDIS_URL: %w", err)
		}
		o.Redis = &stream.Redis{Options: uo, Prefix: c.RedisPrefix + "stream", Timeout: c.RedisTimeout}
	}
	if m != nil {
		o.Metrics = m.Registry()
	}
	s, err := stream.New(o)
	if err != nil {
		return fmt.Errorf("streaming API: %w", err)
	}
	app.Stream = s
	app.closers = append(app.closers, s.Close)
	if m != nil {
		m.WatchStream(s)
	}
	return nil
}

// buildAuth builds the authentication host: the server secret and the
// signing keys, the mailer, the hasher and the auth service, and imports
// OMS_IDENTITIES_FILE. Outside dev mode it refuses a store that still
// holds the demo identities.
func buildAuth(ctx context.Context, c Config, app *App, m *metrics.Metrics, log *slog.Logger) error {
	secret, err := loadSecret(c, log)
	if err != nil {
		return err
	}
	tokens, err := loadTokens(c, log)
	if err != nil {
		return err
	}
	mailer, err := startMailer(c, app, m, log)
	if err != nil {
		return err
	}
	hasher := password.NewHasher(hashParams(c), c.HashConcurrency)
	app.hasher = hasher
	deps := auth.Deps{Store: app.Store, Hasher: hasher, Tokens: tokens, Mailer: mailer, Secret: secret, Logger: log, Clock: c.Clock}
	if m != nil {
		deps.Events = m
	}
	svc, err := auth.New(authConfig(c), deps)
	if err != nil {
		return err
	}
	app.closers = append(app.closers, func(context.Context) { svc.Close() })
	app.Auth, app.Tokens = svc, tokens
	app.Identities = auth.NewIdentityAdmin(app.Store, hasher, svc.Config().PasswordPolicy)
	if c.IdentitiesFile != "" {
		list, err := auth.LoadIdentitiesFile(c.IdentitiesFile)
		if err != nil {
			return fmt.Errorf("OMS_IDENTITIES_FILE: %w", err)
		}
		res, err := app.Identities.ImportIdentities(ctx, list)
		if err != nil {
			return fmt.Errorf("importing identities: %w", err)
		}
		log.Info("identities imported", "file", c.IdentitiesFile, "created", res.Created, "existing", res.Existing)
	}
	if !c.Dev {
		return refuseDemoIdentities(ctx, app.Store, hasher)
	}
	return nil
}

// startMailer starts the asynchronous mailer on SMTP, or on the .eml
// outbox when no SMTP server is configured.
func startMailer(c Config, app *App, m *metrics.Metrics, log *slog.Logger) (*mail.Async, error) {
	var sender mail.Sender
	if c.SMTPURL != "" {
		smtp, err := mail.NewSMTP(c.SMTPURL, c.MailFrom, 30*time.Second)
		if err != nil {
			return nil, fmt.Errorf("OMS_SMTP_URL: %w", err)
		}
		sender = smtp
	} else {
		box, err := mail.NewOutbox(c.MailOutbox, c.MailFrom, log)
		if err != nil {
			return nil, fmt.Errorf("mail outbox: %w", err)
		}
		app.Outbox = box.Dir()
		sender = box
		log.Warn("SMTP is not configured: mail is written as .eml files", "dir", box.Dir())
	}
	asyncOpts := mail.AsyncOptions{}
	if m != nil {
		asyncOpts.Events = m
	}
	async := mail.NewAsync(sender, log, asyncOpts)
	if m != nil {
		m.WatchMailQueue(async)
	}
	app.closers = append(app.closers, func(ctx context.Context) { _ = async.Close(ctx) })
	return async, nil
}

// seedDev seeds, in dev mode, the demo identities and (unless turned off)
// the demo back office.
func seedDev(ctx context.Context, c Config, app *App, log *slog.Logger) error {
	if !c.Dev {
		return nil
	}
	res, err := app.Identities.ImportIdentities(ctx, auth.DemoIdentities)
	if err != nil {
		return fmt.Errorf("seeding demo identities: %w", err)
	}
	emails := make([]string, 0, len(auth.DemoIdentities))
	for _, d := range auth.DemoIdentities {
		emails = append(emails, d.Email)
	}
	log.Warn("dev mode: demo identities present (passwords in the README)", "created", res.Created, "emails", strings.Join(emails, ","))
	if !c.DemoData {
		return nil
	}
	now := time.Now
	if c.Clock != nil {
		now = c.Clock
	}
	wrote, err := workflow.SeedDemo(ctx, app.Store, now(), demoGrants)
	if err != nil {
		return fmt.Errorf("seeding the demo back office: %w", err)
	}
	log.Warn("dev mode: demo back office present", "seeded", wrote, "accounts", workflow.DemoAccountAn+","+workflow.DemoAccountBinh)
	return nil
}

func authConfig(c Config) auth.Config {
	return auth.Config{
		SessionLifespan:          c.SessionLifespan,
		RecoveryCodeLifespan:     c.CodeLifespan,
		RecoveryVerifiedLifespan: c.VerifiedLifespan,
		RecoveryMaxAttempts:      c.MaxCodeAttempts,
		LoginPerIdentifier:       c.LoginLimit,
		LoginPerIP:               c.LoginIPLimit,
		LoginPerAccount:          c.LoginAccountLimit,
		LoginSlowdown:            c.LoginSlowdown,
		RecoveryPerEmail:         c.RecoveryLimit,
		RecoveryPerIP:            c.RecoveryIPLimit,
		RecoveryVerifyPerIP:      c.VerifyIPLimit,
		RecoveryResetPerIP:       c.ResetIPLimit,
		RecoveryCodeBudget:       c.RecoveryCodeBudget,
		IPv4Prefix:               c.ThrottleIPv4Prefix,
		IPv6Prefix:               c.ThrottleIPv6Prefix,
		PasswordPolicy:           password.Policy{MinLength: c.PasswordMin, MaxLength: c.PasswordMax},
		HashWait:                 c.HashWait,
	}
}

func loadSecret(c Config, log *slog.Logger) ([]byte, error) {
	switch {
	case c.SecretFile != "":
		b, err := os.ReadFile(c.SecretFile)
		if err != nil {
			return nil, fmt.Errorf("OMS_SECRET_FILE: %w", err)
		}
		b = []byte(strings.TrimSpace(string(b)))
		if len(b) < 32 {
			return nil, errors.New("OMS_SECRET_FILE: the secret must be at least 32 bytes")
		}
		return b, nil
	case c.Secret != "":
		if len(c.Secret) < 32 {
			return nil, errors.New("OMS_SECRET: the secret must be at least 32 bytes")
		}
		return []byte(c.Secret), nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	log.Warn("dev mode: random server secret; recovery codes in flight die with the process")
	return b, nil
}

func loadTokens(c Config, log *slog.Logger) (*token.Issuer, error) {
	var signing jwk.Key
	var err error
	if c.KeyFile != "" {
		if signing, err = token.LoadKeyFile(c.KeyFile); err != nil {
			return nil, fmt.Errorf("OMS_JWT_KEY_FILE: %w", err)
		}
	} else {
		if signing, err = token.Ephemeral(c.JWTAlg); err != nil {
			return nil, err
		}
		log.Warn("dev mode: ephemeral JWT signing key; tokens stop verifying when the process restarts", "kid", signing.KeyID())
	}
	var prev []jwk.Key
	if c.PrevKeyFile != "" {
		k, err := token.LoadKeyFile(c.PrevKeyFile)
		if err != nil {
			return nil, fmt.Errorf("OMS_JWT_PREVIOUS_KEY_FILE: %w", err)
		}
		prev = append(prev, k)
	}
	return token.NewIssuer(token.Config{Issuer: c.JWTIssuer, Audience: c.JWTAudience, TTL: c.JWTTTL, Skew: c.JWTSkew}, signing, prev...)
}

// openStore opens the configured store; m, when set, observes every Redis
// command. The embedded store is not instrumented: it makes no round trips.
func openStore(ctx context.Context, c Config, log *slog.Logger, m *metrics.Metrics) (store.Store, error) {
	if c.RedisURL == "" {
		log.Warn("embedded memory store: every identity created at run time, session and recovery is lost on restart; set OMS_REDIS_URL in production")
		return memory.New(), nil
	}
	// The store parses the URL (one scheme, one user info, a host list):
	// credentials never end up in an address, an error or a log line.
	opts := redis.Options{URL: c.RedisURL, MasterName: c.RedisMasterName, Prefix: c.RedisPrefix,
		DialTimeout: c.RedisTimeout, ReadTimeout: c.RedisTimeout, WriteTimeout: c.RedisTimeout,
		CommandTimeout: c.StoreTimeout}
	if m != nil {
		opts.Observer = m
	}
	st, err := redis.Open(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("OMS_REDIS_URL: %w", err)
	}
	log.Info("redis store", "mode", redisMode(c))
	return st, nil
}

// redisMode names the deployment OMS_REDIS_URL and OMS_REDIS_MASTER_NAME
// describe, as the store parses them.
func redisMode(c Config) string {
	uo, err := redis.ParseURL(c.RedisURL, c.RedisMasterName)
	if err != nil {
		return "invalid"
	}
	return redis.Mode(uo)
}

// Serve runs the app on ln (and /metrics on c.MetricsListener or
// c.MetricsAddr, when the app has metrics) until ctx ends, then shuts down
// gracefully.
func Serve(ctx context.Context, c Config, app *App, ln net.Listener, log *slog.Logger) error {
	var msrv *http.Server
	if app.MetricsHandler != nil {
		mln := c.MetricsListener
		if mln == nil {
			var err error
			if mln, err = net.Listen("tcp", c.MetricsAddr); err != nil {
				_ = ln.Close()
				app.Close(context.Background())
				return fmt.Errorf("OMS_METRICS_ADDR: %w", err)
			}
		}
		msrv = &http.Server{
			Handler:           app.MetricsHandler,
			ReadHeaderTimeout: c.ReadHeaderTimeout,
			ReadTimeout:       c.ReadTimeout,
			WriteTimeout:      c.WriteTimeout,
			IdleTimeout:       c.IdleTimeout,
			MaxHeaderBytes:    64 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		}
		go func() {
			if err := msrv.Serve(mln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				log.Error("metrics server stopped", "err", err)
			}
		}()
		log.Info("serving metrics", "addr", mln.Addr().String(), "path", "/metrics")
	}
	srv := &http.Server{
		Handler:           app.Handler,
		ReadHeaderTimeout: c.ReadHeaderTimeout,
		ReadTimeout:       c.ReadTimeout,
		WriteTimeout:      c.WriteTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	if app.Stream != nil {
		// Streams are never idle: end them when shutdown starts, or
		// Shutdown would wait for them until its deadline.
		srv.RegisterOnShutdown(func() { app.Stream.Close(context.Background()) })
	}
	stopFIX, err := serveFIX(c, app, log)
	if err != nil {
		_ = ln.Close()
		app.Close(context.Background())
		return err
	}
	defer stopFIX()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("serving", "addr", ln.Addr().String(), "dev", c.Dev)
	select {
	case err := <-errc:
		if msrv != nil {
			_ = msrv.Close()
		}
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down", "grace", c.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), c.ShutdownTimeout)
	defer cancel()
	err = srv.Shutdown(sctx)
	if msrv != nil {
		_ = msrv.Shutdown(sctx) // after the API: its last requests are counted
	}
	app.Close(sctx)
	if err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}

// recorderCounters reads the latency recorder for the metrics.
type recorderCounters struct{ r *latency.Recorder }

func (c recorderCounters) Counters() (open, dropped, failed, refused int64) {
	n := c.r.Counters()
	return n.Open, n.Dropped, n.Failed, n.Refused
}

// startTrading wires the order pipeline: the latency recorder and its
// store (on the app's Redis when the store is Redis, in memory otherwise),
// the venue simulator brought to the market's session, the session driver,
// and in dev mode the market maker.
func startTrading(ctx context.Context, c Config, app *App, st store.Store, log *slog.Logger) error {
	clock := latency.NewMonotonicClock()
	var lat latency.Store
	if rs, ok := st.(*redis.Store); ok {
		// Shared by every omsd on this Redis and kept across restarts. Its
		// writer is closed after the trading service stops (closers run
		// last first) and before the store's client.
		ls := rs.LatencyStore(redis.LatencyOptions{Clock: clock, Retention: c.LatencyRetention,
			OnError: func(err error, n int) { log.Warn("latency records not written", "records", n, "err", err) }})
		app.closers = append(app.closers, func(ctx context.Context) { _ = ls.Close(ctx) })
		lat = ls
	} else {
		lat = memory.NewLatency(memory.LatencyOptions{Clock: clock, Retention: c.LatencyRetention})
	}
	rec := latency.NewRecorder(lat, latency.RecorderOptions{Clock: clock})
	now := time.Now
	if c.Clock != nil {
		now = c.Clock
	}
	app.MarketData = marketdata.New(app.Market, time.Now)
	t := trading.New(trading.Options{Store: st, Market: app.Market.Instruments, Clock: app.MarketClock, Latency: rec, Now: now, Log: log,
		Observer: app.MarketData})
	app.Trading, app.PutThrough, app.Latency, app.recorder = t, puthrough.New(t), lat, rec
	if c.Venue == "off" {
		t.DisableVenue("this instance does not run the venue (OMS_VENUE=off): send trading requests to the instance that does")
		log.Info("venue off: this instance serves reads only")
		return nil
	}
	runCtx, stop := context.WithCancel(context.Background())
	host, _ := os.Hostname()
	owner := fmt.Sprintf("%s/%d/%s", host, os.Getpid(), trading.NewClOrdID()[:8])
	release, err := t.HoldVenue(runCtx, st, owner, c.VenueLeaseTTL)
	if err != nil {
		stop()
		return err
	}
	app.closers = append(app.closers, func(ctx context.Context) { stop(); release(ctx) })
	if err := t.Start(ctx); err != nil {
		return fmt.Errorf("starting the venue: %w", err)
	}
	if c.Dev && c.DevMarketMaker {
		n, err := t.SeedMarketMaker(ctx)
		if err != nil {
			return err
		}
		log.Warn("dev mode: market maker orders resting", "account", trading.MarketMakerAccount, "orders", n)
	}
	done := make(chan struct{})
	go func() { defer close(done); t.Run(runCtx, 250*time.Millisecond) }()
	app.closers = append(app.closers, func(context.Context) { stop(); <-done })
	log.Info("venue simulator running here", "owner", owner)
	return nil
}
