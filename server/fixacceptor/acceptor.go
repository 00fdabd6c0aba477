package fixacceptor

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/vero-oms/omsd/server/trading"
	"github.com/vero-oms/omsd/store"
)

// Trading is what the acceptor asks of the order pipeline: the calls the
// REST order routes make.
type Trading interface {
	Submit(ctx context.Context, user string, in trading.NewOrder) (trading.Ack, error)
	Cancel(ctx context.Context, user string, in trading.CancelRequest) (trading.Ack, error)
	Replace(ctx context.Context, user string, in trading.ReplaceRequest) (trading.Ack, error)
	Orders(ctx context.Context, user string, q trading.OrdersQuery) ([]store.Order, error)
	OrderByReqID(ctx context.Context, user, reqID string) (store.Order, error)
}

// Options configures an Acceptor.
type Options struct {
	Sessions []SessionConfig
	Store    interface {
		store.FIXSessions
	}
	Trading Trading
	// Readable returns the accounts an identity may read (risk.Service):
	// a session hears of orders on those.
	Readable func(ctx context.Context, user string) (map[string]bool, error)
	// Enabled reports whether an identity exists and may sign in.
	Enabled func(ctx context.Context, email string) (bool, error)
	// VerifySecret checks a logon's secret against a PHC string.
	VerifySecret func(ctx context.Context, secret, phc string) (bool, error)
	// ResetAt is when a session day begins, after midnight in
	// Asia/Ho_Chi_Minh: the sequence numbers start again at 1.
	ResetAt time.Duration
	Now     func() time.Time
	Log     *slog.Logger
	Metrics prometheus.Registerer
	// PollEvery is how often a connection looks for reports queued by
	// another instance (this instance's own wake it at once).
	PollEvery time.Duration
}

// Acceptor serves the configured FIX sessions.
type Acceptor struct {
	o        Options
	bySender map[string]*SessionConfig
	loc      *time.Location
	metrics  *metrics

	mu    sync.Mutex
	live  map[string]*conn // by session name: one connection per session
	conns map[net.Conn]struct{}
	ln    []net.Listener
	done  sync.WaitGroup

	readable readableCache
}

// New returns an acceptor for o.Sessions.
func New(o Options) (*Acceptor, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.PollEvery <= 0 {
		o.PollEvery = 200 * time.Millisecond
	}
	loc, err := time.LoadLocation("Asia/Ho_Chi_Minh")
	if err != nil {
		return nil, err
	}
	a := &Acceptor{o: o, bySender: map[string]*SessionConfig{}, loc: loc, live: map[string]*conn{}, conns: map[net.Conn]struct{}{}}
	for i := range o.Sessions {
		a.bySender[o.Sessions[i].SenderCompID] = &o.Sessions[i]
	}
	a.readable = readableCache{get: o.Readable, now: o.Now, entries: map[string]readableEntry{}}
	if a.metrics, err = newMetrics(o.Metrics, a); err != nil {
		return nil, err
	}
	return a, nil
}

// Serve accepts connections on ln until it is closed.
func (a *Acceptor) Serve(ln net.Listener) error {
	a.mu.Lock()
	a.ln = append(a.ln, ln)
	a.mu.Unlock()
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		a.mu.Lock()
		a.conns[nc] = struct{}{}
		a.done.Add(1)
		a.mu.Unlock()
		go func() {
			defer a.done.Done()
			a.serveConn(nc)
			a.mu.Lock()
			delete(a.conns, nc)
			a.mu.Unlock()
		}()
	}
}

// Close stops accepting, ends every connection and waits for them.
func (a *Acceptor) Close(context.Context) error {
	a.mu.Lock()
	for _, ln := range a.ln {
		_ = ln.Close()
	}
	for nc := range a.conns {
		_ = nc.Close()
	}
	a.mu.Unlock()
	a.done.Wait()
	return nil
}

// sessionDay is the session day at t: the Asia/Ho_Chi_Minh date of t less
// ResetAt, so a day starts at the reset time.
func (a *Acceptor) sessionDay(t time.Time) string {
	return t.In(a.loc).Add(-a.o.ResetAt).Format(time.DateOnly)
}

// claim makes c its session's live connection (false: one is live).
func (a *Acceptor) claim(c *conn) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	if _, ok := a.live[c.cfg.Name()]; ok {
		return false
	}
	a.live[c.cfg.Name()] = c
	return true
}

func (a *Acceptor) release(c *conn) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.live[c.cfg.Name()] == c {
		delete(a.live, c.cfg.Name())
	}
}

// wake tells the live connection of a session that reports are queued.
func (a *Acceptor) wake(name string) {
	a.mu.Lock()
	c := a.live[name]
	a.mu.Unlock()
	if c != nil {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
}

// Queue is the outbox publisher's hook: it queues, for every session
// whose identity may read the account, the reports of each order entry,
// before the publisher acknowledges them. An error leaves the entries
// unacknowledged, so they come again (and queue once: see
// store.FIXSessions.QueueFIXReports).
//
// Only sessions that have logged on this session day are queued for: the
// queue of a session nobody uses does not grow without end (orders live
// one trading day; a session hears of them from its first logon of the
// day, and of what it missed while away that day at its next logon).
func (a *Acceptor) Queue(ctx context.Context, entries []*store.OutboxEntry) error {
	today := a.sessionDay(a.o.Now())
	for i := range a.o.Sessions {
		cfg := &a.o.Sessions[i]
		seq, err := a.o.Store.FIXSeq(ctx, cfg.Name())
		if err != nil {
			return err
		}
		if dayOf(seq.Day) != today {
			continue
		}
		var reports []store.FIXReport
		for _, e := range entries {
			if e.Kind != store.OutboxOrder {
				continue
			}
			ok, err := a.readable.has(ctx, cfg.Identity, e.AccountCode)
			if err != nil {
				return err
			}
			if !ok {
				continue
			}
			for _, body := range reportsOf(*e) {
				reports = append(reports, store.FIXReport{OutboxID: e.ID, Body: encodeBody(body)})
			}
		}
		if len(reports) == 0 {
			continue
		}
		if err := a.o.Store.QueueFIXReports(ctx, cfg.Name(), reports); err != nil {
			return err
		}
		a.wake(cfg.Name())
	}
	return nil
}

// readableCache remembers an identity's readable accounts for a second:
// the publisher asks per entry, grants change rarely, and a revoked grant
// stops the reports within that second.
type readableCache struct {
	get     func(ctx context.Context, user string) (map[string]bool, error)
	now     func() time.Time
	mu      sync.Mutex
	entries map[string]readableEntry
}

type readableEntry struct {
	accounts map[string]bool
	at       time.Time
}

func (c *readableCache) has(ctx context.Context, user, account string) (bool, error) {
	c.mu.Lock()
	e, ok := c.entries[user]
	c.mu.Unlock()
	if !ok || c.now().Sub(e.at) > time.Second {
		accounts, err := c.get(ctx, user)
		if err != nil {
			return false, err
		}
		e = readableEntry{accounts: accounts, at: c.now()}
		c.mu.Lock()
		c.entries[user] = e
		c.mu.Unlock()
	}
	return e.accounts[account], nil
}
