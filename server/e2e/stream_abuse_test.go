package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/vero-oms/omsd/server/cli"
)

// Bad input and abuse on the Streaming API, sent over a bare WebSocket
// speaking the Centrifuge JSON protocol by hand (centrifuge-go refuses to
// send most of it). Every case ends in Centrifuge's documented error reply
// or a close with a code, the connection's memory stays bounded, and omsd
// keeps serving. The codes are centrifuge v0.40.1's: disconnect.go,
// errors.go and, for the size limit, handler_websocket.go (64 KiB default
// read limit, enforced by its WebSocket layer with close code 1009).

// rawReply is one line of a server frame: a reply (ID > 0) or a push.
type rawReply struct {
	ID    int `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// rawWS is a bare WebSocket client of /connection/websocket.
type rawWS struct {
	t       *testing.T
	c       *websocket.Conn
	lines   [][]byte         // read, not yet decoded
	replies map[int]rawReply // decoded, not yet asked for
	bytes   int              // bytes of replies decoded so far
}

func (e *env) rawStream(t *testing.T) *rawWS {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	c, _, err := d.Dial(e.streamURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &rawWS{t: t, c: c, replies: map[int]rawReply{}}
}

// rawConnected dials and connects with jwt (command id 1).
func (e *env) rawConnected(t *testing.T, jwt string) *rawWS {
	t.Helper()
	r := e.rawStream(t)
	r.send(cmd(1, "connect", map[string]any{"token": jwt}))
	r.wantOK(1)
	return r
}

// cmd is one command of the JSON protocol.
func cmd(id int, method string, req any) string {
	b, err := json.Marshal(map[string]any{"id": id, method: req})
	if err != nil {
		panic(err)
	}
	return string(b)
}

func subCmd(id int, ch string) string {
	return cmd(id, "subscribe", map[string]any{"channel": ch})
}

// send writes the commands as one frame, one per line.
func (r *rawWS) send(cmds ...string) {
	r.t.Helper()
	r.sendFrame(websocket.TextMessage, []byte(strings.Join(cmds, "\n")))
}

func (r *rawWS) sendFrame(typ int, b []byte) {
	r.t.Helper()
	_ = r.c.SetWriteDeadline(time.Now().Add(5 * time.Second))
	if err := r.c.WriteMessage(typ, b); err != nil {
		r.t.Fatalf("write: %v", err)
	}
}

// next decodes the next line the server sent, reading a frame if needed.
func (r *rawWS) next() (rawReply, error) {
	for len(r.lines) == 0 {
		_ = r.c.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := r.c.ReadMessage()
		if err != nil {
			return rawReply{}, err
		}
		for l := range bytes.SplitSeq(b, []byte("\n")) {
			if len(l) > 0 {
				r.lines = append(r.lines, l)
			}
		}
	}
	l := r.lines[0]
	r.lines = r.lines[1:]
	var rep rawReply
	if err := json.Unmarshal(l, &rep); err != nil {
		r.t.Fatalf("server sent a line that is not JSON: %.200q", l)
	}
	r.bytes += len(l)
	return rep, nil
}

// reply returns the reply to command id, keeping others for later.
func (r *rawWS) reply(id int) rawReply {
	r.t.Helper()
	for {
		if rep, ok := r.replies[id]; ok {
			delete(r.replies, id)
			return rep
		}
		rep, err := r.next()
		if err != nil {
			r.t.Fatalf("waiting for the reply to %d: %v", id, err)
		}
		if rep.ID > 0 {
			r.replies[rep.ID] = rep
		}
	}
}

func (r *rawWS) wantOK(id int) rawReply {
	r.t.Helper()
	rep := r.reply(id)
	if rep.Error != nil {
		r.t.Fatalf("command %d: error %d %q", id, rep.Error.Code, rep.Error.Message)
	}
	return rep
}

func (r *rawWS) wantError(id, code int, message string) {
	r.t.Helper()
	rep := r.reply(id)
	if rep.Error == nil || rep.Error.Code != code || rep.Error.Message != message {
		r.t.Fatalf("command %d: error %+v, want %d %q", id, rep.Error, code, message)
	}
}

// wantClose reads until the server closes the connection and checks the
// close frame's code and reason.
func (r *rawWS) wantClose(code int, reason string) {
	r.t.Helper()
	for {
		_, err := r.next()
		if err == nil {
			continue
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code || ce.Text != reason {
			r.t.Fatalf("connection ended with %v, want close %d %q", err, code, reason)
		}
		return
	}
}

// noStreams waits until this instance has no stream connection and no
// subscription left.
func (e *env) noStreams(t *testing.T) {
	t.Helper()
	e.waitStreams(t, func() bool { return e.app.Stream.Connections() == 0 && e.app.Stream.Subscriptions() == 0 })
}

// noConnections waits until this instance has no stream connection left
// (a client leaves the hub as soon as the server decides to end it).
func (e *env) noConnections(t *testing.T) {
	t.Helper()
	e.waitStreams(t, func() bool { return e.app.Stream.Connections() == 0 })
}

func (e *env) waitStreams(t *testing.T, done func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !done(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d stream connections with %d subscriptions left", e.app.Stream.Connections(), e.app.Stream.Subscriptions())
		}
	}
}

// movedBy polls /metrics until name{labels} is before+want.
func movedBy(t *testing.T, mbase string, before scrape, want float64, name string, labels ...string) {
	t.Helper()
	var got float64
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if got = scrapeMetrics(t, mbase).value(name, labels...) - before.value(name, labels...); got == want {
			return
		}
	}
	for _, m := range scrapeMetrics(t, mbase)[name].GetMetric() {
		t.Logf("%s %v %v", name, m.GetLabel(), m.GetCounter().GetValue())
	}
	t.Fatalf("%s%v moved by %v, want %v", name, labels, got, want)
}

// wantStreamGauges checks the stream gauges of /metrics.
func wantStreamGauges(t *testing.T, mbase string, conns, subs float64) {
	t.Helper()
	s := scrapeMetrics(t, mbase)
	if c, n := s.value("omsd_stream_connections"), s.value("omsd_stream_subscriptions"); c != conns || n != subs {
		t.Fatalf("/metrics: omsd_stream_connections %v, omsd_stream_subscriptions %v; want %v and %v", c, n, conns, subs)
	}
}

// abuseEnv starts omsd on the memory store with /metrics on its own
// listener and the given command rate, and signs the trader in.
func abuseEnv(t *testing.T, rate, burst int) (e *env, jwt, mbase string) {
	ln, mbase := metricsListener(t)
	e = start(t, "memory", withDemoData, func(c *cli.Config) {
		c.MetricsListener = ln
		c.StreamCommandRate, c.StreamCommandBurst = rate, burst
	})
	return e, e.login(nil, traderEmail, traderPass).jwt, mbase
}

func TestStreamAbuse(t *testing.T) {
	t.Parallel()
	// The floods below are of other limits: lift the command rate
	// (TestStreamCommandRate tests it).
	e, tr, mbase := abuseEnv(t, 1_000_000, 1_000_000)
	for _, c := range []struct {
		name string
		run  func(t *testing.T, e *env, jwt, mbase string)
	}{
		{"malformed frames", abuseMalformed},
		{"unknown and unserved commands", abuseCommands},
		{"refused channels", abuseChannels},
		{"257 subscriptions", abuseChannelLimit},
		{"over the size limit", abuseSizeLimit},
		{"slow consumer", abuseSlowConsumer},
		{"metrics", abuseMetrics},
	} {
		t.Run(c.name, func(t *testing.T) {
			e.noStreams(t)
			c.run(t, e, tr, mbase)
		})
	}
	e.noStreams(t)
}

// A connection's commands are rate limited (a token bucket, here 1 a
// second and a burst of 10): past the burst each command is answered 111
// "too many requests" and the connection goes on; once tokens are back
// the commands are served again. The refusals are counted in /metrics.
func TestStreamCommandRate(t *testing.T) {
	t.Parallel()
	e, tr, mbase := abuseEnv(t, 1, 10)
	before := scrapeMetrics(t, mbase)
	r := e.rawConnected(t, tr)
	var flood []string
	for id := 2; id < 32; id += 2 {
		flood = append(flood, subCmd(id, orderCh(accountAn)), cmd(id+1, "unsubscribe", map[string]any{"channel": orderCh(accountAn)}))
	}
	r.send(flood...)
	for id := 2; id < 12; id++ {
		r.wantOK(id)
	}
	for id := 12; id < 32; id++ {
		r.wantError(id, 111, "too many requests")
	}
	movedBy(t, mbase, before, 20, "omsd_stream_commands_limited_total")
	time.Sleep(1200 * time.Millisecond) // a token back
	r.send(subCmd(40, orderCh(accountAn)))
	r.wantOK(40)
}

// Frames Centrifuge cannot take end the connection with 3501 "bad request"
// (a bad token with 3500), whether or not it is connected yet.
func abuseMalformed(t *testing.T, e *env, jwt, _ string) {
	cases := []struct {
		name      string
		connected bool
		typ       int
		frame     string
		code      int
		reason    string
	}{
		{"not JSON", false, websocket.TextMessage, "not json", 3501, "bad request"},
		{"not JSON, connected", true, websocket.TextMessage, "{\"id\":2,\"subscribe\":", 3501, "bad request"},
		{"binary garbage", true, websocket.BinaryMessage, "\x00\xff\xfe\x01", 3501, "bad request"},
		{"empty frame", true, websocket.TextMessage, "", 3501, "bad request"},
		{"a command before connect", false, websocket.TextMessage, subCmd(1, orderCh(accountAn)), 3501, "bad request"},
		{"a second connect", true, websocket.TextMessage, cmd(2, "connect", map[string]any{"token": jwt}), 3501, "bad request"},
		{"a pong never asked for", true, websocket.TextMessage, "{}", 3501, "bad request"},
		{"a command without id", true, websocket.TextMessage, `{"subscribe":{"channel":"` + orderCh(accountAn) + `"}}`, 3501, "bad request"},
		{"an empty channel", true, websocket.TextMessage, subCmd(2, ""), 3501, "bad request"},
		{"a bad token", false, websocket.TextMessage, cmd(1, "connect", map[string]any{"token": jwt[:len(jwt)-4] + "AAAA"}), 3500, "invalid token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r *rawWS
			if c.connected {
				r = e.rawConnected(t, jwt)
			} else {
				r = e.rawStream(t)
			}
			r.sendFrame(c.typ, []byte(c.frame))
			r.wantClose(c.code, c.reason)
		})
	}
}

// Methods omsd does not serve (clients never publish, there is no RPC,
// presence or history) get error 108 "not available" and the connection
// goes on; an asynchronous send, which has no reply to carry an error,
// ends it with 3508. A command naming no method Centrifuge knows (its JSON
// decoder skips unknown keys) is a bad request: 3501, never 104.
func abuseCommands(t *testing.T, e *env, jwt, _ string) {
	r := e.rawConnected(t, jwt)
	ch := orderCh(accountAn)
	r.send(cmd(2, "rpc", map[string]any{"method": "cancel_all", "data": map[string]any{}}),
		cmd(3, "publish", map[string]any{"channel": ch, "data": map[string]any{"orderStatus": "FILLED"}}),
		cmd(4, "history", map[string]any{"channel": ch, "limit": -1}),
		cmd(5, "presence", map[string]any{"channel": ch}),
		cmd(6, "presence_stats", map[string]any{"channel": ch}),
		subCmd(7, ch))
	for id := 2; id <= 6; id++ {
		r.wantError(id, 108, "not available")
	}
	r.wantOK(7)
	r.send(`{"id":8,"method":99,"params":{}}`)
	r.wantClose(3501, "bad request")

	r = e.rawConnected(t, jwt)
	r.send(`{"id":2,"frobnicate":{"channel":"` + ch + `"}}`)
	r.wantClose(3501, "bad request")

	r = e.rawConnected(t, jwt)
	r.send(`{"send":{"data":{"orderStatus":"FILLED"}}}`)
	r.wantClose(3508, "not available")
}

// A channel without an account is unknown (102); an account without a
// grant, or no such account, is denied (103); subscribing twice is 105.
// None of them ends the connection.
func abuseChannels(t *testing.T, e *env, jwt, _ string) {
	const ungranted = "099C000010"
	e.vsAccount(t, ungranted, "0", false, nil) // exists, nobody holds a grant
	r := e.rawConnected(t, jwt)
	r.send(subCmd(2, orderCh("")), subCmd(3, accountCh("")), subCmd(4, "order:OrderExecutionReport"),
		subCmd(5, orderCh(ungranted)), subCmd(6, accountCh(ungranted)), subCmd(7, orderCh("099C999999")),
		subCmd(8, orderCh(accountAn)), subCmd(9, orderCh(accountAn)))
	for id := 2; id <= 4; id++ {
		r.wantError(id, 102, "unknown channel")
	}
	for id := 5; id <= 7; id++ {
		r.wantError(id, 103, "permission denied")
	}
	r.wantOK(8)
	r.wantError(9, 105, "already subscribed")
	r.send(subCmd(10, accountCh(accountAn)))
	r.wantOK(10)
	if n := e.app.Stream.Subscriptions(); n != 2 {
		t.Fatalf("%d subscriptions, want the 2 granted", n)
	}
}

// A connection holds at most 256 subscriptions: the 257th is refused with
// 106 "limit exceeded" and the connection goes on. Refused subscriptions
// do not count (the permission check answers at once); at the limit even a
// channel the user may not read gets 106, as Centrifuge checks the limit
// before omsd's permissions. The trader gets grants on 127 more accounts,
// so it has 258 channels it may read.
func abuseChannelLimit(t *testing.T, e *env, jwt, mbase string) {
	chans := []string{orderCh(accountAn), accountCh(accountAn), orderCh(accountBinh), accountCh(accountBinh)}
	for i := range 127 {
		code := fmt.Sprintf("099C1%05d", i)
		e.vsAccount(t, code, "0", false, nil, traderEmail)
		chans = append(chans, orderCh(code), accountCh(code))
	}
	r := e.rawConnected(t, jwt)
	var refused []string
	for id := 2; id < 12; id++ {
		refused = append(refused, subCmd(id, orderCh("099C999999")+strconv.Itoa(id)))
	}
	r.send(refused...)
	for id := 2; id < 12; id++ {
		r.wantError(id, 103, "permission denied")
	}
	var subs []string
	for i, ch := range chans[:256] {
		subs = append(subs, subCmd(100+i, ch))
	}
	r.send(subs...)
	for i := range 256 {
		r.wantOK(100 + i)
	}
	wantStreamGauges(t, mbase, 1, 256)

	r.send(subCmd(400, chans[256]), subCmd(401, orderCh("099C999999")))
	r.wantError(400, 106, "limit exceeded")
	r.wantError(401, 106, "limit exceeded")
	r.send(cmd(402, "unsubscribe", map[string]any{"channel": chans[0]}), subCmd(403, chans[256]))
	r.wantOK(402)
	r.wantOK(403)
	wantStreamGauges(t, mbase, 1, 256)
}

// A frame over the WebSocket message size limit (64 KiB, Centrifuge's
// default) is refused by the WebSocket layer before any of it is read:
// close 1009 "message too big", not a Centrifuge code. A frame of exactly
// the limit is served.
func abuseSizeLimit(t *testing.T, e *env, jwt, mbase string) {
	const limit = 65536
	before := scrapeMetrics(t, mbase)
	r := e.rawConnected(t, jwt)
	padded := func(id, size int) []byte {
		c := subCmd(id, orderCh(accountAn))
		return []byte("{" + strings.Repeat(" ", size-len(c)) + c[1:])
	}
	r.sendFrame(websocket.TextMessage, padded(2, limit))
	r.wantOK(2)
	r.sendFrame(websocket.TextMessage, padded(3, limit+1))
	r.wantClose(websocket.CloseMessageTooBig, "")
	e.noStreams(t)
	movedBy(t, mbase, before, 1, "omsd_stream_transport_outgoing_close_count", "transport", "websocket", "code", "1009")
}

// A client that never reads while the server has much to send: once more
// than 1 MiB waits in its queue (Centrifuge's ClientQueueMaxSize default)
// the server drops the queue and disconnects it with 3008 "slow". Reading
// again, the client finds what its socket had buffered, then the close
// frame 3008 if it still fit, or else the end of the connection (1006):
// never the megabytes it asked for. What floods the queue is its own
// recovery: each subscribe with recover from offset 0 replays the
// channel's history (publications of REST orders alone cannot fill the
// socket and 1 MiB within a test's time). omsd keeps serving.
func abuseSlowConsumer(t *testing.T, e *env, jwt, mbase string) {
	e.fillPairs(t, jwt, "slow", 25)
	e.published(t)
	before := scrapeMetrics(t, mbase)
	chans := []string{orderCh(accountAn), orderCh(accountBinh), accountCh(accountAn), accountCh(accountBinh)}
	r := e.rawConnected(t, jwt)
	id := 2
	round := func() []string {
		var cmds []string
		for _, ch := range chans {
			cmds = append(cmds, cmd(id, "subscribe", map[string]any{"channel": ch, "recover": true, "offset": 0, "epoch": ""}),
				cmd(id+1, "unsubscribe", map[string]any{"channel": ch}))
			id += 2
		}
		return cmds
	}
	r.send(round()...)
	for i := 2; i < id; i++ {
		r.wantOK(i)
	}
	perRound := r.bytes // what one round replays, read while reading
	rounds := 4*socketBufferMax()/perRound + 1
	for range rounds {
		r.send(round()...)
	}
	asked := rounds * perRound
	// Out of the hub at once; the close ends when the client reads (the
	// server waits up to 5 s for its answer to a close frame that fit).
	e.noConnections(t)
	r.bytes = 0
	err := drain(r)
	var ce *websocket.CloseError
	if !errors.As(err, &ce) || (ce.Code != websocket.CloseAbnormalClosure && ce.Code != 3008) {
		t.Fatalf("the slow client's connection ended with %v, want 1006 (or 3008 had the close frame fit)", err)
	}
	t.Logf("asked for %d bytes, received %d before %v", asked, r.bytes, err)
	if r.bytes > asked/2 {
		t.Fatalf("the slow client received %d of the %d bytes it asked for", r.bytes, asked)
	}
	movedBy(t, mbase, before, 1, "omsd_stream_client_num_server_disconnects", "code", "3008")
	movedBy(t, mbase, before, 0, "omsd_stream_client_num_server_disconnects", "code", "3009")
	e.noStreams(t)

	s := e.stream(t, jwt)
	s.subscribeAll(orderCh(accountAn))
	e.fillPairs(t, jwt, "after-slow", 1)
	s.within(5*time.Second, "a report after the slow client", lastFilled(s, orderCh(accountAn), "after-slow-b0"))
}

// drain reads until the connection ends.
func drain(r *rawWS) error {
	for {
		if _, err := r.next(); err != nil {
			return err
		}
	}
}

// socketBufferMax is the most a TCP socket may buffer for sending.
func socketBufferMax() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/tcp_wmem")
	if f := strings.Fields(string(b)); err == nil && len(f) == 3 {
		if n, err := strconv.Atoi(f[2]); err == nil && n > 0 {
			return n
		}
	}
	return 4 << 20
}

// /metrics counts this instance's connections and their subscriptions
// (one per connection and channel) while clients are connected.
func abuseMetrics(t *testing.T, e *env, jwt, mbase string) {
	wantStreamGauges(t, mbase, 0, 0)
	r := e.rawConnected(t, jwt)
	r.send(subCmd(2, orderCh(accountAn)), subCmd(3, orderCh(accountBinh)), subCmd(4, accountCh(accountAn)), subCmd(5, "elsewhere"))
	r.wantOK(2)
	r.wantOK(3)
	r.wantOK(4)
	r.wantError(5, 102, "unknown channel")
	wantStreamGauges(t, mbase, 1, 3)
	s := e.stream(t, e.login(nil, makerEmail, makerPass).jwt)
	s.subscribeAll(orderCh(accountAn), accountCh(accountBinh))
	wantStreamGauges(t, mbase, 2, 5)
	_ = r.c.Close()
	s.c.Close()
	e.noStreams(t)
	wantStreamGauges(t, mbase, 0, 0)
}
