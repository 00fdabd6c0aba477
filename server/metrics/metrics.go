// Package metrics exposes omsd's Prometheus metrics: requests by
// operation, Redis commands, the mail queue, auth events, and the Go
// runtime and process collectors. It implements the observer interfaces of
// the other packages (server.RequestMetrics, auth.Events, mail.AsyncEvents,
// redis.Observer) without those packages knowing about Prometheus, and
// keeps its own registry (never the global one).
package metrics

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Label values used before any event, so every series exists from the
// start (a counter that appears at 1 hides its first increment from rate()).
var (
	loginOutcomes   = []string{"success", "invalid_credentials", "throttled", "error"}
	throttleKinds   = []string{"login", "recovery_start", "recovery_verify", "recovery_reset"}
	recoverySteps   = []string{"start", "verify", "reset"}
	mailFailReasons = []string{"delivery", "queue_full", "shutdown"}
)

// Metrics is one registry and the collectors in it.
type Metrics struct {
	reg *prometheus.Registry

	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec

	redisLatency *prometheus.HistogramVec
	redisErrors  *prometheus.CounterVec
	cmdMu        sync.RWMutex
	cmds         map[cmdKey]*cmdRec

	logins    *prometheus.CounterVec
	throttled *prometheus.CounterVec
	recovery  map[string]*prometheus.CounterVec // by step

	mailDelivered prometheus.Counter
	mailFailures  *prometheus.CounterVec
}

// New registers every collector on a new registry.
func New() *Metrics {
	m := &Metrics{reg: prometheus.NewRegistry(), cmds: map[cmdKey]*cmdRec{}}
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "omsd_http_requests_total",
		Help: "HTTP requests answered, by contract operation id (<unmatched>: no route; <static>: /openapi.json, /docs) and status code.",
	}, []string{"operation", "status"})
	m.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "omsd_http_request_duration_seconds",
		Help:    "Time from the request reaching the router to its answer being written, by contract operation id.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"operation"})
	m.redisLatency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "omsd_redis_command_duration_seconds",
		Help:    "Redis round trips of the store, by command (pipeline: a pipelined batch) and Lua script (empty for plain commands).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"command", "script"})
	m.redisErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "omsd_redis_command_errors_total",
		Help: "Redis commands of the store that failed (connection or server error; a nil reply is not an error), by command and Lua script.",
	}, []string{"command", "script"})
	m.logins = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "omsd_auth_logins_total",
		Help: "Password logins by outcome: success, invalid_credentials, throttled, error.",
	}, []string{"outcome"})
	m.throttled = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "omsd_auth_throttled_total",
		Help: "Requests refused by a rate limit (429), by kind: login, recovery_start, recovery_verify, recovery_reset.",
	}, []string{"kind"})
	m.recovery = map[string]*prometheus.CounterVec{}
	for step, name := range map[string]string{"start": "starts", "verify": "verifications", "reset": "resets"} {
		m.recovery[step] = prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "omsd_auth_recovery_" + name + "_total",
			Help: "Password recovery " + name + " by outcome: success, throttled, error, or the error code answered (invalid_code, too_many_attempts, ...).",
		}, []string{"outcome"})
	}
	m.mailDelivered = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "omsd_mail_delivered_total",
		Help: "Mail messages the mail server (or outbox) accepted.",
	})
	m.mailFailures = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "omsd_mail_failures_total",
		Help: "Mail messages lost, by reason: delivery (every retry failed, or a permanent failure), queue_full, shutdown.",
	}, []string{"reason"})

	m.reg.MustRegister(m.requests, m.latency, m.redisLatency, m.redisErrors, m.logins, m.throttled,
		m.mailDelivered, m.mailFailures,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, step := range recoverySteps {
		m.reg.MustRegister(m.recovery[step])
		for _, o := range []string{"success", "throttled", "error"} {
			m.recovery[step].WithLabelValues(o)
		}
	}
	for _, o := range loginOutcomes {
		m.logins.WithLabelValues(o)
	}
	for _, k := range throttleKinds {
		m.throttled.WithLabelValues(k)
	}
	for _, r := range mailFailReasons {
		m.mailFailures.WithLabelValues(r)
	}
	return m
}

