package redis_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// Secrets used below; none may show up in an error or a go-redis log line.
const (
	dataPass     = "Data-s3cret-pw"
	alicePass    = "Alice-s3cret-pw"
	sentinelPass = "Sentinel-s3cret-pw"
	wrongPass    = "Wrong-s3cret-pw"
)

var secrets = []string{dataPass, alicePass, sentinelPass, wrongPass, "s3cret"}

// noSecret fails if s holds any of the test's passwords.
func noSecret(t *testing.T, what, s string) {
	t.Helper()
	for _, p := range secrets {
		if strings.Contains(s, p) {
			t.Errorf("%s holds a password: %s", what, s)
			return
		}
	}
}

// goredisLog captures what go-redis logs (dial failures, Sentinel
// trouble) while a test runs.
type goredisLog struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (l *goredisLog) Printf(_ context.Context, format string, v ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	fmt.Fprintf(&l.buf, format+"\n", v...)
}

func (l *goredisLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// captureGoredisLog routes go-redis's logger to a buffer until the test
// ends, then checks that nothing logged holds a password.
func captureGoredisLog(t *testing.T) *goredisLog {
	l := &goredisLog{}
	goredis.SetLogger(l)
	t.Cleanup(func() {
		goredis.SetLogger(stderrLogger{log.New(os.Stderr, "redis: ", log.LstdFlags|log.Lshortfile)})
		noSecret(t, "go-redis log", l.String())
	})
	return l
}

type stderrLogger struct{ l *log.Logger }

func (s stderrLogger) Printf(_ context.Context, format string, v ...any) {
	_ = s.l.Output(2, fmt.Sprintf(format, v...))
}

// openURL opens url (with master) under a fresh prefix; the caller checks err.
func openURL(t *testing.T, url, master string, tlsConf *tls.Config) (*redis.Store, error) {
	t.Helper()
	st, err := redis.Open(t.Context(), redis.Options{URL: url, MasterName: master, Prefix: redistest.UniquePrefix(),
		DialTimeout: 2 * time.Second, TLSConfig: tlsConf})
	if err == nil {
		t.Cleanup(func() { _ = st.Close() })
	}
	return st, err
}

// roundTrip writes and reads back through the store.
func roundTrip(t *testing.T, st store.Store) {
	t.Helper()
	for want := int64(1); want <= 2; want++ {
		n, _, err := st.Hit(t.Context(), "roundtrip", time.Minute)
		if err != nil || n != want {
			t.Fatalf("Hit = %d, %v; want %d", n, err, want)
		}
	}
}

// wantOpenFails checks that Open fails with an error saying want and no password.
func wantOpenFails(t *testing.T, what, url, master, want string) {
	t.Helper()
	st, err := openURL(t, url, master, nil)
	if err == nil {
		_ = st.Close()
		t.Errorf("%s: Open succeeded", what)
		return
	}
	noSecret(t, what+": Open error", err.Error())
	if !strings.Contains(err.Error(), want) {
		t.Errorf("%s: error %q does not say %q", what, err, want)
	}
}

// A standalone server with requirepass and an ACL user: the URL's user
// info is really sent as AUTH (a wrong password is an auth error, not a
// connection error), and no failure names a password.
func TestStandaloneAuth(t *testing.T) {
	captureGoredisLog(t)
	srv := redistest.StartRedisWith(t, "--requirepass", dataPass,
		"--user", "alice", "on", ">"+alicePass, "~*", "&*", "+@all")
	addr := srv.Addr()

	st, err := openURL(t, "redis://:"+dataPass+"@"+addr+"/2", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, st)
	st, err = openURL(t, "redis://alice:"+alicePass+"@"+addr, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, st)

	wantOpenFails(t, "no password", "redis://"+addr, "", "NOAUTH")
	wantOpenFails(t, "wrong password", "redis://:"+wrongPass+"@"+addr, "", "WRONGPASS")
	wantOpenFails(t, "wrong ACL password", "redis://alice:"+wrongPass+"@"+addr, "", "WRONGPASS")
	wantOpenFails(t, "nobody listens", "redis://alice:"+alicePass+"@"+closedAddr(t), "", "connection refused")
	wantOpenFails(t, "unknown host", "redis://alice:"+alicePass+"@no-such-host.invalid:6379", "", "no-such-host.invalid:6379")
	wantOpenFails(t, "bad URL", "redis://alice:"+alicePass+"@"+addr+"/x", "", "db number")
}

// The comma Cluster form (and the ?addr= form) with credentials: AUTH
// reaches every node, a store round trip crosses slots.
func TestClusterAuth(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	captureGoredisLog(t)
	cluster := redistest.StartRedisClusterAuth(t, 3, dataPass)
	a := cluster.Addrs()
	for _, url := range []string{
		"redis://:" + dataPass + "@" + strings.Join(a, ","),
		"redis://:" + dataPass + "@" + a[0] + "?addr=" + a[1] + "&addr=" + a[2],
	} {
		st, err := openURL(t, url, "", nil)
		if err != nil {
			t.Fatal(err)
		}
		// Keys hashing to many slots, so several nodes are written.
		for i := range 20 {
			if _, _, err := st.Hit(t.Context(), "k"+strconv.Itoa(i), time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		roundTrip(t, st)
	}
	wantOpenFails(t, "cluster, wrong password", "redis://:"+wrongPass+"@"+strings.Join(a, ","), "", "WRONGPASS")
	wantOpenFails(t, "cluster, no password", "redis://"+strings.Join(a, ","), "", "NOAUTH")
	wantOpenFails(t, "cluster, DB", "redis://:"+dataPass+"@"+strings.Join(a, ",")+"/1", "", "no DB")
}

// Sentinel with a password on the data nodes (the URL's user info) and
// another on the Sentinel (sentinel_password).
func TestSentinelAuth(t *testing.T) {
	logs := captureGoredisLog(t)
	master := redistest.StartRedisWith(t, "--requirepass", dataPass)
	sentinel := startSentinelAuth(t, master, dataPass, sentinelPass)

	st, err := openURL(t, "redis://:"+dataPass+"@"+sentinel+"/1?sentinel_password="+sentinelPass, "omsmaster", nil)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, st)
	// Comma form: a dead Sentinel first, the live one second.
	st, err = openURL(t, "redis://:"+dataPass+"@"+closedAddr(t)+","+sentinel+"?sentinel_password="+sentinelPass, "omsmaster", nil)
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, st)

	wantOpenFails(t, "wrong data password", "redis://:"+wrongPass+"@"+sentinel+"?sentinel_password="+sentinelPass, "omsmaster", "WRONGPASS")
	wantOpenFails(t, "wrong sentinel password", "redis://:"+dataPass+"@"+sentinel+"?sentinel_password="+wrongPass, "omsmaster", "sentinel")
	wantOpenFails(t, "no sentinel password", "redis://:"+dataPass+"@"+sentinel, "omsmaster", "sentinel")
	wantOpenFails(t, "sentinels unreachable", "redis://:"+dataPass+"@"+closedAddr(t)+","+closedAddr(t)+"?sentinel_password="+sentinelPass, "omsmaster", "sentinel")
	// go-redis logs Sentinel failures (with addresses): the capture is live.
	if !strings.Contains(logs.String(), "sentinel") {
		t.Errorf("go-redis logged nothing about the failing Sentinels: %q", logs.String())
	}
}

// closedAddr is a loopback address nobody listens on.
func closedAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := ln.Addr().String()
	_ = ln.Close()
	return a
}

