package e2e

import (
	"context"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The harness's stop must not trip over a connection the client dialled but
// never used: http.Server.Shutdown waits up to 5 s for such a (StateNew)
// connection, longer than the harness's ShutdownTimeout, and stop then
// reports "shutdown: context deadline exceeded". Two concurrent requests
// with a slow second dial leave exactly such a connection: the second
// request takes the connection the first one freed, and the late dial goes
// to the idle pool unused. This is what made the 16-client concurrency test
// flaky on a loaded machine.
func TestStopClosesConnectionsThatNeverCarriedARequest(t *testing.T) {
	e := start(t, "memory")
	if e.cfg.ShutdownTimeout >= 5*time.Second {
		t.Fatalf("shutdown timeout %s: this test needs one under Go's 5 s grace for unused connections", e.cfg.ShutdownTimeout)
	}
	var dials atomic.Int32
	d := &net.Dialer{}
	e.transport.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if dials.Add(1) == 2 {
			time.Sleep(300 * time.Millisecond)
		}
		return d.DialContext(ctx, network, addr)
	}
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, _ := e.newClient()
			res, err := c.Get(e.base + "/api/v1/util/health")
			if err != nil {
				t.Error(err)
				return
			}
			_ = res.Body.Close()
		}()
	}
	wg.Wait()
	time.Sleep(500 * time.Millisecond) // the slow dial lands in the idle pool
	// Without the fix, stop reports "serve: shutdown: context deadline exceeded".
	e.stop()
}