// Registry is where every metric of m is registered.
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves GET /metrics in the Prometheus text format (or
// OpenMetrics, when the scraper asks for it); anything else is 404 or 405.
func (m *Metrics) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{
		Registry:          m.reg, // promhttp_metric_handler_errors_total
		EnableOpenMetrics: true,
	}))
	return mux
}

// Queue is what the mail-queue gauges read (mail.Async).
type Queue interface {
	Len() int
	Cap() int
}

// WatchMailQueue registers omsd_mail_queue_depth and
// omsd_mail_queue_capacity, read from q at every scrape.
func (m *Metrics) WatchMailQueue(q Queue) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "omsd_mail_queue_depth",
			Help: "Mail messages waiting in the send queue (not counting those being delivered).",
		}, func() float64 { return float64(q.Len()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "omsd_mail_queue_capacity",
			Help: "Size of the mail send queue; a full queue drops messages.",
		}, func() float64 { return float64(q.Cap()) }),
	)
}

// Backlog is what the venue backlog and order entry metrics read
// (trading.Service).
type Backlog interface {
	Backlog() int
	StepFailures() int64
	EntryCommits() int64
	EntriesCommitted() int64
}

// WatchVenueBacklog registers omsd_venue_backlog_steps,
// omsd_venue_backlog_failures_total and the group commit's counters, read
// from b at every scrape.
func (m *Metrics) WatchVenueBacklog(b Backlog) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "omsd_venue_backlog_steps",
			Help: "Store steps waiting behind the venue (reports to book, uncertain commits to settle); above 0 only while the store fails.",
		}, func() float64 { return float64(b.Backlog()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "omsd_venue_backlog_failures_total",
			Help: "Failed runs of store steps behind the venue; each is retried until it succeeds.",
		}, func() float64 { return float64(b.StepFailures()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "omsd_order_entry_commits_total",
			Help: "Transactions run for the order entries queued on one instrument, committed together (group commit).",
		}, func() float64 { return float64(b.EntryCommits()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "omsd_order_entries_committed_total",
			Help: "Order entries those transactions took; divided by omsd_order_entry_commits_total, the mean batch.",
		}, func() float64 { return float64(b.EntriesCommitted()) }),
	)
}

// Stream is what the Streaming API metrics read.
type Stream interface {
	Connections() int
	Subscriptions() int
	Published() int64
	PublishFailures() int64
	Suppressed() int64
	CommandsLimited() int64
}

// WatchStream registers omsd_stream_connections, omsd_stream_subscriptions,
// omsd_stream_published_total, omsd_stream_publish_failures_total,
// omsd_stream_publish_suppressed_total and
// omsd_stream_commands_limited_total.
func (m *Metrics) WatchStream(s Stream) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "omsd_stream_connections", Help: "Streaming API connections on this instance.",
		}, func() float64 { return float64(s.Connections()) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "omsd_stream_subscriptions", Help: "Channel subscriptions of this instance's Streaming API connections.",
		}, func() float64 { return float64(s.Subscriptions()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "omsd_stream_published_total", Help: "Outbox entries this instance published to the Streaming API.",
		}, func() float64 { return float64(s.Published()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "omsd_stream_publish_failures_total", Help: "Failed publishes of outbox entries; each is retried, in order, until it succeeds.",
		}, func() float64 { return float64(s.PublishFailures()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "omsd_stream_publish_suppressed_total", Help: "Outbox entries published again after a restart that the broker did not deliver twice (idempotency key known).",
		}, func() float64 { return float64(s.Suppressed()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "omsd_stream_commands_limited_total", Help: "Client commands refused with 111 too many requests (over the connection's --stream-command-rate).",
		}, func() float64 { return float64(s.CommandsLimited()) }),
	)
}

// Recorder is what the latency recorder metrics read (its counters).
type Recorder interface {
	Counters() (open, dropped, failed, refused int64)
}

// WatchLatencyRecorder registers omsd_latency_recorder_errors_total (by
// reason: refused, a stamp out of order or after the end, a bug; store, a
// record the latency store refused; dropped, a trace not indexed because
// too many were open) and omsd_latency_open_traces.
func (m *Metrics) WatchLatencyRecorder(r Recorder) {
	errs := func(pick func(dropped, failed, refused int64) int64) func() float64 {
		return func() float64 { _, d, f, rf := r.Counters(); return float64(pick(d, f, rf)) }
	}
	const name, help = "omsd_latency_recorder_errors_total", "Latency stamps or records the recorder could not keep, by reason."
	m.reg.MustRegister(
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"reason": "refused"}},
			errs(func(_, _, rf int64) int64 { return rf })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"reason": "store"}},
			errs(func(_, f, _ int64) int64 { return f })),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"reason": "dropped"}},
			errs(func(d, _, _ int64) int64 { return d })),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "omsd_latency_open_traces", Help: "Messages in flight whose latency trace is open."},
			func() float64 { o, _, _, _ := r.Counters(); return float64(o) }),
	)
}

