package main

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	centrifuge "github.com/centrifugal/centrifuge-go"
)

// tracked is one order of a run as the probe saw it.
type tracked struct {
	at       time.Time // its scheduled send (open loop) or its send (closed loop)
	reported bool      // its first report arrived
	filled   bool
}

// tracker matches the reports the probe receives with a run's orders.
type tracker struct {
	mu       sync.Mutex
	orders   map[string]*tracked
	first    map[string]int    // orders by the status of their first report
	statuses map[string]int    // every report of the run's orders by status
	late     int               // reports of orders not (or no longer) tracked
	pending  int               // orders still without a first report or a fill
	changed  chan struct{}     // signalled when pending reaches 0
	errs     map[string]int    // failed entries by kind
	examples map[string]string // one message per kind
	acks     []time.Duration   // POST answered, from the scheduled send
	lags     []time.Duration   // open loop: POST started, from the scheduled send
	// delivered is each order's first report, in arrival order.
	delivered []delivered
	stalls    *stallTracer // told each first report's delay (nil: off)
}

// delivered is one order's first report: when the order was due and how
// long after that its report arrived.
type delivered struct {
	at time.Time
	d  time.Duration
}

func newTracker() *tracker {
	return &tracker{orders: map[string]*tracked{}, first: map[string]int{}, statuses: map[string]int{},
		changed: make(chan struct{}, 1), errs: map[string]int{}, examples: map[string]string{}}
}

// expect registers an order before it is sent.
func (t *tracker) expect(ref string, at time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.orders[ref] = &tracked{at: at}
	t.pending++
}

// sending records how late a scheduled order's POST starts: the load
// generator's own share of its latency (its scheduling on a busy box).
func (t *tracker) sending(at time.Time) {
	lag := time.Since(at)
	t.mu.Lock()
	defer t.mu.Unlock()
	t.lags = append(t.lags, lag)
}

// entered records the answer to an order's POST: a failed entry is
// counted and no longer waited for.
func (t *tracker) entered(ref string, at time.Time, err error) {
	now := time.Now()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err == nil {
		t.acks = append(t.acks, now.Sub(at))
		return
	}
	k := errorKind(err)
	t.errs[k]++
	if t.examples[k] == "" {
		t.examples[k] = err.Error()
	}
	t.dropLocked(ref)
}

// drop forgets an order that was never sent.
func (t *tracker) drop(ref string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.dropLocked(ref)
}

func (t *tracker) dropLocked(ref string) {
	if o := t.orders[ref]; o != nil {
		delete(t.orders, ref)
		if !o.reported || !o.filled {
			t.settle()
		}
	}
}

func (t *tracker) settle() {
	t.pending--
	if t.pending == 0 {
		select {
		case t.changed <- struct{}{}:
		default:
		}
	}
}

// report records one execution report that arrived at now.
func (t *tracker) report(ref, status string, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.orders[ref]
	if o == nil {
		t.late++
		return
	}
	t.statuses[status]++
	before := o.reported && o.filled
	if !o.reported {
		o.reported = true
		t.delivered = append(t.delivered, delivered{o.at, now.Sub(o.at)})
		t.stalls.seen(now.Sub(o.at))
		t.first[status]++
	}
	if status == "FILLED" {
		o.filled = true
	}
	if !before && o.reported && o.filled {
		t.settle()
	}
}

// wait waits until every order sent has its first report and its fill,
// or d passes.
func (t *tracker) wait(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	for {
		t.mu.Lock()
		n := t.pending
		t.mu.Unlock()
		if n <= 0 {
			return
		}
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
			return
		case <-t.changed:
		}
	}
}

// outcome counts the orders entered without a first report and without
// a fill.
func (t *tracker) outcome() (entered, missing, unfilled int) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, o := range t.orders {
		entered++
		if !o.reported {
			missing++
		}
		if !o.filled {
			unfilled++
		}
	}
	return entered, missing, unfilled
}

// counts formats a status or error count map, largest first.
func counts(m map[string]int) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return m[keys[i]] > m[keys[j]] || m[keys[i]] == m[keys[j]] && keys[i] < keys[j] })
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s %d", k, m[k]))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// probe is the measuring subscriber: one centrifuge-go client on both
// order channels, handing every report to the current run's tracker.
type probe struct {
	c           *centrifuge.Client
	cur         atomic.Pointer[tracker]
	pubs        atomic.Int64
	undecodable atomic.Int64
	mu          sync.Mutex
	codes       map[string]int // disconnect and reconnect codes and reasons
}

// report is what the probe reads of an OrderExecutionReport.
type report struct {
	Ref    string `json:"originalReqID"`
	Status string `json:"orderStatus"`
}

func newProbe(url, jwt string, timeout time.Duration) (*probe, error) {
	p := &probe{codes: map[string]int{}}
	p.c = centrifuge.NewJsonClient(url, clientConfig(jwt))
	p.c.OnDisconnected(func(ev centrifuge.DisconnectedEvent) { p.event("disconnected", ev.Code, ev.Reason) })
	p.c.OnConnecting(func(ev centrifuge.ConnectingEvent) {
		if ev.Code != 0 { // 0: the first Connect
			p.event("reconnecting", ev.Code, ev.Reason)
		}
	})
	subscribed := make(chan string, 2*len(orderChannels))
	for _, ch := range orderChannels {
		sub, err := p.c.NewSubscription(ch, centrifuge.SubscriptionConfig{Recoverable: true})
		if err != nil {
			return nil, err
		}
		sub.OnSubscribed(func(centrifuge.SubscribedEvent) {
			select {
			case subscribed <- ch:
			default:
			}
		})
		sub.OnPublication(p.onPublication)
		if err := sub.Subscribe(); err != nil {
			return nil, err
		}
	}
	if err := p.c.Connect(); err != nil {
		return nil, err
	}
	deadline := time.After(timeout)
	for range orderChannels {
		select {
		case <-subscribed:
		case <-deadline:
			p.c.Close()
			return nil, fmt.Errorf("the probe was not subscribed within %s", timeout)
		}
	}
	return p, nil
}

func (p *probe) event(what string, code uint32, reason string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.codes[fmt.Sprintf("%s %d %s", what, code, reason)]++
}

func (p *probe) events() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return counts(p.codes)
}

func (p *probe) onPublication(ev centrifuge.PublicationEvent) {
	now := time.Now()
	p.pubs.Add(1)
	var r report
	if err := json.Unmarshal(ev.Data, &r); err != nil || r.Ref == "" {
		p.undecodable.Add(1)
		return
	}
	if t := p.cur.Load(); t != nil {
		t.report(r.Ref, r.Status, now)
	}
}

// clientConfig is the centrifuge-go configuration of every client: the
// load's JWT (its 15 minutes outlast a run, so no refresh is wired) and
// timeouts that survive a busy loopback.
func clientConfig(jwt string) centrifuge.Config {
	return centrifuge.Config{
		Token:             jwt,
		Name:              "streamload",
		HandshakeTimeout:  10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      5 * time.Second,
		MinReconnectDelay: 500 * time.Millisecond,
		MaxReconnectDelay: 10 * time.Second,
	}
}
