package e2e

import (
	"bufio"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/cli"
	"github.com/vero-oms/omsd/server/fix"
	"github.com/vero-oms/omsd/server/password"
)

// withFIX serves the FIX acceptor on a free loopback port (dev mode's
// demo session DEMOCLIENT>OMSD acting as the demo trader).
func withFIX(t *testing.T, addr *string) func(*cli.Config) {
	return func(c *cli.Config) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		c.FIXListener, c.FIXAddr = ln, ln.Addr().String()
		*addr = ln.Addr().String()
	}
}

// fixClient is a raw FIX peer: it writes what a test tells it, exactly,
// and reads what omsd sends.
type fixClient struct {
	t    *testing.T
	nc   net.Conn
	r    *fix.Reader
	next int // MsgSeqNum of the next message sent
}

func dialFIX(t *testing.T, addr string) *fixClient {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &fixClient{t: t, nc: nc, r: fix.NewReader(bufio.NewReader(nc)), next: 1}
}

// send stamps a message DEMOCLIENT→OMSD with the next number.
func (c *fixClient) send(msgType string, body ...fix.Field) {
	c.t.Helper()
	m := fix.Message{{Tag: fix.TagMsgType, Value: msgType}, {Tag: fix.TagMsgSeqNum, Value: strconv.Itoa(c.next)},
		{Tag: fix.TagSenderCompID, Value: "DEMOCLIENT"}, {Tag: fix.TagSendingTime, Value: time.Now().UTC().Format(fix.TimeFormat)},
		{Tag: fix.TagTargetCompID, Value: "OMSD"}}
	c.next++
	c.write(fix.Encode(append(m, body...)))
}

func (c *fixClient) write(b []byte) {
	c.t.Helper()
	if _, err := c.nc.Write(b); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next message (failing the test after 10 s).
func (c *fixClient) read() fix.Message {
	c.t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(10 * time.Second))
	m, err := c.r.Read()
	if err != nil {
		c.t.Fatalf("reading from omsd: %v", err)
	}
	return m
}

// expect reads until a message of msgType arrives (skipping heartbeats and
// other reports) and returns it.
func (c *fixClient) expect(msgType string, match ...func(fix.Message) bool) fix.Message {
	c.t.Helper()
	for range 50 {
		m := c.read()
		if m.MsgType() != msgType {
			continue
		}
		ok := true
		for _, f := range match {
			ok = ok && f(m)
		}
		if ok {
			return m
		}
	}
	c.t.Fatalf("no %s message arrived", msgType)
	return nil
}

func tagIs(tag int, v string) func(fix.Message) bool {
	return func(m fix.Message) bool { got, _ := m.Get(tag); return got == v }
}

func get(m fix.Message, tag int) string { v, _ := m.Get(tag); return v }

// logon logs the demo session on with HeartBtInt 30.
func (c *fixClient) logon(extra ...fix.Field) fix.Message {
	c.t.Helper()
	c.send(fix.MsgLogon, append([]fix.Field{{Tag: 98, Value: "0"}, {Tag: 108, Value: "30"}}, extra...)...)
	return c.read()
}

func newOrderSingle(account, clOrdID, symbol, side, qty, price string) []fix.Field {
	return []fix.Field{{Tag: 1, Value: account}, {Tag: 11, Value: clOrdID}, {Tag: 21, Value: "1"}, {Tag: 55, Value: symbol},
		{Tag: 54, Value: side}, {Tag: 60, Value: time.Now().UTC().Format(fix.TimeFormat)}, {Tag: 38, Value: qty},
		{Tag: 40, Value: "2"}, {Tag: 44, Value: price}, {Tag: 59, Value: "0"}}
}

