// Package redistest starts private redis-server processes (standalone, TLS,
// Sentinel-ready, Cluster) on free loopback ports for tests anywhere in the
// project, and hands out Redis-backed stores under unique key prefixes.
package redistest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
	redisstore "github.com/vero-oms/omsd/store/redis"
)

// EnvRedisURL names a Redis to test against when redis-server is not on PATH.
const EnvRedisURL = "OMS_TEST_REDIS_URL"

// RedisServer is a Redis for tests: a redis-server child process of the
// test binary, or the external server named by OMS_TEST_REDIS_URL.
type RedisServer struct {
	tb       testing.TB // for Skip when an external server can't be restarted
	external string     // URL of an external server; empty for our own

	shared   bool // the binary's shared server: never stopped by a test
	port     int
	dir      string
	extra    []string // more redis-server arguments
	rmDirEnd bool     // remove dir when the server exits

	mu     sync.Mutex
	proc   *exec.Cmd
	stdin  io.WriteCloser
	pid    int
	paused bool
}

// StartRedis returns a Redis for tb, stopped in tb.Cleanup. With redis-server
// on PATH it starts a private one on a free loopback port (no persistence);
// otherwise it uses OMS_TEST_REDIS_URL; with neither the test fails when
// CI=true and is skipped otherwise.
func StartRedis(tb testing.TB) *RedisServer {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		if u := os.Getenv(EnvRedisURL); u != "" {
			return &RedisServer{tb: tb, external: u}
		}
		noRedis(tb, "redis-server is not on PATH and "+EnvRedisURL+" is not set")
	}
	r, err := startServer(tb.TempDir(), nil, false)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	r.tb = tb
	tb.Cleanup(r.Stop)
	return r
}

// StartRedisWith is StartRedis with more redis-server arguments, e.g.
// "--requirepass", pw, or an ACL user: "--user", name, "on", ">"+pw, "~*",
// "&*", "+@all". It needs a local redis-server (it skips, or fails in CI,
// without one). URL, NewClient and NewStore carry no credentials: tests of
// a server that requires them build their own URL.
func StartRedisWith(tb testing.TB, args ...string) *RedisServer {
	tb.Helper()
	if _, err := exec.LookPath("redis-server"); err != nil {
		noRedis(tb, "redis-server is not on PATH (needed to start a server with arguments)")
	}
	r, err := startServer(tb.TempDir(), args, false)
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	r.tb = tb
	tb.Cleanup(r.Stop)
	return r
}

// NewTestCA makes a CA and a server certificate for 127.0.0.1 in dir and
// returns the file names and a pool trusting the CA.
func NewTestCA(t testing.TB, dir string) (caFile, certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	newKey := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	caKey, srvKey := newKey(), newKey()
	now := time.Now()
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "omsd test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	srvTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour), IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	if err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	pool = x509.NewCertPool()
	pool.AddCert(ca)
	return write("ca.pem", "CERTIFICATE", caDER), write("server.pem", "CERTIFICATE", srvDER), write("server.key", "PRIVATE KEY", keyDER), pool
}

// StartRedisTLS is StartRedisWith plus a TLS port serving a certificate
// for 127.0.0.1 from a CA made for the test (clients are not asked for
// certificates). It returns the server (its plaintext port stays for the
// harness), the TLS address, the CA's PEM file and a pool trusting it.
func StartRedisTLS(t testing.TB, args ...string) (srv *RedisServer, tlsAddr, caFile string, pool *x509.CertPool) {
	t.Helper()
	caFile, certFile, keyFile, pool := NewTestCA(t, t.TempDir())
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	args = append(args, "--tls-port", strconv.Itoa(port), "--tls-cert-file", certFile, "--tls-key-file", keyFile,
		"--tls-ca-cert-file", caFile, "--tls-auth-clients", "no")
	srv = StartRedisWith(t, args...)
	return srv, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), caFile, pool
}

// noRedis ends a test that needs Redis and has none: loudly, and fatally in CI
// so a missing dependency never passes as a green run.
func noRedis(tb testing.TB, why string) {
	tb.Helper()
	msg := "storetest: NO REDIS AVAILABLE (" + why + "); install redis-server (Debian package redis-server) or set " + EnvRedisURL + "=redis://host:port"
	if os.Getenv("CI") == "true" {
		tb.Fatal(msg)
	}
	tb.Skip(msg)
}

// startServer starts redis-server on a free port (retrying on a port race)
// with extra arguments.
func startServer(dir string, extra []string, rmDirEnd bool) (*RedisServer, error) {
	var lastErr error
	for range 5 {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		r := &RedisServer{port: port, dir: dir, extra: extra, rmDirEnd: rmDirEnd}
		if lastErr = r.start(); lastErr == nil {
			return r, nil
		}
	}
	return nil, lastErr
}

