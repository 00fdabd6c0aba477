package main

import (
	"context"
	"fmt"
	"os"
	"time"
)

// memory is omsd's RSS around connecting the idle subscribers.
type memory struct {
	before, after int64 // KiB; 0 when not measured
	took          time.Duration
}

// run is the whole sequence of one store: fund, warm up, connect the
// idle subscribers once to measure omsd's memory and close them, latency
// and throughput alone, connect them again, throughput and latency with
// them, close them and throughput alone again; then the table's rows.
func run(ctx context.Context, c config) error {
	a := newAPI(c.base, c.workers+c.concurrency)
	progress("%s: funding the demo accounts through the maker-checker workflow", c.store)
	if err := a.fund(ctx, c.idleChannels == "quiet"); err != nil {
		return err
	}
	jwt, err := a.login(ctx, traderEmail, traderPass)
	if err != nil {
		return err
	}
	p, err := newProbe(wsURL(c.base), jwt, 10*time.Second)
	if err != nil {
		return err
	}
	defer p.c.Close()
	crowdJWTs, err := crowdSessions(ctx, a, c, jwt)
	if err != nil {
		return err
	}
	prefix := fmt.Sprintf("sl%d", time.Now().Unix()%100000)
	opts := func(name string, d time.Duration) runOpts {
		return runOpts{prefix: prefix + name, rate: c.rate, d: d, workers: c.workers, concurrency: c.concurrency, drain: c.drain, stalls: c.stalls}
	}
	progress("%s: warm-up (1s closed loop, then 1s open loop at %d orders/s)", c.store, c.rate)
	closedLoop(ctx, a, jwt, p, opts("w", time.Second))
	// The open loop's workers open their keep-alive connections only as
	// they are needed; a run that began with them measured that onset
	// (a late first half second in most runs: docs/benchmarks.md), which
	// a terminal on a kept-alive connection never sees.
	warm := opts("wo", time.Second)
	warm.stalls = nil // not a measured run
	openLoop(ctx, a, jwt, p, warm)
	var mems []memory
	if c.subscribers > 0 {
		// Before any load, so the connections cannot reuse heap the load
		// runs freed and the RSS difference is theirs.
		crowd, m, err := connectCrowd(ctx, c, crowdJWTs, "to measure omsd's memory")
		if err != nil {
			return err
		}
		crowd.close()
		mems = append(mems, m)
		sleep(ctx, time.Second)
	}
	progress("%s: latency at %d orders/s for %s", c.store, c.rate, c.d)
	runs := []result{measured(c, nil, func() result { return openLoop(ctx, a, jwt, p, opts("l0", c.d)) })}
	sleep(ctx, time.Second)
	progress("%s: throughput, %d posters, for %s", c.store, c.concurrency, c.d)
	runs = append(runs, measured(c, nil, func() result { return closedLoop(ctx, a, jwt, p, opts("t0", c.d)) }))
	sleep(ctx, time.Second)
	var crowd *idle
	if c.subscribers > 0 {
		var m memory
		if crowd, m, err = connectCrowd(ctx, c, crowdJWTs, "again"); err != nil {
			printRows(c, runs)
			return err
		}
		defer crowd.close()
		mems = append(mems, m)
		progress("%s: throughput with %d subscribers", c.store, c.subscribers)
		runs = append(runs, measured(c, crowd, func() result { return closedLoop(ctx, a, jwt, p, opts("tn", c.d)) }))
		sleep(ctx, time.Second)
		progress("%s: latency at %d orders/s with %d subscribers", c.store, c.rate, c.subscribers)
		runs = append(runs, measured(c, crowd, func() result { return openLoop(ctx, a, jwt, p, opts("ln", c.d)) }))
		// Without them once more: the store grows run after run, and a
		// slower run after them must not be counted as their cost.
		crowd.close()
		sleep(ctx, time.Second)
		progress("%s: throughput again without the subscribers, for %s", c.store, c.d)
		runs = append(runs, measured(c, nil, func() result { return closedLoop(ctx, a, jwt, p, opts("tb", c.d)) }))
	}
	if err := writeDeliveries(c.deliveries, runs); err != nil {
		return err
	}
	printRows(c, runs)
	printNotes(c, runs, p, crowd, mems)
	if ctx.Err() != nil {
		return fmt.Errorf("stopped: %w", ctx.Err())
	}
	return nil
}

// connectCrowd connects the idle subscribers (see attach), saying why;
// subscriber i signs in with jwts[i].
func connectCrowd(ctx context.Context, c config, jwts []string, why string) (*idle, memory, error) {
	progress("%s: connecting %d idle subscribers to %v, %d at a time, %s", c.store, c.subscribers, c.channels(), c.batch, why)
	crowd, m, err := attach(ctx, c, jwts)
	if err != nil && crowd != nil {
		crowd.close()
	}
	return crowd, m, err
}

// attach connects the idle subscribers, reading omsd's RSS before and
// after (each after a pause, so the heap has settled).
func attach(ctx context.Context, c config, jwts []string) (*idle, memory, error) {
	var m memory
	var err error
	if c.pid > 0 {
		sleep(ctx, time.Second)
		if m.before, err = rssKiB(c.pid); err != nil {
			return nil, m, err
		}
	}
	start := time.Now()
	crowd, err := connectIdle(ctx, wsURL(c.base), jwts, c.channels(), c.batch, c.connectTimeout)
	m.took = time.Since(start)
	if err != nil {
		return crowd, m, err
	}
	if c.pid > 0 {
		sleep(ctx, 2*time.Second)
		if m.after, err = rssKiB(c.pid); err != nil {
			return crowd, m, err
		}
	}
	return crowd, m, nil
}

// measured runs f and records the idle subscribers attached (crowd may
// be nil), what they received, and the CPU time omsd and this process
// used over the run and its drain.
func measured(c config, crowd *idle, f func() result) result {
	var pubs int64
	if crowd != nil {
		pubs = crowd.pubs.Load()
	}
	omsd0, _ := cpuTime(c.pid)
	self0, _ := cpuTime(os.Getpid())
	start := time.Now()
	r := f()
	r.wall = time.Since(start)
	if c.pid > 0 {
		omsd1, _ := cpuTime(c.pid)
		r.cpuOmsd = omsd1 - omsd0
	}
	self1, _ := cpuTime(os.Getpid())
	r.cpuSelf = self1 - self0
	if crowd != nil {
		r.subs, r.idlePubs = len(crowd.clients), crowd.pubs.Load()-pubs
	}
	return r
}
