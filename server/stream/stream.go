// Package stream serves the Streaming API of the Vero OMS docs: the
// Centrifuge client protocol (what centrifuge-js and centrifuge-go speak)
// over WebSocket, HTTP-streaming and SSE, on an embedded Centrifuge node.
//
// A connection authenticates with omsd's own bearer JWT and lives as long
// as its session: the revoke loop ends connections whose session ended and
// subscriptions whose grant is gone (revoke.go). Channel permissions are
// the risk reads' rule (access.go). What is published comes from the
// store's transactional outbox, drained in commit order by the publisher
// (publish.go), into channels with history so a client that reconnects
// recovers what it missed.
package stream

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/centrifugal/centrifuge"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/vero-oms/omsd/server/auth"
	"github.com/vero-oms/omsd/server/token"
	"github.com/vero-oms/omsd/store"
)

// Sessions authenticates a bearer JWT against a live session.
type Sessions interface {
	Authenticate(ctx context.Context, jwt string) (auth.Principal, error)
	// AuthenticateAll answers many at once (one store round trip).
	AuthenticateAll(ctx context.Context, jwts []string) ([]auth.Principal, []error)
}

// Tokens reads a JWT's claims (its expiry sets the connection's).
type Tokens interface {
	Verify(token string, now time.Time) (token.Claims, error)
}

// Permissions decide who reads an account's channels: the risk domain's
// rule for GET /oms/risk/accounts/{id} (risk.Service), so the stream and
// REST never disagree. Account answers apperr.NotFound alike for no grant
// and no account; Readable lists the accounts a user holds a grant on.
type Permissions interface {
	Account(ctx context.Context, user, code string) (store.Account, error)
	Readable(ctx context.Context, user string) (map[string]bool, error)
}

// Defaults.
const (
	DefaultHistorySize = 1000
	DefaultHistoryTTL  = 24 * time.Hour
	DefaultRevokeEvery = 500 * time.Millisecond
	// DefaultCommandRate and DefaultCommandBurst: 20 commands a second
	// once connected, and a burst that lets a terminal subscribe to as
	// many channels as a connection may hold (MaxSubscriptions) at once.
	DefaultCommandRate  = 20
	DefaultCommandBurst = MaxSubscriptions + 64
	// DefaultPublishEvery: the outbox poll is a safety net. Commits of this
	// process wake the publisher at once, and on Redis so do other
	// processes' commits (a notification that a reconnect can lose).
	DefaultPublishEvery = time.Second
	// MaxSubscriptions is the channel limit of one connection.
	MaxSubscriptions = 256
)

// Options configure a Server.
type Options struct {
	Sessions Sessions
	Tokens   Tokens
	// Permissions is the risk service (who may read which account).
	Permissions Permissions
	// Outbox is drained by this instance's publisher; nil runs none (the
	// instance that owns the venue publishes for every instance).
	Outbox store.Outbox
	// Observe, when set, sees every outbox entry before it is published
	// and acknowledged (the FIX acceptor queues its ExecutionReports
	// there); an error leaves the entries unacknowledged and they come
	// again, as do entries whose publication failed, so it must take an
	// entry it has seen once.
	Observe func(ctx context.Context, entries []*store.OutboxEntry) error
	// HistorySize and HistoryTTL bound each order and account channel's
	// history, which recovery replays.
	HistorySize int
	HistoryTTL  time.Duration
	// CommandRate and CommandBurst bound the commands of one connection
	// (a token bucket): a terminal connects and subscribes in one burst,
	// then mostly listens. Commands over the limit are answered 111 "too
	// many requests" (temporary: a client may retry them later).
	CommandRate  float64
	CommandBurst int
	// RevokeEvery is how often sessions and grants of connected clients
	// are checked again; PublishEvery how often the outbox is polled
	// besides the store's OutboxWritten signal.
	RevokeEvery, PublishEvery time.Duration
	// Market serves the mkt: channels; its changes are published by the
	// instance that drains the outbox (the venue owner, whose books feed it).
	Market Market
	// Redis, when set, makes the node use the Redis broker and presence
	// manager, so every instance on that Redis delivers what any publishes.
	Redis *Redis
	// Metrics receives Centrifuge's own metrics (namespace omsd_stream);
	// nil keeps them in a private registry.
	Metrics centrifuge.RegistererGatherer
	Log     *slog.Logger
	Now     func() time.Time
}

