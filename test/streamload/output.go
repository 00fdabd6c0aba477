package main

import (
	"cmp"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"
)

const rowFormat = "%-7s %6s %-10s %-10s %7s %7s %9s %8s %8s %8s %8s %7s %8s %6s\n"

func printHeader() {
	fmt.Printf(rowFormat, "store", "subs", "test", "load", "orders", "ok", "orders/s",
		"p50 ms", "p90 ms", "p99 ms", "max ms", "missing", "unfilled", "errors")
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted, not
// empty.
func percentile(sorted []time.Duration, p float64) time.Duration {
	i := int(float64(len(sorted))*p/100+0.5) - 1
	return sorted[min(max(i, 0), len(sorted)-1)]
}

func ms(d time.Duration) string { return fmt.Sprintf("%.2f", float64(d)/float64(time.Millisecond)) }

// pct formats the p-th percentile of sorted in milliseconds, "-" when
// there is nothing to rank.
func pct(sorted []time.Duration, p float64) string {
	if len(sorted) == 0 {
		return "-"
	}
	return ms(percentile(sorted, p))
}

func rate(r result) float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

func errorCount(r result) int {
	r.t.mu.Lock()
	defer r.t.mu.Unlock()
	n := 0
	for _, v := range r.t.errs {
		n += v
	}
	return n
}

// printRows prints one row a run: for latency the percentiles are the
// delivery latency, for throughput the POST round trip.
func printRows(c config, runs []result) {
	for _, r := range runs {
		slices.Sort(r.lat)
		_, missing, unfilled := r.t.outcome()
		fmt.Printf(rowFormat, c.store, fmt.Sprint(r.subs), r.test, r.load, fmt.Sprint(r.sent), fmt.Sprint(r.ok),
			fmt.Sprintf("%.0f", rate(r)), pct(r.lat, 50), pct(r.lat, 90), pct(r.lat, 99), pct(r.lat, 100), fmt.Sprint(missing), fmt.Sprint(unfilled), fmt.Sprint(errorCount(r)))
	}
}

// printNotes prints what the rows leave out, one line each.
func printNotes(c config, runs []result, p *probe, crowd *idle, mems []memory) {
	note := func(format string, args ...any) {
		fmt.Printf("%-7s   · "+format+"\n", append([]any{c.store}, args...)...)
	}
	var alone []float64 // throughput without subscribers: before them and, with them, after
	var attached float64
	for _, r := range runs {
		slices.Sort(r.other)
		what := "POST answered (from the scheduled send)"
		if r.test == "throughput" {
			what = "delivery (send → first report, saturated)"
		}
		r.t.mu.Lock()
		note("%s/%d subs: %s p50 %s p99 %s ms; first reports %s; all reports %s; waited %.1fs for the last report; %d stale reports",
			r.test, r.subs, what, pct(r.other, 50), pct(r.other, 99), counts(r.t.first),
			counts(r.t.statuses), r.drained.Seconds(), r.t.late)
		if lags := slices.Sorted(slices.Values(r.t.lags)); len(lags) > 0 {
			note("%s/%d subs: POST started late (this process's own scheduling) p50 %s p99 %s max %s ms", r.test, r.subs,
				pct(lags, 50), pct(lags, 99), pct(lags, 100))
		}
		if r.test == "latency" {
			note("%s/%d subs: %s", r.test, r.subs, bursts(r.t))
		}
		if r.abandoned > 0 {
			note("%s/%d subs: %d scheduled orders never sent (still queued at the run's bound)", r.test, r.subs, r.abandoned)
		}
		if len(r.t.errs) > 0 {
			note("%s/%d subs: errors %s; e.g. %v", r.test, r.subs, counts(r.t.errs), r.t.examples)
		}
		r.t.mu.Unlock()
		note("%s/%d subs: CPU over %.1fs (the run and its drain): omsd %.1fs, streamload %.1fs", r.test, r.subs,
			r.wall.Seconds(), r.cpuOmsd.Seconds(), r.cpuSelf.Seconds())
		if r.subs > 0 {
			note("%s/%d subs: the idle subscribers received %d reports (%.1f each)", r.test, r.subs, r.idlePubs,
				float64(r.idlePubs)/float64(r.subs))
		}
		if r.test == "throughput" && r.subs == 0 {
			alone = append(alone, rate(r))
		} else if r.test == "throughput" {
			attached = rate(r)
		}
	}
	if crowd != nil {
		n := len(crowd.clients)
		note("%d idle subscribers on %v, connected %d at a time, %s", n, crowd.channels, c.batch, sessionsNote(c))
		for i, m := range mems {
			when := []string{"before any load", "again, after the load runs (the heap they left makes this one less reliable)"}[min(i, 1)]
			if m.before > 0 && m.after > 0 {
				noise := ""
				if d := m.after - m.before; d < 8<<10 && d > -8<<10 {
					noise = "; within RSS noise (the heap's reuse, the scavenger): use more subscribers"
				}
				note("omsd RSS %.1f MiB before, %.1f MiB after connecting them %s: %.1f KiB per connection (connected in %.1fs)%s",
					float64(m.before)/1024, float64(m.after)/1024, when, float64(m.after-m.before)/float64(n), m.took.Seconds(), noise)
			}
		}
		note("idle subscribers: %d reconnects; disconnects and reconnects: %s; subscription errors: %s",
			crowd.connects.Load()-int64(n), crowd.disconnectCodes(), crowd.subscriptionErrors())
	}
	if len(alone) == 2 && attached > 0 {
		without := (alone[0] + alone[1]) / 2
		note("throughput with %d subscribers / without: %.2f (%.0f vs %.0f orders/s, the mean of %.0f before them and %.0f after)",
			c.subscribers, attached/without, attached, without, alone[0], alone[1])
	}
	note("probe: %d reports received, %d undecodable; disconnects and reconnects: %s", p.pubs.Load(), p.undecodable.Load(), p.events())
}

// writeDeliveries writes each latency run's deliveries to path (when
// set), in due order: the run (latency/0, latency/1000 ...), when the
// order was due in ms from the run's first due send, its delivery in ms.
func writeDeliveries(path string, runs []result) error {
	if path == "" {
		return nil
	}
	var b strings.Builder
	b.WriteString("run,due_ms,delivery_ms\n")
	for _, r := range runs {
		if r.test != "latency" {
			continue
		}
		r.t.mu.Lock()
		ds := slices.Clone(r.t.delivered)
		r.t.mu.Unlock()
		slices.SortFunc(ds, func(a, b delivered) int { return a.at.Compare(b.at) })
		for _, d := range ds {
			fmt.Fprintf(&b, "%s/%d,%.3f,%.3f\n", r.test, r.subs, float64(d.at.Sub(ds[0].at))/float64(time.Millisecond),
				float64(d.d)/float64(time.Millisecond))
		}
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("-deliveries: %w", err)
	}
	return nil
}

// burstGap is how close in due time two of the slowest deliveries are to
// count as one burst.
const burstGap = 50 * time.Millisecond

// bursts says how the slowest 1% of a latency run's deliveries spread
// over the run: a few bursts are a stall (a garbage collection, a pause
// of the box), evenly spread ones are queueing. The caller holds t.mu.
func bursts(t *tracker) string {
	if len(t.delivered) == 0 {
		return "no deliveries"
	}
	slow := slices.SortedStableFunc(slices.Values(t.delivered), func(a, b delivered) int { return cmp.Compare(b.d, a.d) })
	slow = slow[:max(1, len(slow)/100)]
	least := slow[len(slow)-1].d
	slices.SortFunc(slow, func(a, b delivered) int { return a.at.Compare(b.at) })
	var sizes []int
	for i, d := range slow {
		if i == 0 || d.at.Sub(slow[i-1].at) > burstGap {
			sizes = append(sizes, 0)
		}
		sizes[len(sizes)-1]++
	}
	in10, big := 0, 0
	for _, n := range sizes {
		if n >= 10 {
			in10++
			big += n
		}
	}
	return fmt.Sprintf("the slowest 1%% (%d deliveries of %s ms or more) fall in %d bursts (due within %s of each other); %d in the %d bursts of 10 or more",
		len(slow), ms(least), len(sizes), burstGap, big, in10)
}

// sessionsNote says whose sessions the idle subscribers use.
func sessionsNote(c config) string {
	if c.idleSessions == "own" {
		return "each with its own session (a login each)"
	}
	return "all with one session (one JWT)"
}