// The acceptor over a raw socket: logon, an order and its reports, and
// every kind of bad input the issue lists, each answered as documented.
func TestFIXAcceptorRaw(t *testing.T) {
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		var addr string
		mln, mbase := metricsListener(t)
		e := start(t, kind, withDemoData, withFIX(t, &addr), func(c *cli.Config) { c.MetricsListener = mln })
		c := dialFIX(t, addr)
		if m := c.logon(); m.MsgType() != fix.MsgLogon || get(m, fix.TagMsgSeqNum) != "1" || get(m, 108) != "30" {
			t.Fatalf("logon answer %v", m)
		}

		// An order rests: its reports come, NEW last.
		c.send("D", newOrderSingle(accountAn, "raw-1", "VN30F2612", "1", "1", "1300.0")...)
		er := c.expect("8", tagIs(11, "raw-1"), tagIs(150, "0"))
		if get(er, 39) != "0" || get(er, 151) != "1" || get(er, 14) != "0" || get(er, 6) != "0" || get(er, 1) != accountAn {
			t.Fatalf("ExecutionReport new: %v", er)
		}
		tr := e.login(nil, traderEmail, traderPass).jwt
		wantOrder(t, e.orderByReq(t, tr, "raw-1"), "NEW", 0)
		// Its latency record: message type D, the FIX message's fields by
		// tag as its body, and its stages by ClOrdID.
		admin := e.login(nil, adminEmail, adminPass).jwt
		r := e.do(nil, "GET", "/api/v1/util/latency/raw?message_type=D", nil, bearer(admin)...)
		expect(t, r, 200, "")
		if !strings.Contains(string(r.body), `"11":"raw-1"`) || !strings.Contains(string(r.body), `"35":"D"`) {
			t.Fatalf("no latency record of the FIX order: %s", r.body)
		}
		r = e.do(nil, "GET", "/api/v1/util/latency/stages?request_id=raw-1", nil, bearer(admin)...)
		expect(t, r, 200, "")
		if !strings.Contains(string(r.body), `"OMS gateway received"`) {
			t.Fatalf("no latency stages of the FIX order: %s", r.body)
		}

		// A cancel, then the same cancel resent as a possible duplicate:
		// taken once, the resend answered by nothing.
		c.send("D", newOrderSingle(accountAn, "raw-9", "VN30F2612", "1", "1", "1299.0")...)
		c.expect("8", tagIs(11, "raw-9"), tagIs(150, "0"))
		cancel := []fix.Field{{Tag: 41, Value: "raw-9"}, {Tag: 11, Value: "raw-9-c"}, {Tag: 55, Value: "VN30F2612"}, {Tag: 54, Value: "1"},
			{Tag: 60, Value: time.Now().UTC().Format(fix.TimeFormat)}}
		c.send("F", cancel...)
		c.expect("8", tagIs(11, "raw-9-c"), tagIs(150, "4"))
		c.send("F", append([]fix.Field{{Tag: fix.TagPossDupFlag, Value: "Y"}, {Tag: fix.TagOrigSendingTime, Value: time.Now().UTC().Format(fix.TimeFormat)}}, cancel...)...)
		c.send(fix.MsgTestRequest, fix.Field{Tag: 112, Value: "after-possdup"})
		for m := c.read(); get(m, 112) != "after-possdup"; m = c.read() {
			if m.MsgType() == "9" || (m.MsgType() == "8" && get(m, 11) == "raw-9-c") {
				t.Fatalf("a PossDup cancel was answered: %v", m)
			}
		}

		// A conditional order waits (A/A, OrdType 4, its StopPx), one
		// without StopPx is refused at once, and a cancel ends the waiting
		// one without its ever being New.
		stop := func(clOrdID string, extra ...fix.Field) []fix.Field {
			f := newOrderSingle(accountAn, clOrdID, "VN30F2612", "2", "1", "1330.0")
			f[7] = fix.Field{Tag: 40, Value: "4"}
			return append(f, extra...)
		}
		c.send("D", stop("raw-stop", fix.Field{Tag: 99, Value: "1340.0"})...)
		if er := c.expect("8", tagIs(11, "raw-stop")); get(er, 150) != "A" || get(er, 39) != "A" || get(er, 40) != "4" || get(er, 99) != "1340" {
			t.Fatalf("a conditional order: %v", er)
		}
		c.send("D", stop("raw-stop-2")...)
		if er := c.expect("8", tagIs(11, "raw-stop-2")); get(er, 39) != "8" || !strings.HasPrefix(get(er, 58), "OMS|-100023|") {
			t.Fatalf("a conditional order without StopPx: %v", er)
		}
		c.send("F", fix.Field{Tag: 41, Value: "raw-stop"}, fix.Field{Tag: 11, Value: "raw-stop-c"}, fix.Field{Tag: 55, Value: "VN30F2612"},
			fix.Field{Tag: 54, Value: "2"}, fix.Field{Tag: 60, Value: time.Now().UTC().Format(fix.TimeFormat)})
		if er := c.expect("8", tagIs(11, "raw-stop-c")); get(er, 150) != "4" || get(er, 41) != "raw-stop" {
			t.Fatalf("a conditional order cancelled: %v", er)
		}

		// A duplicate ClOrdID is refused at once.
		c.send("D", newOrderSingle(accountAn, "raw-1", "VN30F2612", "1", "1", "1300.0")...)
		if er := c.expect("8", tagIs(11, "raw-1"), tagIs(150, "8")); !strings.HasPrefix(get(er, 58), "OMS|-100001|") {
			t.Fatalf("duplicate ClOrdID: %v", er)
		}
		// A missing required tag (Symbol) is -100000.
		c.send("D", fix.Field{Tag: 1, Value: accountAn}, fix.Field{Tag: 11, Value: "raw-2"}, fix.Field{Tag: 54, Value: "1"},
			fix.Field{Tag: 38, Value: "1"}, fix.Field{Tag: 40, Value: "2"}, fix.Field{Tag: 44, Value: "1300.0"}, fix.Field{Tag: 59, Value: "0"})
		if er := c.expect("8", tagIs(11, "raw-2")); get(er, 39) != "8" || !strings.HasPrefix(get(er, 58), "OMS|-100000|") {
			t.Fatalf("missing Symbol: %v", er)
		}
		// An account the session may not trade is -100007.
		c.send("D", newOrderSingle("099MM00001", "raw-3", "VN30F2612", "1", "1", "1300.0")...)
		if er := c.expect("8", tagIs(11, "raw-3")); get(er, 39) != "8" || !strings.HasPrefix(get(er, 58), "OMS|-100007|") {
			t.Fatalf("foreign account: %v", er)
		}
		// An unknown MsgType is a session Reject, reason 11.
		c.send("Q", fix.Field{Tag: 58, Value: "?"})
		if rj := c.expect(fix.MsgReject); get(rj, 373) != "11" || !strings.Contains(get(rj, 58), "-132300") {
			t.Fatalf("unknown MsgType: %v", rj)
		}
		// A message with a bad CheckSum is garbled: ignored, no number used.
		bad := fix.Encode(fix.Message{{Tag: 35, Value: "1"}, {Tag: 34, Value: strconv.Itoa(c.next)}, {Tag: 49, Value: "DEMOCLIENT"},
			{Tag: 52, Value: time.Now().UTC().Format(fix.TimeFormat)}, {Tag: 56, Value: "OMSD"}, {Tag: 112, Value: "X"}})
		bad[len(bad)-2] ^= 1
		c.write(bad)
		c.write([]byte("garbage\x01bytes\x01"))
		// A wrong BodyLength: garbled too.
		c.write([]byte("8=FIX.4.2\x019=5\x0135=0\x0134=99\x0110=000\x01"))
		// The session goes on at the same number.
		c.send(fix.MsgTestRequest, fix.Field{Tag: 112, Value: "after-garbage"})
		if hb := c.expect(fix.MsgHeartbeat, tagIs(112, "after-garbage")); hb == nil {
			t.Fatal("no heartbeat")
		}
		// A missing MsgSeqNum... a required header tag missing is a Reject
		// reason 1 naming the tag.
		c.write(fix.Encode(fix.Message{{Tag: 35, Value: "0"}, {Tag: 34, Value: strconv.Itoa(c.next)}, {Tag: 49, Value: "DEMOCLIENT"}, {Tag: 56, Value: "OMSD"}}))
		c.next++
		if rj := c.expect(fix.MsgReject); get(rj, 373) != "1" || get(rj, 371) != "52" {
			t.Fatalf("missing SendingTime: %v", rj)
		}
		// Operations: /metrics and `omsd fix sessions` show the session.
		m := scrapeMetrics(t, mbase)
		if m.value("omsd_fix_sessions_connected") != 1 || m.value("omsd_fix_messages_total", "session", "DEMOCLIENT>OMSD", "direction", "in", "msg_type", "D") != 7 ||
			m.value("omsd_fix_next_seq_num", "session", "DEMOCLIENT>OMSD", "direction", "in") != float64(c.next) {
			t.Fatalf("metrics: connected %v, D in %v, next in %v (want %d)", m.value("omsd_fix_sessions_connected"),
				m.value("omsd_fix_messages_total", "session", "DEMOCLIENT>OMSD", "direction", "in", "msg_type", "D"),
				m.value("omsd_fix_next_seq_num", "session", "DEMOCLIENT>OMSD", "direction", "in"), c.next)
		}
		if kind == "redis" {
			var out, errOut strings.Builder
			args := []string{"fix", "sessions", "--dev", "--dev-redis", "--redis-url", e.cfg.RedisURL, "--redis-prefix", e.cfg.RedisPrefix}
			if code := cli.Main(t.Context(), args, strings.NewReader(""), &out, &errOut); code != 0 {
				t.Fatalf("omsd fix sessions: %d %s", code, errOut.String())
			}
			if want := "DEMOCLIENT>OMSD"; !strings.Contains(out.String(), want) || !strings.Contains(out.String(), " "+strconv.Itoa(c.next)+" ") {
				t.Fatalf("omsd fix sessions:\n%s", out.String())
			}
		}
		c.send(fix.MsgLogout)
		if lo := c.expect(fix.MsgLogout); lo == nil {
			t.Fatal("no logout")
		}
		// The logout is logged once the connection is over.
		for i := 0; !strings.Contains(e.logs.String(), `"msg":"fix: logout"`); i++ {
			if i == 100 {
				t.Fatal("no log line for the logout")
			}
			time.Sleep(20 * time.Millisecond)
		}
		if !strings.Contains(e.logs.String(), `"msg":"fix: logon"`) {
			t.Fatal("no log line for the logon")
		}

		// A disabled identity's live session ends within a second or two.
		c = dialFIX(t, addr)
		c.next = 100 // continue past the numbers used above
		c.logon()
		if _, err := e.app.Identities.DisableIdentity(t.Context(), traderEmail); err != nil {
			t.Fatal(err)
		}
		if lo := c.expect(fix.MsgLogout); !strings.Contains(get(lo, 58), "disabled") {
			t.Fatalf("disabled identity: %v", lo)
		}
	})
}

