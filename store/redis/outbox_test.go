package redis_test

import (
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/shopspring/decimal"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/redis"
	"github.com/vero-oms/omsd/store/redis/redistest"
)

// The publishing instance hears of another instance's outbox commit at
// once (its poll is only a safety net), and its own commits send no
// notification: they signal in the process.
func TestOutboxWrittenAcrossInstances(t *testing.T) {
	srv, pub, other, p := twoInstances(t)
	o, err := goredis.ParseURL(srv.URL())
	must(t, err)
	spy := goredis.NewClient(o)
	t.Cleanup(func() { _ = spy.Close() })
	testOutboxWritten(t, pub, other, spy, p)
}

// The same on a Redis Cluster, where the commit script runs on the {bo}
// slot's node.
func TestOutboxWrittenAcrossInstancesCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a Redis Cluster")
	}
	cluster := redistest.StartRedisCluster(t, 3)
	p := redistest.UniquePrefix()
	pub, other := redis.New(cluster.NewClient(t), p), redis.New(cluster.NewClient(t), p)
	t.Cleanup(func() { _, _ = pub.Close(), other.Close() })
	testOutboxWritten(t, pub, other, cluster.NewClient(t), p)
}

// testOutboxWritten: pub and other share a store under prefix p; spy is a
// client of the same Redis, which listens on the notification channel.
func testOutboxWritten(t *testing.T, pub, other *redis.Store, spy goredis.UniversalClient, p string) {
	ctx := t.Context()
	// What goes over the wire: a subscriber of our own.
	sub := spy.Subscribe(ctx, p+"{bo}:outbox-written")
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(ctx); err != nil { // the subscription's confirmation
		t.Fatal(err)
	}
	notes := sub.Channel()

	put := func(s *redis.Store, code string) {
		t.Helper()
		_, err := s.UpdateBackOffice(ctx, func(tx store.BackOfficeTx) error {
			return tx.PutAccount(store.Account{AccountCode: code, CashAvailable: decimal.NewFromInt(5), CreatedAt: time.Now()})
		})
		must(t, err)
	}
	signalled := func(within time.Duration) bool {
		t.Helper()
		select {
		case <-pub.OutboxWritten():
			return true
		case <-time.After(within):
			return false
		}
	}

	// The publisher: it reads the outbox, then waits on the signal, which
	// its subscription raises once when it is in place.
	_, err := pub.OutboxAfter(ctx, 0, 16)
	must(t, err)
	if !signalled(5 * time.Second) {
		t.Fatal("no signal when the subscription was made")
	}
	if signalled(100 * time.Millisecond) {
		t.Fatal("a signal with nothing committed")
	}

	put(other, "N1")
	if !signalled(2 * time.Second) {
		t.Fatal("the other instance's commit did not wake the publisher")
	}
	select {
	case m := <-notes:
		es, err := pub.OutboxAfter(ctx, 0, 16)
		must(t, err)
		if len(es) != 1 || m.Payload != "1" || es[0].ID != 1 || es[0].AccountCode != "N1" {
			t.Fatalf("notification %q for the outbox %+v, want 1 for N1's cash", m.Payload, es)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no notification on the wire")
	}

	put(pub, "N2")
	if !signalled(time.Second) {
		t.Fatal("the publisher's own commit did not signal it")
	}
	select {
	case m := <-notes:
		t.Fatalf("the publishing instance sent a notification (%q) for its own commit", m.Payload)
	case <-time.After(200 * time.Millisecond):
	}
}

// The notification is only a wake-up: where an ACL does not let omsd's
// user publish on its channel, the commits of an instance that does not
// publish still go through (the publisher then finds them by its poll).
func TestOutboxNotificationRefusedByACL(t *testing.T) {
	const pass = "no-channels-pass"
	srv := redistest.StartRedisWith(t, "--user", "omsd", "on", ">"+pass, "~*", "resetchannels", "+@all")
	url := "redis://omsd:" + pass + "@" + srv.Addr()
	p := redistest.UniquePrefix()
	other, err := redis.Open(t.Context(), redis.Options{URL: url, Prefix: p})
	must(t, err)
	t.Cleanup(func() { _ = other.Close() })
	for i, code := range []string{"A1", "A2"} {
		if _, err := other.UpdateBackOffice(t.Context(), func(tx store.BackOfficeTx) error {
			return tx.PutAccount(store.Account{AccountCode: code, CashAvailable: decimal.NewFromInt(5), CreatedAt: time.Now()})
		}); err != nil {
			t.Fatalf("commit %d with the notification refused: %v", i+1, err)
		}
	}
	es, err := other.OutboxAfter(t.Context(), 0, 16)
	must(t, err)
	if len(es) != 2 || es[1].AccountCode != "A2" {
		t.Fatalf("the outbox after two commits: %+v", es)
	}
}

// The subscription outlives a Redis restart: it is made again, which
// wakes the publisher once (for what may have been committed while it was
// away), and the next commit of the other instance wakes it as before.
func TestOutboxWatchSurvivesARedisRestart(t *testing.T) {
	srv := redistest.StartRedis(t)
	p := redistest.UniquePrefix()
	pub, err := redis.Open(t.Context(), redis.Options{URL: srv.URL(), Prefix: p})
	must(t, err)
	t.Cleanup(func() { _ = pub.Close() })
	other, err := redis.Open(t.Context(), redis.Options{URL: srv.URL(), Prefix: p})
	must(t, err)
	t.Cleanup(func() { _ = other.Close() })
	woken := func(within time.Duration) bool {
		select {
		case <-pub.OutboxWritten():
			return true
		case <-time.After(within):
			return false
		}
	}
	_, err = pub.OutboxAfter(t.Context(), 0, 16)
	must(t, err)
	if !woken(5 * time.Second) {
		t.Fatal("no signal when the subscription was made")
	}
	srv.Stop()
	srv.Start()
	if !woken(10 * time.Second) {
		t.Fatal("no signal when the subscription was made again after the restart")
	}
	more := 0
	for woken(200 * time.Millisecond) {
		more++ // a reconnect may signal more than once
	}
	t.Logf("%d more signals after the restart", more)
	if _, err := other.UpdateBackOffice(t.Context(), func(tx store.BackOfficeTx) error {
		return tx.PutAccount(store.Account{AccountCode: "R1", CashAvailable: decimal.NewFromInt(5), CreatedAt: time.Now()})
	}); err != nil {
		t.Fatal(err)
	}
	if !woken(2 * time.Second) {
		t.Fatal("the other instance's commit after the restart did not wake the publisher")
	}
}
