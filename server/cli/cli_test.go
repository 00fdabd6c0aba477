package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestServeHelpListsEverySettingWithItsDefault(t *testing.T) {
	var out bytes.Buffer
	if code := Main(context.Background(), []string{"serve", "--help"}, nil, &out, &out); code != 0 {
		t.Fatalf("exit %d: %s", code, out.String())
	}
	for _, s := range settings {
		line := ""
		for _, l := range strings.Split(out.String(), "\n") {
			if strings.HasPrefix(l, "--"+s.name+" ") {
				line = l
			}
		}
		if line == "" || !strings.Contains(line, s.env()) {
			t.Errorf("--help lacks %s / %s", s.name, s.env())
			continue
		}
		if s.def != "" && !strings.Contains(line, s.def) {
			t.Errorf("--help line for %s lacks its default %q: %s", s.name, s.def, line)
		}
	}
}

func TestFlagsOverrideEnvironment(t *testing.T) {
	c, err := ParseConfig([]string{"--addr", "127.0.0.1:9999", "--login-limit", "3/1m"},
		envOf(map[string]string{"OMS_ADDR": "127.0.0.1:7777", "OMS_JWT_TTL": "5m", "OMS_LOGIN_LIMIT": "9/9m"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Addr != "127.0.0.1:9999" || c.JWTTTL.String() != "5m0s" || c.LoginLimit.Count != 3 || c.LoginLimit.Window.String() != "1m0s" {
		t.Fatalf("%+v", c)
	}
	if _, err := ParseConfig(nil, envOf(map[string]string{"OMS_LOGIN_LIMIT": "lots"}), nil); err == nil || !strings.Contains(err.Error(), "OMS_LOGIN_LIMIT") {
		t.Fatalf("a bad value must name its variable: %v", err)
	}
	dev, _ := ParseConfig([]string{"--dev"}, noEnv, nil)
	prod, _ := ParseConfig(nil, noEnv, nil)
	if dev.CookieSecure || !prod.CookieSecure {
		t.Fatal("the recovery cookie is Secure except in dev mode")
	}
}

func TestProductionRefusesDevDefaults(t *testing.T) {
	var out bytes.Buffer
	t.Setenv("OMS_ADDR", "127.0.0.1:0")
	code := Main(context.Background(), []string{"serve"}, nil, &out, &out)
	if code == 0 || !strings.Contains(out.String(), "refusing to start in production mode") ||
		!strings.Contains(out.String(), "OMS_JWT_KEY_FILE") || !strings.Contains(out.String(), "OMS_SECRET") {
		t.Fatalf("exit %d: %s", code, out.String())
	}
}

func TestKeysAndIdentityCommands(t *testing.T) {
	dir := t.TempDir()
	var out bytes.Buffer
	keyFile := filepath.Join(dir, "k.jwk")
	if code := Main(context.Background(), []string{"keys", "generate", "--out", keyFile}, nil, &out, &out); code != 0 {
		t.Fatalf("keys generate: %s", out.String())
	}
	if st, err := os.Stat(keyFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", st, err)
	}
	if code := Main(context.Background(), []string{"keys", "generate", "--out", keyFile}, nil, &out, &out); code == 0 {
		t.Fatal("keys generate must not overwrite a key")
	}

	srv := redistest.StartRedis(t)
	t.Setenv("OMS_REDIS_URL", srv.URL())
	t.Setenv("OMS_REDIS_PREFIX", redistest.UniquePrefix())
	run := func(stdin string, args ...string) (int, string) {
		var b bytes.Buffer
		code := Main(context.Background(), args, strings.NewReader(stdin), &b, &b)
		return code, b.String()
	}
	if code, s := run("a-good-operator-pass\n", "identity", "create", "--email", "Ops@OMS.example", "--role", "admin,checker", "--name", "Ops"); code != 0 || !strings.Contains(s, "ops@oms.example") {
		t.Fatalf("create: %d %s", code, s)
	}
	if code, s := run("a-good-operator-pass\n", "identity", "create", "--email", "ops@oms.example", "--role", "admin"); code == 0 || !strings.Contains(s, "already exists") {
		t.Fatalf("duplicate create: %d %s", code, s)
	}
	if code, s := run("short\n", "identity", "create", "--email", "weak@oms.example", "--role", "trader"); code == 0 || !strings.Contains(s, "at least 8") {
		t.Fatalf("weak password: %d %s", code, s)
	}
	if code, s := run("another-good-pass\n", "identity", "create", "--email", "x@oms.example", "--role", "janitor"); code == 0 || !strings.Contains(s, "unknown role") {
		t.Fatalf("bad role: %d %s", code, s)
	}
	if code, s := run("", "identity", "list"); code != 0 || !strings.Contains(s, "ops@oms.example") || !strings.Contains(s, "admin,checker") || !strings.Contains(s, "active") {
		t.Fatalf("list: %d %s", code, s)
	}
	if code, s := run("", "identity", "disable", "--email", "ops@oms.example"); code != 0 {
		t.Fatalf("disable: %d %s", code, s)
	}
	if code, s := run("", "identity", "list"); code != 0 || !strings.Contains(s, "disabled") {
		t.Fatalf("list after disable: %d %s", code, s)
	}
}

func TestIdentitiesFileImportNeverOverwrites(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "ids.json")
	write := func(v any) {
		b, _ := json.Marshal(v)
		if err := os.WriteFile(file, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write([]map[string]any{{"email": "desk@oms.example", "password": "first-desk-password", "roles": []string{"trader"}, "name": "Desk"}})
	srv := redistest.StartRedis(t)
	c, _ := ParseConfig([]string{"--dev"}, noEnv, nil)
	c.RedisURL, c.RedisPrefix, c.IdentitiesFile, c.MailOutbox = srv.URL(), redistest.UniquePrefix(), file, filepath.Join(dir, "out")
	c.DevRedis = true // a throwaway Redis
	log := discard()
	app, err := Build(context.Background(), c, log)
	if err != nil {
		t.Fatal(err)
	}
	app.Close(context.Background())
	write([]map[string]any{{"email": "desk@oms.example", "password": "second-desk-password", "roles": []string{"admin"}}})
	app, err = Build(context.Background(), c, log)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	if _, err := app.Auth.Login(context.Background(), "desk@oms.example", "first-desk-password", authClient); err != nil {
		t.Fatalf("the first password must still work: %v", err)
	}
	id, _ := app.Store.IdentityByEmail(context.Background(), "desk@oms.example")
	if strings.Join(id.Roles, ",") != "trader" {
		t.Fatalf("roles overwritten: %v", id.Roles)
	}
	_ = os.WriteFile(file, []byte(`[{"email":"x@oms.example","pasword":"typo"}]`), 0o600)
	if _, err := Build(context.Background(), c, log); err == nil || !strings.Contains(err.Error(), "pasword") {
		t.Fatalf("unknown keys in the identities file must be refused: %v", err)
	}
}

var authClient = auth.Client{IP: "192.0.2.7"}

func discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

// The whole auth service on a real 3-master Redis Cluster, configured the
// way an operator would (a comma-separated seed list): every script must stay
// within one slot or Redis answers CROSSSLOT.
func TestServiceOnRedisCluster(t *testing.T) {
	cluster := redistest.StartRedisCluster(t, 3)
	c, _ := ParseConfig([]string{"--dev"}, noEnv, nil)
	c.RedisURL = strings.Join(cluster.Addrs(), ",")
	c.DevRedis = true // a throwaway cluster
	c.RedisPrefix = redistest.UniquePrefix()
	c.MailOutbox = filepath.Join(t.TempDir(), "out")
	app, err := Build(context.Background(), c, discard())
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(context.Background())
	ctx := context.Background()
	in, err := app.Auth.Login(ctx, "maker@oms.example", "demo-maker-pass", authClient)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Auth.Authenticate(ctx, in.JWT); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Auth.StartRecovery(ctx, "maker@oms.example", authClient); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Identities.DisableIdentity(ctx, "maker@oms.example"); err != nil {
		t.Fatal(err)
	}
	if _, err := app.Auth.Authenticate(ctx, in.JWT); err == nil {
		t.Fatal("disabling must revoke the JWT at once")
	}
}

// TestMinProcsOnlyRaisesGOMAXPROCS: --min-procs raises Go's choice, never
// lowers it, and gives way to 0 and to GOMAXPROCS in the environment.
func TestMinProcsOnlyRaisesGOMAXPROCS(t *testing.T) {
	was := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(was) })
	c, err := ParseConfig(nil, noEnv, nil)
	if err != nil || c.MinProcs != 4 {
		t.Fatalf("default min-procs: %d, %v", c.MinProcs, err)
	}
	for _, tc := range []struct {
		procs, min int
		env        string
		want       int
	}{{2, 4, "", 4}, {1, 4, "", 4}, {6, 4, "", 6}, {4, 4, "", 4}, {2, 0, "", 2}, {2, 4, "2", 2}} {
		runtime.GOMAXPROCS(tc.procs)
		t.Setenv("GOMAXPROCS", tc.env) // "" counts as unset, as for GOGC
		raised := applyProcs(Config{MinProcs: tc.min})
		if got := runtime.GOMAXPROCS(0); got != tc.want || (raised != 0) != (tc.want != tc.procs) {
			t.Errorf("%d Ps, min %d, GOMAXPROCS=%q: %d Ps (reported %d), want %d", tc.procs, tc.min, tc.env, got, raised, tc.want)
		}
	}
}