// Logons that must be refused, all with one Logout text, nothing stored.
func TestFIXLogonRefusals(t *testing.T) {
	t.Parallel()
	var addr string
	start(t, "memory", withDemoData, withFIX(t, &addr))
	wantRefused := func(what string, m fix.Message) {
		t.Helper()
		if m.MsgType() != fix.MsgLogout || !strings.Contains(get(m, 58), "logon refused") {
			t.Fatalf("%s: %v", what, m)
		}
	}
	c := dialFIX(t, addr)
	c.write(fix.Encode(fix.Message{{Tag: 35, Value: "A"}, {Tag: 34, Value: "1"}, {Tag: 49, Value: "NOBODY"},
		{Tag: 52, Value: time.Now().UTC().Format(fix.TimeFormat)}, {Tag: 56, Value: "OMSD"}, {Tag: 98, Value: "0"}, {Tag: 108, Value: "30"}}))
	wantRefused("unknown SenderCompID", c.read())
	c = dialFIX(t, addr)
	c.write(fix.Encode(fix.Message{{Tag: 35, Value: "A"}, {Tag: 34, Value: "1"}, {Tag: 49, Value: "DEMOCLIENT"},
		{Tag: 52, Value: time.Now().UTC().Format(fix.TimeFormat)}, {Tag: 56, Value: "ELSEWHERE"}, {Tag: 98, Value: "0"}, {Tag: 108, Value: "30"}}))
	wantRefused("wrong TargetCompID", c.read())
	// HeartBtInt out of the documented bounds.
	c = dialFIX(t, addr)
	c.send(fix.MsgLogon, fix.Field{Tag: 98, Value: "0"}, fix.Field{Tag: 108, Value: "10"})
	if m := c.read(); m.MsgType() != fix.MsgLogout || !strings.Contains(get(m, 58), "HeartBtInt") {
		t.Fatalf("HeartBtInt 10: %v", m)
	}
	// The first message is not a Logon: closed without a word.
	c = dialFIX(t, addr)
	c.send(fix.MsgHeartbeat)
	_ = c.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if m, err := c.r.Read(); err == nil {
		t.Fatalf("a Heartbeat before Logon was answered: %v", m)
	}
}

