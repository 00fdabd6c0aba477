package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// result is the outcome of one measured run.
type result struct {
	test      string // latency (open loop) or throughput (closed loop)
	subs      int    // idle subscribers attached
	load      string
	sent      int
	ok        int
	abandoned int             // scheduled but never sent (past the run's bound)
	elapsed   time.Duration   // first scheduled send to the last answer
	lat       []time.Duration // latency: delivery; throughput: POST round trip
	other     []time.Duration // latency: POST answered; throughput: delivery
	t         *tracker
	drained   time.Duration // last answer to the last report (or the drain bound)
	idlePubs  int64         // reports the idle subscribers received meanwhile
	// CPU time omsd and this process used over wall (the run and its drain).
	wall, cpuOmsd, cpuSelf time.Duration
}

// job is one scheduled order.
type job struct {
	i   int
	ref string
	at  time.Time
}

// openLoop sends rate orders a second for d from a schedule, whatever
// the answers take (no coordinated omission: a late send is measured
// from when it was due), through a bounded pool of workers. Orders still
// queued, or unanswered, drain after the schedule ends are abandoned, so
// a run that cannot keep up stays bounded.
func openLoop(ctx context.Context, a *api, jwt string, p *probe, o runOpts) result {
	n := max(2, int(float64(o.rate)*o.d.Seconds())&^1) // whole pairs
	t := newTracker()
	t.stalls = o.stalls
	p.cur.Store(t)
	start := time.Now()
	bound, cancel := context.WithDeadline(ctx, start.Add(o.d+o.drain))
	defer cancel()
	jobs := make(chan job, n)
	w := startWorkers(bound, a, jwt, t, o.workers, jobs)
	interval := time.Second / time.Duration(o.rate)
	for i := 0; i < n && bound.Err() == nil; i++ {
		at := start.Add(time.Duration(i) * interval)
		if wait := time.Until(at); wait > 0 {
			sleep(bound, wait)
		}
		ref := fmt.Sprintf("%s-%d", o.prefix, i)
		t.expect(ref, at)
		jobs <- job{i, ref, at}
	}
	close(jobs)
	w.wg.Wait()
	r := result{test: "latency", load: fmt.Sprintf("%d/s", o.rate), sent: w.sent, abandoned: n - w.sent,
		elapsed: w.last.Sub(start), t: t}
	acks, delivery := r.finish(ctx, o.drain, w.last)
	r.lat, r.other = delivery, acks
	return r
}

// errCut is a POST still unanswered at its run's bound.
var errCut = errors.New("unanswered at the run's bound")

// workers are a latency run's pool of senders.
type workers struct {
	wg   sync.WaitGroup
	mu   sync.Mutex
	sent int
	last time.Time // the last answer
}

// startWorkers starts n workers sending the jobs until ctx ends; a job
// taken after it is dropped.
func startWorkers(ctx context.Context, a *api, jwt string, t *tracker, n int, jobs <-chan job) *workers {
	w := &workers{}
	for range n {
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			for j := range jobs {
				if ctx.Err() != nil {
					t.drop(j.ref)
					continue
				}
				t.sending(j.at)
				err := a.enter(ctx, jwt, pairOrder(j.ref, j.i))
				if err != nil && ctx.Err() != nil {
					err = fmt.Errorf("%w: %w", errCut, err)
				}
				t.entered(j.ref, j.at, err)
				w.mu.Lock()
				w.sent++
				w.last = time.Now()
				w.mu.Unlock()
			}
		}()
	}
	return w
}

// closedLoop has c posters each send its next order when the last is
// answered, for d.
func closedLoop(ctx context.Context, a *api, jwt string, p *probe, o runOpts) result {
	t := newTracker()
	p.cur.Store(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	sent := 0
	start := time.Now()
	deadline := start.Add(o.d)
	for g := range o.concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			i := 0
			// Whole pairs only, so no order is left resting.
			for ; ctx.Err() == nil && (i%2 == 1 || time.Now().Before(deadline)); i++ {
				ref := fmt.Sprintf("%s-%d-%d", o.prefix, g, i)
				at := time.Now()
				t.expect(ref, at)
				t.entered(ref, at, a.enter(ctx, jwt, pairOrder(ref, i)))
			}
			mu.Lock()
			sent += i
			mu.Unlock()
		}()
	}
	wg.Wait()
	last := time.Now()
	r := result{test: "throughput", load: fmt.Sprintf("%d posters", o.concurrency), sent: sent, elapsed: last.Sub(start), t: t}
	acks, delivery := r.finish(ctx, o.drain, last)
	r.lat, r.other = acks, delivery
	return r
}

// finish waits for the run's reports, counts what was entered and
// returns copies of the POST and delivery latencies.
func (r *result) finish(ctx context.Context, drain time.Duration, last time.Time) (acks, delivery []time.Duration) {
	r.t.wait(ctx, drain)
	r.drained = time.Since(last)
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	r.ok = len(r.t.acks)
	delivery = make([]time.Duration, len(r.t.delivered))
	for i, d := range r.t.delivered {
		delivery[i] = d.d
	}
	return append([]time.Duration(nil), r.t.acks...), delivery
}

// runOpts are one run's parameters.
type runOpts struct {
	prefix      string
	rate        int
	d           time.Duration
	workers     int
	concurrency int
	drain       time.Duration
	stalls      *stallTracer // nil: off
}

func sleep(ctx context.Context, d time.Duration) {
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
	case <-timer.C:
	}
}
