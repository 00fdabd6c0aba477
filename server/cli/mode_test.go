package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// Dev mode seeds identities with published passwords (one of them admin):
// it must never reach a shared Redis or a public address.
func TestDevModeRefusesRedisAndPublicAddresses(t *testing.T) {
	dev := func(mut func(*Config)) error {
		c, err := ParseConfig([]string{"--dev"}, noEnv, nil)
		if err != nil {
			t.Fatal(err)
		}
		c.MailOutbox = filepath.Join(t.TempDir(), "out")
		mut(&c)
		app, err := Build(context.Background(), c, discard())
		if err == nil {
			app.Close(context.Background())
		}
		return err
	}
	srv := redistest.StartRedis(t)
	if err := dev(func(c *Config) { c.RedisURL, c.RedisPrefix = srv.URL(), redistest.UniquePrefix() }); err == nil || !strings.Contains(err.Error(), "--dev-redis") {
		t.Fatalf("dev mode on Redis without --dev-redis: %v", err)
	}
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.0.2.1:8080", "[::]:8080", "oms.example:8080"} {
		if err := dev(func(c *Config) { c.Addr = addr }); err == nil || !strings.Contains(err.Error(), "loopback") {
			t.Errorf("dev mode on %s: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", "[::1]:8080", "localhost:8080"} {
		if err := dev(func(c *Config) { c.Addr = addr }); err != nil {
			t.Errorf("dev mode on %s: %v", addr, err)
		}
	}
	prefix := redistest.UniquePrefix()
	if err := dev(func(c *Config) { c.RedisURL, c.RedisPrefix, c.DevRedis = srv.URL(), prefix, true }); err != nil {
		t.Fatalf("dev mode with --dev-redis: %v", err)
	}
}

// productionConfig is a complete production configuration on the given store.
func productionConfig(t *testing.T, redisURL, prefix string) Config {
	t.Helper()
	c, err := ParseConfig(nil, noEnv, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	k, err := token.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	c.KeyFile = filepath.Join(dir, "jwt.jwk")
	if err := token.WriteKeyFile(c.KeyFile, k); err != nil {
		t.Fatal(err)
	}
	c.Secret = strings.Repeat("s", 40)
	c.MailOutbox = filepath.Join(dir, "outbox")
	c.RedisURL, c.RedisPrefix = redisURL, prefix
	return c
}

// A production start refuses while any demo identity still signs in with
// its published password (left behind by a dev run on the same Redis).
func TestProductionRefusesLiveDemoIdentities(t *testing.T) {
	srv := redistest.StartRedis(t)
	prefix := redistest.UniquePrefix()
	c, _ := ParseConfig([]string{"--dev"}, noEnv, nil)
	c.RedisURL, c.RedisPrefix, c.DevRedis, c.MailOutbox = srv.URL(), prefix, true, filepath.Join(t.TempDir(), "out")
	app, err := Build(context.Background(), c, discard())
	if err != nil {
		t.Fatal(err)
	}
	app.Close(context.Background())

	prod := productionConfig(t, srv.URL(), prefix)
	_, err = Build(context.Background(), prod, discard())
	if err == nil || !strings.Contains(err.Error(), "admin@oms.example") || !strings.Contains(err.Error(), "omsd identity disable") {
		t.Fatalf("production with live demo identities: %v", err)
	}
	// Disabling them (or changing their passwords) lets production start.
	app, err = Build(context.Background(), c, discard())
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range auth.DemoIdentities {
		if _, err := app.Identities.DisableIdentity(context.Background(), d.Email); err != nil {
			t.Fatal(err)
		}
	}
	app.Close(context.Background())
	app, err = Build(context.Background(), prod, discard())
	if err != nil {
		t.Fatalf("production after disabling the demo identities: %v", err)
	}
	app.Close(context.Background())
}

// Production mails recovery codes: without SMTP it refuses to start unless
// an outbox directory is configured explicitly.
func TestProductionNeedsAMailServerOrAnExplicitOutbox(t *testing.T) {
	c := productionConfig(t, "", "")
	c.MailOutbox = ""
	_, err := Build(context.Background(), c, discard())
	if err == nil || !strings.Contains(err.Error(), "OMS_SMTP_URL") {
		t.Fatalf("production without SMTP or outbox: %v", err)
	}
	c.MailOutbox = filepath.Join(t.TempDir(), "outbox")
	app, err := Build(context.Background(), c, discard())
	if err != nil {
		t.Fatalf("production with an explicit outbox: %v", err)
	}
	app.Close(context.Background())
	dev, _ := ParseConfig([]string{"--dev"}, noEnv, nil)
	if dev.MailOutbox != "var/outbox" {
		t.Fatalf("dev mode outbox default %q", dev.MailOutbox)
	}
}

// The instrument master and the market clock are loaded at start: a bad
// file or session name refuses to start, naming what is wrong; dev mode
// pins the continuous session unless told otherwise.
func TestMarketSettingsAreCheckedAtStart(t *testing.T) {
	build := func(args ...string) (*App, error) {
		c, err := ParseConfig(append([]string{"--dev"}, args...), noEnv, nil)
		if err != nil {
			return nil, err
		}
		c.MailOutbox = filepath.Join(t.TempDir(), "out")
		app, err := Build(context.Background(), c, discard())
		if err == nil {
			t.Cleanup(func() { app.Close(context.Background()) })
		}
		return app, err
	}
	app, err := build()
	if err != nil {
		t.Fatal(err)
	}
	if s, pinned := app.MarketClock.PinnedSession(); !pinned || s.String() != "continuous" {
		t.Fatalf("dev mode session: %v pinned=%v", s, pinned)
	}
	if _, ok := app.Market.Instruments.ByTicker("FPT"); !ok {
		t.Fatal("the embedded dev set has no FPT")
	}
	if app, err = build("--market-session", "auto"); err != nil {
		t.Fatal(err)
	} else if _, pinned := app.MarketClock.PinnedSession(); pinned {
		t.Fatal("--market-session auto is pinned")
	}
	if _, err := build("--market-session", "lunchtime"); err == nil || !strings.Contains(err.Error(), "OMS_MARKET_SESSION") {
		t.Fatalf("unknown session: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "instruments.json")
	if err := os.WriteFile(bad, []byte(`{"instruments":[{"ticker":"FPT","colour":"red"}]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := build("--instruments-file", bad); err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("bad instruments file: %v", err)
	}
	if _, err := build("--instruments-file", filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Fatal("a missing instruments file was accepted")
	}

	// The trading calendar: the embedded dev calendar with the dev set,
	// OMS_HOLIDAYS_FILE's dates when given, a bad file refuses to start.
	if app, err = build(); err != nil || !app.Market.Schedule.Holidays["2026-09-02"] {
		t.Fatalf("the dev calendar: %v", err)
	}
	days := filepath.Join(t.TempDir(), "holidays.json")
	if err := os.WriteFile(days, []byte(`{"holidays": ["2026-12-24"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if app, err = build("--holidays-file", days); err != nil || !app.Market.Schedule.Holidays["2026-12-24"] || app.Market.Schedule.Holidays["2026-09-02"] {
		t.Fatalf("a holidays file: %v %v", err, app.Market.Schedule.Holidays)
	}
	if ok, _ := app.MarketClock.Schedule().IsTradingDay("2026-12-24"); ok {
		t.Fatal("the clock's calendar lacks the file's holiday")
	}
	if err := os.WriteFile(days, []byte(`{"holidays": ["24/12/2026"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := build("--holidays-file", days); err == nil || !strings.Contains(err.Error(), days) {
		t.Fatalf("a bad holidays file: %v", err)
	}
}