// Sessions from a file: a secret in RawData (96) checked with argon2id, a
// source-address allowlist, an identity that must be able to sign in.
// Every refusal is the same Logout and leaves no session state behind.
func TestFIXSessionsFile(t *testing.T) {
	t.Parallel()
	p := password.DefaultParams
	p.Memory, p.Time = 64, 1
	phc, err := password.NewHasher(p, 1).Hash(t.Context(), "s3cret-s3cret")
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "fix-sessions.json")
	body := `{"sessions": [
	  {"sender_comp_id": "ALGO1", "target_comp_id": "OMSD", "identity": "trader@oms.example", "source_cidrs": ["127.0.0.1/32"], "secret_argon2id": "` + phc + `"},
	  {"sender_comp_id": "FARAWAY", "target_comp_id": "OMSD", "identity": "trader@oms.example", "source_cidrs": ["10.0.0.0/8"]},
	  {"sender_comp_id": "GHOST", "target_comp_id": "OMSD", "identity": "nobody@oms.example", "source_cidrs": ["127.0.0.0/8"]}]}`
	if err := os.WriteFile(file, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	var addr string
	e := start(t, "memory", withDemoData, withFIX(t, &addr), func(c *cli.Config) { c.FIXSessionsFile = file })
	logon := func(sender string, extra ...fix.Field) fix.Message {
		c := dialFIX(t, addr)
		m := fix.Message{{Tag: 35, Value: "A"}, {Tag: 34, Value: "1"}, {Tag: 49, Value: sender},
			{Tag: 52, Value: time.Now().UTC().Format(fix.TimeFormat)}, {Tag: 56, Value: "OMSD"}, {Tag: 98, Value: "0"}, {Tag: 108, Value: "30"}}
		c.write(fix.Encode(append(m, extra...)))
		return c.read()
	}
	secret := func(s string) []fix.Field {
		return []fix.Field{{Tag: 95, Value: strconv.Itoa(len(s))}, {Tag: 96, Value: s}}
	}
	for what, m := range map[string]fix.Message{
		"no secret":                logon("ALGO1"),
		"a wrong secret":           logon("ALGO1", secret("s3cret-wrong")...),
		"an address not allowed":   logon("FARAWAY"),
		"an identity that is gone": logon("GHOST"),
	} {
		if m.MsgType() != fix.MsgLogout || get(m, 58) != "logon refused: unknown session, source address or secret" {
			t.Errorf("%s: %v", what, m)
		}
	}
	if m := logon("ALGO1", secret("s3cret-s3cret")...); m.MsgType() != fix.MsgLogon {
		t.Fatalf("the right secret: %v", m)
	}
	for _, name := range []string{"FARAWAY>OMSD", "GHOST>OMSD"} {
		if s, err := e.app.Store.FIXSeq(t.Context(), name); err != nil || s.Day != "" {
			t.Errorf("%s: a refused logon stored %+v (%v)", name, s, err)
		}
	}
	if !strings.Contains(e.logs.String(), "wrong or missing secret") || strings.Contains(e.logs.String(), "s3cret") {
		t.Error("the log must say why a logon was refused, and never the secret")
	}
}