func (o Options) withDefaults() Options {
	if o.HistorySize <= 0 {
		o.HistorySize = DefaultHistorySize
	}
	if o.HistoryTTL <= 0 {
		o.HistoryTTL = DefaultHistoryTTL
	}
	if o.CommandRate <= 0 {
		o.CommandRate = DefaultCommandRate
	}
	if o.CommandBurst <= 0 {
		o.CommandBurst = DefaultCommandBurst
	}
	if o.RevokeEvery <= 0 {
		o.RevokeEvery = DefaultRevokeEvery
	}
	if o.PublishEvery <= 0 {
		o.PublishEvery = DefaultPublishEvery
	}
	if o.Metrics == nil {
		o.Metrics = prometheus.NewRegistry()
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Server is the Streaming API of one omsd instance.
type Server struct {
	o     Options
	node  *centrifuge.Node
	conns *connections

	published, suppressed, failures, limited atomic.Int64

	stop      context.CancelFunc
	done      sync.WaitGroup
	closeOnce sync.Once
}

// New starts a node (and, with an outbox, its publisher).
func New(o Options) (*Server, error) {
	o = o.withDefaults()
	s := &Server{o: o}
	s.conns = newConnections(func() *rate.Limiter { return rate.NewLimiter(rate.Limit(o.CommandRate), o.CommandBurst) })
	node, err := s.newNode()
	if err != nil {
		return nil, err
	}
	s.node = node
	node.OnConnecting(s.connecting)
	node.OnConnect(s.connected)
	node.OnCommandRead(s.commandRead)
	if err := node.Run(); err != nil {
		return nil, err
	}
	ctx, stop := context.WithCancel(context.Background())
	s.stop = stop
	s.done.Add(1)
	go func() { defer s.done.Done(); s.revokeLoop(ctx) }()
	if o.Outbox != nil {
		s.done.Add(1)
		go func() { defer s.done.Done(); s.publishLoop(ctx) }()
		if o.Market != nil {
			s.done.Add(1)
			go func() { defer s.done.Done(); s.marketLoop(ctx) }()
		}
	}
	return s, nil
}

func (s *Server) newNode() (*centrifuge.Node, error) {
	node, err := centrifuge.New(centrifuge.Config{
		LogLevel:           centrifuge.LogLevelWarn,
		LogHandler:         s.logEntry,
		ClientChannelLimit: MaxSubscriptions,
		Metrics:            centrifuge.MetricsConfig{MetricsNamespace: "omsd_stream", RegistererGatherer: s.o.Metrics},
	})
	if err != nil {
		return nil, err
	}
	if s.o.Redis != nil {
		if err := s.o.Redis.attach(node); err != nil {
			return nil, err
		}
	}
	return node, nil
}

func (s *Server) logEntry(e centrifuge.LogEntry) {
	s.o.Log.Warn("stream: "+e.Message, "fields", e.Fields)
}

// commandRead refuses a command over its connection's limit (Options.
// CommandRate): 111 "too many requests", the connection goes on.
func (s *Server) commandRead(c *centrifuge.Client, _ centrifuge.CommandReadEvent) error {
	if lim := s.conns.commands(c); lim != nil && !lim.Allow() {
		s.limited.Add(1)
		return centrifuge.ErrorTooManyRequests
	}
	return nil
}

// Handler serves the docs' endpoints: /connection/websocket,
// /connection/http_stream, /connection/sse and /emulation (the
// bidirectional emulation the last two need), and the live blotter page,
// /stream, with its assets (blotter.go).
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/connection/websocket", streaming(centrifuge.NewWebsocketHandler(s.node, websocketConfig)))
	mux.Handle("/connection/http_stream", streaming(centrifuge.NewHTTPStreamHandler(s.node, centrifuge.HTTPStreamConfig{})))
	mux.Handle("/connection/sse", streaming(centrifuge.NewSSEHandler(s.node, centrifuge.SSEConfig{})))
	mux.Handle("/emulation", centrifuge.NewEmulationHandler(s.node, centrifuge.EmulationConfig{}))
	registerBlotter(mux) // GET /stream, the live blotter page, and its assets
	return mux
}

// websocketConfig keeps an idle connection small (docs/benchmarks.md has
// the per-connection numbers): a terminal sends a few commands and then
// mostly listens, so the write buffer comes from a pool only while a frame
// is written, the read buffer fits the client's commands (longer frames
// still arrive, in more reads), and commands run off the read loop so the
// loop's stack stays shallow while the connection idles.
var websocketConfig = centrifuge.WebsocketConfig{
	ReadBufferSize:             1024,
	UseWriteBufferPool:         true,
	ProcessCommandsOffReadLoop: true,
}

// Paths lists the paths Handler serves.
var Paths = append([]string{"/connection/websocket", "/connection/http_stream", "/connection/sse", "/emulation"}, blotterPaths()...)

// streaming lifts the server's read and write deadlines, which bound a
// request, from a connection that lives as long as its session.
func streaming(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Time{})
		_ = rc.SetWriteDeadline(time.Time{})
		h.ServeHTTP(w, r)
	})
}

// Connections and Subscriptions count this node's clients and their
// subscriptions; Published and PublishFailures count the publisher's work.
func (s *Server) Connections() int       { return s.node.Hub().NumClients() }
func (s *Server) Subscriptions() int     { return s.node.Hub().NumSubscriptions() }
func (s *Server) Published() int64       { return s.published.Load() }
func (s *Server) PublishFailures() int64 { return s.failures.Load() }

// Suppressed counts entries published again after a restart that the
// broker did not deliver twice (their idempotency key was known).
func (s *Server) Suppressed() int64 { return s.suppressed.Load() }

// CommandsLimited counts client commands refused over their connection's
// rate (Options.CommandRate).
func (s *Server) CommandsLimited() int64 { return s.limited.Load() }

// Close stops the publisher and the revoke loop and disconnects every
// client (they reconnect elsewhere and recover).
func (s *Server) Close(ctx context.Context) {
	s.closeOnce.Do(func() {
		s.stop()
		s.done.Wait()
		_ = s.node.Shutdown(ctx)
	})
}