// freePort asks the kernel for a loopback port nobody listens on.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// supervisor runs redis-server under sh, which kills it once our end of its
// stdin closes: on Stop, and also when the test binary dies for any reason,
// so no server outlives its tests.
const supervisor = `redis-server "$@" & pid=$!
echo $pid
read _ignored
kill -CONT $pid 2>/dev/null
kill $pid 2>/dev/null
wait $pid
if [ -n "$STORETEST_RMDIR" ]; then rm -rf "$STORETEST_RMDIR"; fi`

func (r *RedisServer) start() error {
	if err := os.MkdirAll(r.dir, 0o700); err != nil {
		return err
	}
	args := []string{"-c", supervisor, "redis-server",
		"--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no",
		"--dir", r.dir, "--logfile", r.logFile()}
	args = append(args, r.extra...)
	cmd := exec.Command("sh", args...)
	if r.rmDirEnd {
		cmd.Env = append(os.Environ(), "STORETEST_RMDIR="+r.dir)
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start redis-server: %w", err)
	}
	line, err := bufio.NewReader(stdout).ReadString('\n')
	pid, perr := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || perr != nil {
		_ = stdin.Close()
		_ = cmd.Wait()
		return fmt.Errorf("start redis-server: no pid (%w)", err)
	}
	r.mu.Lock()
	r.proc, r.stdin, r.pid, r.paused = cmd, stdin, pid, false
	r.mu.Unlock()
	if err := r.waitReady(10 * time.Second); err != nil {
		r.kill()
		return err
	}
	return nil
}

func (r *RedisServer) logFile() string {
	return filepath.Join(r.dir, fmt.Sprintf("redis-%d.log", r.port))
}

// waitReady polls until the server answers PING or its process is gone.
func (r *RedisServer) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for {
		if ping(r.Addr()) == nil {
			return nil
		}
		if syscall.Kill(r.pid, 0) != nil || time.Now().After(deadline) {
			log, _ := os.ReadFile(r.logFile())
			return fmt.Errorf("redis-server on port %d did not come up; log:\n%s", r.port, tail(log, 2000))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// ping speaks just enough RESP to see a live server.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(500 * time.Millisecond))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	// A server that requires a password answers NOAUTH: it is up.
	if !strings.HasPrefix(line, "+PONG") && !strings.HasPrefix(line, "-NOAUTH") {
		return fmt.Errorf("unexpected reply %q", line)
	}
	return nil
}

// kill stops the process and reaps it.
func (r *RedisServer) kill() {
	r.mu.Lock()
	proc, stdin := r.proc, r.stdin
	r.proc, r.stdin, r.paused = nil, nil, false
	r.mu.Unlock()
	if proc == nil {
		return
	}
	_ = stdin.Close()
	_ = proc.Wait()
}

// Addr is host:port.
func (r *RedisServer) Addr() string {
	if r.external != "" {
		if u, err := url.Parse(r.external); err == nil {
			return u.Host
		}
		return ""
	}
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port))
}

// URL is a redis:// URL for go-redis.
func (r *RedisServer) URL() string {
	if r.external != "" {
		return r.external
	}
	return "redis://" + r.Addr()
}

// External reports whether this is the server named by OMS_TEST_REDIS_URL.
func (r *RedisServer) External() bool { return r.external != "" }

// Restartable reports whether Stop, Start, Pause and Resume work (they do
// not on an external server).
func (r *RedisServer) Restartable() bool { return r.external == "" && !r.shared }

func (r *RedisServer) needOwn(what string) {
	if r.shared {
		r.tb.Fatalf("storetest: cannot %s the shared Redis; use StartRedis for a private one", what)
	}
	if r.external != "" {
		r.tb.Skipf("storetest: cannot %s the external Redis at %s", what, r.Addr())
	}
}

// Stop kills the server (its data is lost) and returns once the port is
// closed. Idempotent.
func (r *RedisServer) Stop() {
	r.needOwn("stop")
	r.kill()
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", r.Addr(), 100*time.Millisecond)
		if err != nil {
			return
		}
		_ = c.Close()
		time.Sleep(10 * time.Millisecond)
	}
}

// Start restarts a stopped server on the same port, empty.
func (r *RedisServer) Start() {
	r.needOwn("start")
	r.mu.Lock()
	running := r.proc != nil
	r.mu.Unlock()
	if running {
		return
	}
	if err := r.start(); err != nil {
		r.tb.Fatalf("storetest: restart redis: %v", err)
	}
}