// CHANNEL rules tell the FIX acceptor's orders from the REST API's: a
// block on FIX rejects a FIX order and lets the same order over REST
// through, and a block on REST the other way round.
func TestFIXChannelRules(t *testing.T) {
	t.Parallel()
	var addr string
	e := start(t, "memory", withDemoData, withFIX(t, &addr))
	maker, checker := e.login(nil, makerEmail, makerPass).jwt, e.login(nil, checkerEmail, checkerPass).jwt
	tr := e.login(nil, traderEmail, traderPass).jwt
	c := dialFIX(t, addr)
	if m := c.logon(); m.MsgType() != fix.MsgLogon {
		t.Fatalf("logon answer %v", m)
	}
	block := func(channel string, value int) {
		t.Helper()
		a := e.fileAndApprove(t, maker, checker, "CREATE_ORDER_RISK_RULE", map[string]any{
			"kind": "ORDER_BLOCK_TRADE_MARKET_ALL", "scope": "CHANNEL", "target": channel, "match": "DVX", "value": value})
		if a["status"] != "APPLIED" {
			t.Fatalf("rule on %s: %v", channel, a)
		}
	}
	fixOrder := func(clOrdID string) fix.Message {
		c.send("D", newOrderSingle(accountAn, clOrdID, "VN30F2612", "1", "1", "1300.0")...)
		return c.expect("8", tagIs(11, clOrdID))
	}

	block("FIX", 1)
	if er := fixOrder("ch-fix-1"); get(er, 39) != "8" || !strings.HasPrefix(get(er, 58), "OMS|-900001|") {
		t.Fatalf("a FIX order under a CHANNEL FIX block: %v", er)
	}
	e.order(t, tr, lo(accountAn, "VN30F2612", "B", 1, "1300", "ch-rest-1"))
	wantOrder(t, e.orderByReq(t, tr, "ch-rest-1"), "NEW", 0)

	block("FIX", 0)
	block("REST", 1)
	e.wantRejected(t, tr, lo(accountAn, "VN30F2612", "B", 1, "1300", ""), "-900001")
	if er := fixOrder("ch-fix-2"); get(er, 39) != "0" {
		t.Fatalf("a FIX order under a CHANNEL REST block: %v", er)
	}
}
