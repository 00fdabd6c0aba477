// Command streamload is a bounded loopback load run of omsd's Streaming
// API (scripts/stream-load.sh, make stream-load) against a live
// `omsd serve --dev` at -base. It funds the demo accounts through the
// maker-checker workflow, then sends crossing pairs of orders (Binh sells
// 100 HPG at 27 500, An buys them) and measures:
//
//   - delivery latency: from an order's scheduled send to the arrival of
//     its first execution report at a centrifuge-go subscriber (the
//     probe), at a fixed open-loop rate;
//   - omsd's resident memory per idle WebSocket subscriber (-pid);
//   - closed-loop order throughput with and without those subscribers.
//
// Every phase is bounded; -budget prints the bound of a whole run.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
	"time"
)

// config is the command line.
type config struct {
	base, store, idleChannels string
	idleSessions              string // shared or own
	deliveries                string // CSV of every latency run's deliveries ("": none)
	pid                       int
	d, drain, connectTimeout  time.Duration
	rate, subscribers, batch  int
	concurrency, workers      int
	books                     int
	header, budget            bool
	traceDir                  string        // -trace-dir ("": off)
	traceAfter                time.Duration // a delivery later than this is a stall to trace
	stalls                    *stallTracer  // from traceDir (nil: off)
}

func parseFlags() config {
	var c config
	flag.StringVar(&c.base, "base", "http://127.0.0.1:8080", "omsd base URL (serve --dev, demo data)")
	flag.StringVar(&c.store, "store", "memory", "label of the store omsd runs on (the table's first column)")
	flag.IntVar(&c.pid, "pid", 0, "omsd's process ID, for its RSS (0: not measured)")
	flag.DurationVar(&c.d, "duration", 10*time.Second, "duration of each measured run")
	flag.IntVar(&c.rate, "rate", 1000, "open-loop order rate of the latency runs (orders/s)")
	flag.IntVar(&c.workers, "workers", 64, "HTTP workers (and keep-alive connections) of the latency runs")
	flag.IntVar(&c.concurrency, "concurrency", 8, "closed-loop posters of the throughput runs")
	flag.IntVar(&c.books, "books", 1, fmt.Sprintf("lanes the pairs cross on, round robin, each its own instrument and buyer and seller accounts (1..%d; 1: every order on HPG between An and Binh)", len(allBooks)))
	flag.IntVar(&c.subscribers, "subscribers", 1000, "idle subscribers connected for the second half")
	flag.StringVar(&c.idleChannels, "idle-channels", "quiet", "what the idle subscribers subscribe to: quiet (a quiet account's order and account channels: "+
		"connections only) or orders (the load's two order channels, so every report fans out to each)")
	flag.StringVar(&c.idleSessions, "idle-sessions", "shared", "the idle subscribers' sessions: shared (one login, one JWT for all) or own "+
		"(a login each, as terminals have: omsd's revocation check reads each session every round)")
	flag.IntVar(&c.batch, "connect-batch", 200, "idle subscribers connected at a time")
	flag.DurationVar(&c.drain, "drain", 10*time.Second, "longest wait for a run's reports after its last order")
	flag.DurationVar(&c.connectTimeout, "connect-timeout", 0, "bound on connecting the idle subscribers (0: 30s + 10ms each)")
	flag.StringVar(&c.deliveries, "deliveries", "", "write every latency run's deliveries to this CSV file (run, due ms from the run's start, delivery ms), "+
		"to see when the slow ones happened (docs/benchmarks.md: they come in bursts)")
	flag.StringVar(&c.traceDir, "trace-dir", "", "keep Go's flight recorder on; the first delivery of a latency run later than -trace-after (one every 5s at most) "+
		"writes this process's last seconds of runtime trace here and sends -pid SIGUSR1 (omsd serve --trace-dir writes its own)")
	flag.DurationVar(&c.traceAfter, "trace-after", 25*time.Millisecond, "how late a delivery is a stall for -trace-dir")
	flag.BoolVar(&c.header, "header", false, "print the table's header and exit")
	flag.BoolVar(&c.budget, "budget", false, "print the bound of a run with these flags in whole seconds and exit")
	flag.Parse()
	if c.connectTimeout <= 0 {
		c.connectTimeout = 30*time.Second + time.Duration(c.subscribers)*10*time.Millisecond
	}
	return c
}

// bound is the longest a run with c takes: set-up, five runs and two
// warm-ups (each at most its duration, the drain of its sends or its
// POSTs' timeout, the drain of its reports and a pause), the idle
// subscribers' logins (own sessions), connecting and closing them twice
// and the pauses around.
func (c config) bound() time.Duration {
	return 60*time.Second + 7*(c.d+max(c.drain, postTimeout)+c.drain+time.Second) + c.loginsBound() + 3*c.connectTimeout + 10*time.Second
}

// loginsBound bounds the idle subscribers' logins: each is a password
// hash (about 13 ms a login here with loginWorkers at once), 100 ms
// allowed.
func (c config) loginsBound() time.Duration {
	if c.idleSessions != "own" {
		return 0
	}
	return 10*time.Second + time.Duration(c.subscribers)*100*time.Millisecond/loginWorkers
}

func main() {
	c := parseFlags()
	switch {
	case c.header:
		printHeader()
		return
	case c.budget:
		fmt.Println(int(c.bound().Seconds() + 1))
		return
	case c.rate <= 0 || c.d <= 0 || c.workers <= 0 || c.concurrency <= 0 || c.batch <= 0 || c.subscribers < 0 ||
		c.idleChannels != "orders" && c.idleChannels != "quiet" || c.idleSessions != "shared" && c.idleSessions != "own" ||
		c.books < 1 || c.books > len(allBooks):
		fmt.Fprintf(os.Stderr, "streamload: -rate, -duration, -workers, -concurrency and -connect-batch must be positive, "+
			"-idle-channels orders or quiet, -idle-sessions shared or own, -books 1..%d\n", len(allBooks))
		os.Exit(2)
	}
	setBooks(c.books)
	collectRarely()
	var err error
	if c.stalls, err = newStallTracer(c); err != nil {
		fmt.Fprintln(os.Stderr, "streamload:", err)
		os.Exit(1)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, c.bound())
	defer cancel()
	if err := run(ctx, c); err != nil {
		fmt.Fprintln(os.Stderr, "streamload:", err)
		os.Exit(1)
	}
}

// collectRarely gives this process's collector a target of 400 (GOGC in
// the environment wins). The probe that timestamps every report shares
// the process with the idle subscribers' clients and the open loop's
// sender, and at Go's default it collected several times a second; a
// runtime trace caught one collection's marking (37 ms, both Ps) holding
// the sender and the probe, which reads as a burst of late reports from
// omsd (docs/benchmarks.md). A load generator's memory is cheap; its
// pauses are what it measures.
func collectRarely() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
}

func progress(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "streamload: "+format+"\n", args...)
}

// channels are the idle subscribers' channels.
func (c config) channels() []string {
	if c.idleChannels == "quiet" {
		return quietChannels
	}
	return orderChannels
}

func wsURL(base string) string {
	return "ws" + strings.TrimPrefix(strings.TrimRight(base, "/"), "http") + "/connection/websocket"
}