// --- requests (server.RequestMetrics) ---

// Operation returns the recorder of one operation (server.RequestMetrics).
// The histogram child is resolved here; status children are resolved at
// their first use and then read without locks or allocation.
func (m *Metrics) Operation(id string) func(status int, elapsed time.Duration) {
	o := &opRec{id: id, requests: m.requests, latency: m.latency.WithLabelValues(id)}
	empty := map[int]prometheus.Counter{}
	o.byStatus.Store(&empty)
	return o.observe
}

type opRec struct {
	id       string
	requests *prometheus.CounterVec
	latency  prometheus.Observer
	mu       sync.Mutex // serialises copy-on-write updates of byStatus
	byStatus atomic.Pointer[map[int]prometheus.Counter]
}

func (o *opRec) observe(status int, elapsed time.Duration) {
	o.latency.Observe(elapsed.Seconds())
	c, ok := (*o.byStatus.Load())[status]
	if !ok {
		c = o.add(status)
	}
	c.Inc()
}

func (o *opRec) add(status int) prometheus.Counter {
	o.mu.Lock()
	defer o.mu.Unlock()
	old := *o.byStatus.Load()
	if c, ok := old[status]; ok {
		return c
	}
	c := o.requests.WithLabelValues(o.id, strconv.Itoa(status))
	next := make(map[int]prometheus.Counter, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[status] = c
	o.byStatus.Store(&next)
	return c
}

// --- Redis (redis.Observer) ---

type cmdKey struct{ name, script string }

type cmdRec struct {
	latency prometheus.Observer
	errors  prometheus.Counter
}

// Command records one Redis command (redis.Observer).
func (m *Metrics) Command(name, script string, elapsed time.Duration, failed bool) {
	k := cmdKey{name, script}
	m.cmdMu.RLock()
	r := m.cmds[k]
	m.cmdMu.RUnlock()
	if r == nil {
		m.cmdMu.Lock()
		if r = m.cmds[k]; r == nil {
			r = &cmdRec{latency: m.redisLatency.WithLabelValues(name, script), errors: m.redisErrors.WithLabelValues(name, script)}
			m.cmds[k] = r
		}
		m.cmdMu.Unlock()
	}
	r.latency.Observe(elapsed.Seconds())
	if failed {
		r.errors.Inc()
	}
}

// --- auth (auth.Events) ---

// Login counts a login by outcome (auth.Events).
func (m *Metrics) Login(outcome string) { m.logins.WithLabelValues(outcome).Inc() }

// Throttled counts a request refused by a rate limit (auth.Events).
func (m *Metrics) Throttled(kind string) { m.throttled.WithLabelValues(kind).Inc() }

// Recovery counts a recovery step by outcome (auth.Events).
func (m *Metrics) Recovery(step, outcome string) {
	if v := m.recovery[step]; v != nil {
		v.WithLabelValues(outcome).Inc()
	}
}

// --- mail (mail.AsyncEvents) ---

// Delivered counts a delivered message (mail.AsyncEvents).
func (m *Metrics) Delivered() { m.mailDelivered.Inc() }

// Failed counts a lost message by reason (mail.AsyncEvents).
func (m *Metrics) Failed(reason string) { m.mailFailures.WithLabelValues(reason).Inc() }
