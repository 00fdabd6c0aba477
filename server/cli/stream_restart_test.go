package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	centrifuge "github.com/centrifugal/centrifuge-go"
	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// The crash test of the Streaming API's outbox: the venue owner is killed
// with SIGKILL while orders stream in; restarted, it publishes what was
// committed and not yet published, and nothing twice. A subscriber that
// stays subscribed across the restart (it reconnects and recovers from the
// Redis history) receives exactly one publication per outbox entry: as
// many as the store's outbox sequence advanced, no payload twice.
func TestKilledOwnerPublishesEveryChangeOnce(t *testing.T) {
	srv := redistest.StartRedis(t)
	prefix := redistest.UniquePrefix()
	addr := freeAddr(t)
	base := "http://" + addr
	keyFile := filepath.Join(t.TempDir(), "jwt.jwk")
	key, err := token.GenerateKey("ES256")
	if err != nil {
		t.Fatal(err)
	}
	if err := token.WriteKeyFile(keyFile, key); err != nil {
		t.Fatal(err)
	}
	args := []string{"serve", "--dev", "--dev-redis", "--redis-url", srv.URL(), "--redis-prefix", prefix, "--jwt-key-file", keyFile,
		"--addr", addr, "--mail-outbox", t.TempDir(), "--venue-lease-ttl", "2s", "--dev-market-maker=false", "--metrics-addr", "", "--fix-addr", "off"}
	rc := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer func() { _ = rc.Close() }()
	ob := outboxKeys{rc: rc, prefix: prefix}

	first, _, firstExited := startOmsd(t, args, base)
	jwt := loginTrader(t, base)
	ob.waitDrained(t)
	startSeq := ob.top(t)
	sub := subscribeAll(t, base, jwt)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); fillUntilDown(base, jwt, stop) }()
	time.Sleep(1500 * time.Millisecond)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	if err := <-firstExited; err == nil {
		t.Fatal("omsd exited cleanly after SIGKILL")
	}
	close(stop)
	wg.Wait()

	second, _, _ := startOmsd(t, args, base)
	defer func() { _ = second.Process.Signal(syscall.SIGTERM) }()
	ob.waitDrained(t)
	want := ob.top(t) - startSeq
	t.Logf("outbox entries while orders streamed: %d", want)
	if want < 20 {
		t.Fatalf("only %d outbox entries: the kill came too early to test anything", want)
	}
	sub.waitTotal(t, want)
	sub.wantOnce(t)
}

// outboxKeys reads the outbox's sequence and acknowledged ID as the Redis
// adapter keeps them (store/backoffice/outbox.go).
type outboxKeys struct {
	rc     *goredis.Client
	prefix string
}

func (o outboxKeys) top(t *testing.T) int64 {
	n, err := o.rc.Get(context.Background(), o.prefix+"{bo}:outbox-seq").Int64()
	if err != nil && !errors.Is(err, goredis.Nil) {
		t.Fatal(err)
	}
	return n
}

func (o outboxKeys) waitDrained(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		acked, err := o.rc.HGet(context.Background(), o.prefix+"{bo}:outbox-meta", "acked").Int64()
		if err != nil && !errors.Is(err, goredis.Nil) {
			t.Fatal(err)
		}
		if acked == o.top(t) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("outbox not drained: acked %d of %d", acked, o.top(t))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// fillUntilDown sends crossing pairs (Binh sells 100 HPG, An buys) until
// a request fails (the owner was killed) or stop.
func fillUntilDown(base, jwt string, stop <-chan struct{}) {
	for i := 0; ; i++ {
		select {
		case <-stop:
			return
		default:
		}
		for _, o := range []string{
			fmt.Sprintf(`{"account_id":"099C000002","symbol":"HPG","side":"S","qty":100,"order_type":"LO","price":"27500","ref_order_id":"k-s%d"}`, i),
			fmt.Sprintf(`{"account_id":"099C000001","symbol":"HPG","side":"B","qty":100,"order_type":"LO","price":"27500","ref_order_id":"k-b%d"}`, i),
		} {
			req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/orders/new", strings.NewReader(o))
			req.Header.Set("Authorization", "Bearer "+jwt)
			req.Header.Set("Content-Type", "application/json")
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				return
			}
			_ = res.Body.Close()
		}
	}
}

// subscriber is one centrifuge-go client on the four demo channels.
type subscriber struct {
	mu    sync.Mutex
	start map[string]uint64 // offset when first subscribed
	pubs  map[string][]centrifuge.Publication
}

func subscribeAll(t *testing.T, base, jwt string) *subscriber {
	t.Helper()
	s := &subscriber{start: map[string]uint64{}, pubs: map[string][]centrifuge.Publication{}}
	c := centrifuge.NewJsonClient("ws://"+strings.TrimPrefix(base, "http://")+"/connection/websocket",
		centrifuge.Config{Token: jwt, MinReconnectDelay: 100 * time.Millisecond, MaxReconnectDelay: 300 * time.Millisecond})
	t.Cleanup(c.Close)
	if err := c.Connect(); err != nil {
		t.Fatal(err)
	}
	for _, acct := range []string{"099C000001", "099C000002"} {
		for _, ch := range []string{"order:OrderExecutionReport:" + acct, "order:Account:" + acct} {
			sub, err := c.NewSubscription(ch, centrifuge.SubscriptionConfig{Recoverable: true})
			if err != nil {
				t.Fatal(err)
			}
			sub.OnSubscribed(func(ev centrifuge.SubscribedEvent) {
				s.mu.Lock()
				defer s.mu.Unlock()
				if _, ok := s.start[ch]; !ok && ev.StreamPosition != nil {
					s.start[ch] = ev.StreamPosition.Offset
				}
			})
			sub.OnPublication(func(ev centrifuge.PublicationEvent) {
				s.mu.Lock()
				defer s.mu.Unlock()
				s.pubs[ch] = append(s.pubs[ch], ev.Publication)
			})
			if err := sub.Subscribe(); err != nil {
				t.Fatal(err)
			}
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for s.count() < 4 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s.count() < 4 {
		t.Fatal("not subscribed to the four channels")
	}
	return s
}

func (s *subscriber) count() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.start) }

func (s *subscriber) total() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ps := range s.pubs {
		n += len(ps)
	}
	return int64(n)
}

// waitTotal waits until want publications arrived, then a little longer
// to see that no more do.
func (s *subscriber) waitTotal(t *testing.T, want int64) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.total() < want && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(300 * time.Millisecond)
	if got := s.total(); got != want {
		t.Fatalf("the subscriber received %d publications for %d outbox entries", got, want)
	}
}

// wantOnce checks every channel's offsets follow on from where the
// subscription started, and no payload came twice.
func (s *subscriber) wantOnce(t *testing.T) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for ch, ps := range s.pubs {
		seen := map[string]bool{}
		for i, p := range ps {
			if p.Offset != s.start[ch]+uint64(i)+1 {
				t.Fatalf("%s: publication %d has offset %d, want %d", ch, i, p.Offset, s.start[ch]+uint64(i)+1)
			}
			if seen[string(p.Data)] {
				t.Fatalf("%s: published twice: %s", ch, p.Data)
			}
			seen[string(p.Data)] = true
			var m map[string]any
			if err := json.Unmarshal(p.Data, &m); err != nil {
				t.Fatalf("%s: %s", ch, p.Data)
			}
		}
	}
}
