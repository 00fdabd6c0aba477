package cli

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

const (
	redisPass    = "Redis-s3cret-pw"
	redisBadPass = "Bad-s3cret-pw"
	sentinelPw   = "Sentinel-s3cret-pw"
)

// prodServe returns an `omsd serve` command in production mode (key file,
// secret, explicit outbox) on addr, with OMS_REDIS_URL (and master) set.
func prodServe(t *testing.T, addr, redisURL, master string) (*exec.Cmd, *lockedBuffer) {
	t.Helper()
	dir := t.TempDir()
	key, err := token.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "jwt.json")
	if err := token.WriteKeyFile(keyFile, key); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "serve", "--addr", addr, "--mail-outbox", filepath.Join(dir, "outbox"), "--redis-timeout", "1s")
	cmd.Env = append(os.Environ(), "OMSD_TEST_AS_MAIN=1",
		"OMS_JWT_KEY_FILE="+keyFile,
		"OMS_SECRET=0123456789abcdef0123456789abcdef-test-secret",
		"OMS_REDIS_URL="+redisURL,
		"OMS_REDIS_MASTER_NAME="+master,
		"OMS_REDIS_PREFIX="+redistest.UniquePrefix())
	logs := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = logs, logs
	return cmd, logs
}

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A real omsd process that cannot reach or authenticate to Redis exits
// non-zero, says why, and prints no password: not in its error, not in
// go-redis's own dial and Sentinel log lines (which go to stderr).
func TestServeRedisFailuresPrintNoPassword(t *testing.T) {
	srv := redistest.StartRedisWith(t, "--requirepass", redisPass)
	dead1, dead2 := freeAddr(t), freeAddr(t)
	cases := []struct {
		name, url, master string
		want              []string
	}{
		{"standalone wrong password", "redis://ops:" + redisBadPass + "@" + srv.Addr(), "", []string{"OMS_REDIS_URL", "WRONGPASS", srv.Addr()}},
		{"standalone no password", "redis://" + srv.Addr(), "", []string{"NOAUTH"}},
		{"cluster unreachable", "redis://ops:" + redisPass + "@" + dead1 + "," + dead2, "", []string{"ping cluster " + dead1 + "," + dead2}},
		{"cluster addr form unreachable", "rediss://ops:" + redisPass + "@" + dead1 + "?addr=" + dead2, "", []string{"ping cluster " + dead1 + "," + dead2}},
		{"sentinels unreachable", "redis://ops:" + redisPass + "@" + dead1 + "," + dead2 + "?sentinel_password=" + sentinelPw, "omsmaster",
			[]string{"ping sentinel", "sentinel: GetMasterAddrByName addr=" + dead1}}, // go-redis's own log line
		{"user info on a later host", "redis://" + dead1 + ",ops:" + redisPass + "@" + dead2, "", []string{"user info"}},
		{"scheme per host", "redis://ops:" + redisPass + "@" + dead1 + ",redis://" + dead2, "", []string{"one scheme"}},
		{"slash in password", "redis://ops:pa/" + redisPass + "@" + dead1, "", []string{"percent-encode"}},
	}
	for _, c := range cases {
		cmd, logs := prodServe(t, freeAddr(t), c.url, c.master)
		done := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err == nil {
				t.Errorf("%s: omsd exited 0", c.name)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Logf("%s: killed: %v", c.name, <-done)
			t.Errorf("%s: omsd did not exit:\n%s", c.name, logs)
			continue
		}
		out := logs.String()
		for _, pw := range []string{redisPass, redisBadPass, sentinelPw, "s3cret"} {
			if strings.Contains(out, pw) {
				t.Errorf("%s: output holds a password:\n%s", c.name, out)
			}
		}
		for _, w := range c.want {
			if !strings.Contains(out, w) {
				t.Errorf("%s: output lacks %q:\n%s", c.name, w, out)
			}
		}
	}
}

// With the right credentials in the URL a production omsd comes up on a
// Redis that requires AUTH, and logs the mode without the URL.
func TestServeWithRedisPassword(t *testing.T) {
	srv := redistest.StartRedisWith(t, "--requirepass", redisPass)
	addr := freeAddr(t)
	cmd, logs := prodServe(t, addr, "redis://:"+redisPass+"@"+srv.Addr()+"/0", "")
	serveUntilHealthy(t, cmd, logs, addr)
}

// rediss:// over a real TLS port, the private CA trusted the documented
// way (SSL_CERT_FILE); without it omsd refuses the certificate.
func TestServeWithRediss(t *testing.T) {
	_, tlsAddr, caFile, _ := redistest.StartRedisTLS(t, "--requirepass", redisPass)
	url := "rediss://:" + redisPass + "@" + tlsAddr
	addr := freeAddr(t)
	cmd, logs := prodServe(t, addr, url, "")
	cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+caFile)
	serveUntilHealthy(t, cmd, logs, addr)

	cmd, logs = prodServe(t, freeAddr(t), url, "")
	cmd.Env = append(cmd.Env, "SSL_CERT_FILE="+filepath.Join(t.TempDir(), "none.pem"), "SSL_CERT_DIR="+t.TempDir())
	err := cmd.Run()
	if err == nil || !strings.Contains(logs.String(), "certificate") || strings.Contains(logs.String(), redisPass) {
		t.Errorf("untrusted certificate: %v\n%s", err, logs)
	}
}

// serveUntilHealthy starts cmd, waits for a healthy answer on addr, then
// stops it with SIGTERM; no output may hold the Redis password.
func serveUntilHealthy(t *testing.T, cmd *exec.Cmd, logs *lockedBuffer, addr string) {
	t.Helper()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			t.Logf("omsd stopped: %v", err)
		case <-time.After(15 * time.Second):
			_ = cmd.Process.Kill()
			t.Logf("omsd killed: %v", <-done)
		}
		if strings.Contains(logs.String(), redisPass) {
			t.Errorf("output holds the password:\n%s", logs)
		}
	}()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/api/v1/util/health", nil)
		res, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			_ = res.Body.Close()
			if res.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-done:
			done <- err
			t.Fatalf("omsd exited (%v):\n%s", err, logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("omsd did not come up:\n%s", logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), `"mode":"standalone"`) || strings.Contains(logs.String(), redisPass) {
		t.Errorf("no redis store mode line:\n%s", logs)
	}
}

// redisMode reports what the store parses, not what commas suggest.
func TestRedisMode(t *testing.T) {
	for _, c := range []struct{ url, master, want string }{
		{"redis://h:1", "", "standalone"},
		{"redis://u:p@h1:1,h2:2", "", "cluster"},
		{"rediss://u:p@h1:1?addr=h2:2", "", "cluster"},
		{"redis://u:p@s1:1,s2:2", "m", "sentinel"},
		{"redis://u:p@h1:1,u:p@h2:2", "", "invalid"},
	} {
		if got := redisMode(Config{RedisURL: c.url, RedisMasterName: c.master}); got != c.want {
			t.Errorf("%s: %s, want %s", c.url, got, c.want)
		}
	}
}