// handshakeRecorder is a loopback listener that notes the first byte of
// every connection: 0x16 opens a TLS handshake, '*' a plaintext command.
type handshakeRecorder struct {
	ln    net.Listener
	mu    sync.Mutex
	first []byte
}

func newHandshakeRecorder(t *testing.T) *handshakeRecorder {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &handshakeRecorder{ln: ln}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				_ = c.SetDeadline(time.Now().Add(2 * time.Second))
				b := make([]byte, 1)
				if _, err := io.ReadFull(c, b); err == nil {
					r.mu.Lock()
					r.first = append(r.first, b[0])
					r.mu.Unlock()
				}
			}()
		}
	}()
	return r
}

func (r *handshakeRecorder) seen() []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]byte(nil), r.first...)
}

// With rediss:// no host of the list is ever dialled in plaintext: every
// seed of a Cluster (comma and ?addr= forms) and every Sentinel receives a
// TLS handshake first. redis:// is the control: the same recorder sees
// plaintext RESP.
func TestRedissDialsEveryHostWithTLS(t *testing.T) {
	logs := captureGoredisLog(t)
	defer func() {
		// go-redis logged the failed dials (with addresses only).
		if !strings.Contains(logs.String(), "failed to dial") {
			t.Errorf("go-redis logged no dial failure: %q", logs.String())
		}
	}()
	cases := []struct {
		name, master string
		url          func(a []string) string
	}{
		{"standalone", "", func(a []string) string { return "://u:" + dataPass + "@" + a[0] }},
		{"cluster comma", "", func(a []string) string { return "://u:" + dataPass + "@" + strings.Join(a, ",") }},
		{"cluster addr", "", func(a []string) string {
			return "://u:" + dataPass + "@" + a[0] + "?addr=" + a[1] + "&addr=" + a[2]
		}},
		{"sentinel", "omsmaster", func(a []string) string {
			return "://u:" + dataPass + "@" + strings.Join(a, ",") + "?sentinel_password=" + sentinelPass
		}},
	}
	for _, c := range cases {
		for _, scheme := range []string{"rediss", "redis"} {
			n := 3
			if c.name == "standalone" {
				n = 1
			}
			var recs []*handshakeRecorder
			var addrs []string
			for range n {
				r := newHandshakeRecorder(t)
				recs = append(recs, r)
				addrs = append(addrs, r.ln.Addr().String())
			}
			ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
			st, err := redis.Open(ctx, redis.Options{URL: scheme + c.url(addrs), MasterName: c.master,
				DialTimeout: time.Second, ReadTimeout: time.Second, MaxRetries: -1})
			cancel()
			if err == nil {
				_ = st.Close()
				t.Fatalf("%s %s: Open succeeded against recorders", scheme, c.name)
			}
			noSecret(t, "Open error", err.Error())
			want := byte(0x16)
			if scheme == "redis" {
				want = '*'
			}
			// Connections are read asynchronously: wait for every host.
			deadline := time.Now().Add(5 * time.Second)
			for i, r := range recs {
				for len(r.seen()) == 0 && time.Now().Before(deadline) {
					time.Sleep(10 * time.Millisecond)
				}
				got := r.seen()
				if len(got) == 0 {
					t.Errorf("%s %s: host %d was never dialled", scheme, c.name, i+1)
				}
				for _, b := range got {
					if b != want {
						t.Errorf("%s %s: host %d got first byte %#x, want %#x", scheme, c.name, i+1, b, want)
					}
				}
			}
		}
	}
}

// A real TLS round trip: redis-server on a TLS port with a certificate of
// a CA made here. rediss:// with the CA trusted works and sends AUTH;
// without the CA the certificate is refused; plaintext to the TLS port fails.
func TestRedissRoundTrip(t *testing.T) {
	captureGoredisLog(t)
	_, tlsAddr, _, pool := redistest.StartRedisTLS(t, "--requirepass", dataPass)

	st, err := openURL(t, "rediss://:"+dataPass+"@"+tlsAddr, "", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	roundTrip(t, st)

	_, err = openURL(t, "rediss://:"+wrongPass+"@"+tlsAddr, "", &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	if err == nil || !strings.Contains(err.Error(), "WRONGPASS") {
		t.Errorf("wrong password over TLS: %v", err)
	} else {
		noSecret(t, "Open error", err.Error())
	}
	wantOpenFails(t, "untrusted CA", "rediss://:"+dataPass+"@"+tlsAddr, "", "certificate")
	if st, err := openURL(t, "redis://:"+dataPass+"@"+tlsAddr, "", nil); err == nil {
		_ = st.Close()
		t.Error("plaintext to the TLS port succeeded")
	}
}