// Pause freezes the server (SIGSTOP): connections are accepted by the
// kernel but nothing answers, which is how a hung server looks.
func (r *RedisServer) Pause() { r.signal("pause", syscall.SIGSTOP, true) }

// Resume undoes Pause.
func (r *RedisServer) Resume() { r.signal("resume", syscall.SIGCONT, false) }

func (r *RedisServer) signal(what string, sig syscall.Signal, paused bool) {
	r.needOwn(what)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.proc == nil {
		return
	}
	if err := syscall.Kill(r.pid, sig); err != nil {
		r.tb.Fatalf("storetest: %s redis: %v", what, err)
	}
	r.paused = paused
}

// NewClient returns a go-redis client for this server, closed in tb.Cleanup.
func (r *RedisServer) NewClient(tb testing.TB) *goredis.Client {
	tb.Helper()
	opts, err := goredis.ParseURL(r.URL())
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	opts.ContextTimeoutEnabled = true
	c := goredis.NewClient(opts)
	tb.Cleanup(func() { _ = c.Close() })
	return c
}

// NewStore returns a Redis store on this server under a key prefix unique
// to the call, so tests can share a server. Its keys are deleted and the
// store closed in tb.Cleanup.
func (r *RedisServer) NewStore(tb testing.TB) store.Store {
	tb.Helper()
	opts, err := goredis.ParseURL(r.URL())
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	opts.ContextTimeoutEnabled = true
	prefix := UniquePrefix()
	s := redisstore.New(goredis.NewClient(opts), prefix)
	r.DeletePrefixOnCleanup(tb, prefix)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// DeletePrefixOnCleanup deletes every key under prefix in tb.Cleanup, so
// tests leave a shared or external server as they found it.
func (r *RedisServer) DeletePrefixOnCleanup(tb testing.TB, prefix string) {
	tb.Helper()
	opts, err := goredis.ParseURL(r.URL())
	if err != nil {
		tb.Fatalf("storetest: %v", err)
	}
	tb.Cleanup(func() {
		c := goredis.NewClient(opts)
		defer c.Close()
		if err := deletePrefix(context.Background(), c, prefix); err != nil && r.Restartable() {
			tb.Logf("storetest: delete keys under %q: %v", prefix, err)
		}
	})
}

var prefixSeq atomic.Int64

// UniquePrefix returns a key prefix no other test (in this or another
// process sharing the server) uses.
func UniquePrefix() string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return fmt.Sprintf("omstest:%s:%d:", hex.EncodeToString(b[:]), prefixSeq.Add(1))
}

// deletePrefix removes every key under prefix (UniquePrefix makes prefixes
// without glob metacharacters).
func deletePrefix(ctx context.Context, c *goredis.Client, prefix string) error {
	iter := c.Scan(ctx, 0, prefix+"*", 1000).Iterator()
	var batch []string
	for iter.Next(ctx) {
		batch = append(batch, iter.Val())
		if len(batch) == 1000 {
			if err := c.Unlink(ctx, batch...).Err(); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	if len(batch) > 0 {
		if err := c.Unlink(ctx, batch...).Err(); err != nil {
			return err
		}
	}
	return iter.Err()
}

// shared is the server behind NewRedisStore: one per test binary, started
// on first use; it dies with the binary (see supervisor).
var shared struct {
	once sync.Once
	srv  *RedisServer
	err  error
	why  string // set when there is no Redis at all
}

// SharedRedis returns the test binary's shared Redis (see StartRedis for
// where it comes from). Do not Stop it; use StartRedis for that.
func SharedRedis(tb testing.TB) *RedisServer {
	tb.Helper()
	shared.once.Do(func() {
		if _, err := exec.LookPath("redis-server"); err != nil {
			if u := os.Getenv(EnvRedisURL); u != "" {
				shared.srv = &RedisServer{external: u}
				return
			}
			shared.why = "redis-server is not on PATH and " + EnvRedisURL + " is not set"
			return
		}
		dir, err := os.MkdirTemp("", "storetest-redis-")
		if err != nil {
			shared.err = err
			return
		}
		shared.srv, shared.err = startServer(dir, nil, true)
	})
	if shared.why != "" {
		noRedis(tb, shared.why)
	}
	if shared.err != nil {
		tb.Fatalf("storetest: shared redis: %v", shared.err)
	}
	// A copy bound to this tb, so Skip lands on the caller's test.
	return &RedisServer{tb: tb, shared: true, external: shared.srv.external, port: shared.srv.port, dir: shared.srv.dir}
}

// NewRedisStore returns a Redis store on the shared server with a key
// prefix unique to this call.
func NewRedisStore(t *testing.T) store.Store {
	t.Helper()
	return SharedRedis(t).NewStore(t)
}
