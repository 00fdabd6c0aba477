package e2e

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/cli"
)

// The FIX interop suite (issue 17): the real QuickFIX C++ engine, driven
// through test/outside/fix/initiator (built by `make fix-outside`, which
// names it in OMSD_QUICKFIX_INITIATOR), against omsd on both stores.

// quickFIX is one run of the scripted initiator.
type quickFIX struct {
	t     *testing.T
	cmd   *exec.Cmd
	stdin io.WriteCloser

	mu    sync.Mutex
	lines []string
	grew  chan struct{}
	seen  int          // lines before it are out of every wait (forget)
	used  map[int]bool // lines a wait consumed
}

func initiatorPath(t *testing.T) string {
	p := os.Getenv("OMSD_QUICKFIX_INITIATOR")
	if p == "" {
		if os.Getenv("CI") == "true" && os.Getenv("OMSD_FIX_OUTSIDE") == "true" {
			t.Fatal("OMSD_QUICKFIX_INITIATOR is not set")
		}
		t.Skip("the QuickFIX interop suite runs with `make fix-outside` (it builds the initiator)")
	}
	return p
}

// quickFIXSettings writes a QuickFIX settings file for the demo session
// against addr, its file store in dir (kept across runs: sequence numbers).
func quickFIXSettings(t *testing.T, dir, addr string) string {
	host, port, _ := strings.Cut(addr, ":")
	dict, err := filepath.Abs("../../test/outside/fix/FIX42.xml")
	if err != nil {
		t.Fatal(err)
	}
	s := fmt.Sprintf(`[DEFAULT]
ConnectionType=initiator
ReconnectInterval=1
FileStorePath=%[1]s/store
FileLogPath=%[1]s/log
StartTime=00:00:00
EndTime=00:00:00
UseDataDictionary=Y
DataDictionary=%[2]s
ValidateUserDefinedFields=Y
SocketConnectHost=%[3]s
SocketConnectPort=%[4]s
HeartBtInt=16

[SESSION]
BeginString=FIX.4.2
SenderCompID=DEMOCLIENT
TargetCompID=OMSD
`, dir, dict, host, port)
	path := filepath.Join(dir, "initiator.cfg")
	if err := os.WriteFile(path, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func startQuickFIX(t *testing.T, settings string) *quickFIX {
	t.Helper()
	q := &quickFIX{t: t, grew: make(chan struct{}, 1), used: map[int]bool{}}
	q.cmd = exec.Command(initiatorPath(t), settings)
	var err error
	if q.stdin, err = q.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	out, err := q.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	q.cmd.Stderr = os.Stderr
	if err := q.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go q.collect(out)
	t.Cleanup(q.quit)
	q.waitFor("ready")
	return q
}

func (q *quickFIX) collect(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		q.mu.Lock()
		q.lines = append(q.lines, sc.Text())
		q.mu.Unlock()
		select {
		case q.grew <- struct{}{}:
		default:
		}
	}
}

func (q *quickFIX) quit() {
	_, _ = io.WriteString(q.stdin, "quit\n")
	_ = q.stdin.Close()
	done := make(chan struct{})
	go func() { _ = q.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = q.cmd.Process.Kill()
	}
}

// do runs a command and waits for its ok.
func (q *quickFIX) do(cmd string) {
	q.t.Helper()
	if _, err := io.WriteString(q.stdin, cmd+"\n"); err != nil {
		q.t.Fatal(err)
	}
	verb, _, _ := strings.Cut(cmd, " ")
	q.waitFor("ok " + verb)
}

// waitFor waits for a line not consumed yet, in output order, that
// starts with prefix and contains every part; it consumes and returns it.
// Lines it passes over stay for later waits (reports of two orders
// interleave).
func (q *quickFIX) waitFor(prefix string, parts ...string) string {
	q.t.Helper()
	deadline := time.After(40 * time.Second)
	for {
		q.mu.Lock()
		for i := q.seen; i < len(q.lines); i++ {
			l := q.lines[i]
			if strings.HasPrefix(l, "error ") {
				q.mu.Unlock()
				q.t.Fatalf("initiator: %s", l)
			}
			if !q.used[i] && strings.HasPrefix(l, prefix) && containsAll(l, parts) {
				q.used[i] = true
				q.mu.Unlock()
				return l
			}
		}
		q.mu.Unlock()
		select {
		case <-q.grew:
		case <-deadline:
			q.t.Fatalf("initiator: no %q with %q; last lines:\n%s", prefix, parts, q.tail(60))
		}
	}
}

// forget consumes every line so far: later waits see only what follows.
func (q *quickFIX) forget() {
	q.mu.Lock()
	q.seen = len(q.lines)
	q.mu.Unlock()
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}

func (q *quickFIX) tail(n int) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	return strings.Join(q.lines[max(0, len(q.lines)-n):], "\n")
}

// rejected lists what QuickFIX refused of omsd's messages.
func (q *quickFIX) rejected() []string {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []string
	for _, l := range q.lines {
		if strings.HasPrefix(l, "out ") && (strings.Contains(l, "|35=3|") || strings.Contains(l, "|35=j|")) {
			out = append(out, l)
		}
	}
	return out
}

// field reads tag from an "in"/"out" line.
func field(line string, tag int) string {
	m := regexp.MustCompile(fmt.Sprintf(`\|%d=([^|]*)\|`, tag)).FindStringSubmatch(line)
	if m == nil {
		return ""
	}
	return m[1]
}

// er waits for an ExecutionReport for clOrdID with ExecType execType.
func (q *quickFIX) er(clOrdID, execType string) string {
	q.t.Helper()
	return q.waitFor("in ", "|35=8|", "|11="+clOrdID+"|", "|150="+execType+"|")
}

func wantFIXFields(t *testing.T, what, line string, want map[int]string) {
	t.Helper()
	for tag, v := range want {
		if got := field(line, tag); got != v {
			t.Fatalf("%s: tag %d = %q, want %q in\n%s", what, tag, got, v, line)
		}
	}
}

func nos(account, clOrdID, side, qty, price string) string {
	return fmt.Sprintf("send 35=D|1=%s|11=%s|21=1|55=VN30F2612|54=%s|38=%s|40=2|44=%s|59=0|60=now", account, clOrdID, side, qty, price)
}

func TestQuickFIX(t *testing.T) {
	initiatorPath(t)
	t.Parallel()
	forEachStore(t, func(t *testing.T, kind string) {
		var addr string
		e := start(t, kind, withDemoData, withFIX(t, &addr))
		dir := t.TempDir()
		q := startQuickFIX(t, quickFIXSettings(t, dir, addr))
		t.Cleanup(func() {
			if t.Failed() {
				for _, l := range strings.Split(e.logs.String(), "\n") {
					if strings.Contains(l, "fix") {
						t.Log(l)
					}
				}
			}
		})
		q.do("start")
		q.waitFor("logon")
		tr := e.login(nil, traderEmail, traderPass).jwt

		quickFIXOrders(t, e, q, tr)
		quickFIXConditional(t, e, q, tr)
		quickFIXSession(t, q)
		if kind == "redis" {
			q = quickFIXRestart(t, e, q, dir, tr)
		}
		if r := q.rejected(); len(r) > 0 {
			t.Fatalf("QuickFIX rejected messages omsd sent:\n%s", strings.Join(r, "\n"))
		}
	})
}

// quickFIXOrders: an order rests and fills against a REST order of
// another account (0, 1, 2 with CumQty/LeavesQty/AvgPx), cancel and
// replace, a cancel of a filled order, a business reject.
func quickFIXOrders(t *testing.T, e *env, q *quickFIX, tr string) {
	q.do(nos(accountAn, "qf-buy", "1", "2", "1350.0"))
	wantFIXFields(t, "new", q.er("qf-buy", "0"), map[int]string{39: "0", 14: "0", 151: "2", 6: "0", 1: accountAn, 54: "1", 38: "2"})
	e.order(t, tr, lo(accountBinh, "VN30F2612", "S", 1, "1350.0", "rest-sell-1"))
	wantFIXFields(t, "partial fill", q.er("qf-buy", "1"), map[int]string{39: "1", 14: "1", 151: "1", 6: "1350", 32: "1", 31: "1350"})
	e.order(t, tr, lo(accountBinh, "VN30F2612", "S", 1, "1350.0", "rest-sell-2"))
	wantFIXFields(t, "fill", q.er("qf-buy", "2"), map[int]string{39: "2", 14: "2", 151: "0", 6: "1350"})
	// The REST orders are reported too: the session's identity reads Binh.
	q.waitFor("in ", "|35=8|", "|11=rest-sell-2|", "|150=2|")

	// An order that fills on entry: New, then the fill (one commit, two
	// reports).
	e.order(t, tr, lo(accountBinh, "VN30F2612", "S", 1, "1350.0", "rest-sell-3"))
	q.do(nos(accountAn, "qf-take", "1", "1", "1350.0"))
	wantFIXFields(t, "taker new", q.er("qf-take", "0"), map[int]string{39: "0", 14: "0", 151: "1"})
	wantFIXFields(t, "taker fill", q.er("qf-take", "2"), map[int]string{39: "2", 14: "1", 151: "0", 32: "1", 31: "1350"})

	// Cancel a filled order: OrderCancelReject, too late.
	q.do("send 35=F|41=qf-buy|11=qf-cxl-1|55=VN30F2612|54=1|60=now")
	wantFIXFields(t, "cancel of a filled order", q.waitFor("in ", "|35=9|", "|11=qf-cxl-1|"), map[int]string{41: "qf-buy", 39: "2", 434: "1", 102: "0"})

	// Rest, replace the price, cancel.
	q.do(nos(accountAn, "qf-rest", "1", "1", "1300.0"))
	q.er("qf-rest", "0")
	q.do("send 35=G|41=qf-rest|11=qf-rpl|55=VN30F2612|54=1|38=1|40=2|44=1301.0|59=0|21=1|60=now")
	q.er("qf-rpl", "E")
	wantFIXFields(t, "replaced", q.er("qf-rpl", "5"), map[int]string{41: "qf-rest", 44: "1301", 39: "0"})
	wantOrder(t, e.orderByReq(t, tr, "qf-rest"), "NEW", 0)
	q.do("send 35=F|41=qf-rpl|11=qf-cxl-2|55=VN30F2612|54=1|60=now")
	q.er("qf-cxl-2", "6")
	wantFIXFields(t, "canceled", q.er("qf-cxl-2", "4"), map[int]string{39: "4", 151: "0", 41: "qf-rpl"})
	wantOrder(t, e.orderByReq(t, tr, "qf-rest"), "CANCELED", 0)

	// A reject with the docs' {source}|{code}|{message} in Text (58).
	q.do(nos(accountAn, "qf-far", "1", "1", "9999.0"))
	rej := q.er("qf-far", "8")
	if !regexp.MustCompile(`\|58=[A-Z]+\|-?\d+\|[^|]+\|`).MatchString(rej) || field(rej, 39) != "8" {
		t.Fatalf("reject: %s", rej)
	}
	// Orders entered over FIX are orders like any other.
	wantOrder(t, e.orderByReq(t, tr, "qf-buy"), "FILLED", 2)
}

// quickFIXConditional: a stop refused against the last trade; a trailing
// stop pending (A), moved by a REST trade (5 with the new Price),
// modified while pending, triggered by a trade through its stop (New),
// refused a stop change once active (-100026), cancelled. The last trade
// before it is 1 350 (quickFIXOrders).
func quickFIXConditional(t *testing.T, e *env, q *quickFIX, tr string) {
	const stop = "send 35=D|1=" + accountAn + "|21=1|55=VN30F2612|38=1|40=4|59=0|60=now"
	q.do(stop + "|11=qf-stop-bad|54=1|44=1352.0|99=1349.0")
	if rej := q.er("qf-stop-bad", "8"); !strings.Contains(rej, "|58=OMS|-913007|") {
		t.Fatalf("a buy stop below the last trade: %s", rej)
	}
	q.do(stop + "|11=qf-trail|54=2|44=1330.0|99=1340.0|389=5")
	wantFIXFields(t, "trailing stop pending", q.er("qf-trail", "A"), map[int]string{39: "A", 40: "4", 44: "1330", 99: "1340", 389: "5", 151: "1"})
	trade := func(px, ref string) {
		e.order(t, tr, lo(accountBinh, "VN30F2612", "S", 1, px, ref+"-s"))
		e.order(t, tr, lo(accountAn, "VN30F2612", "B", 1, px, ref+"-b"))
		wantOrder(t, e.orderByReq(t, tr, ref+"-b"), "FILLED", 1)
	}
	trade("1352.0", "cx-up") // 1 352 - 5 = 1 347: the stop and the price move up by 7
	wantFIXFields(t, "trailing move", q.er("qf-trail", "5"), map[int]string{39: "A", 44: "1337", 99: "1347"})
	q.do("send 35=G|41=qf-trail|11=qf-trail-m|55=VN30F2612|54=2|38=1|40=4|44=1338.0|99=1347.0|389=5|59=0|21=1|60=now")
	wantFIXFields(t, "modified while pending", q.er("qf-trail-m", "5"), map[int]string{39: "A", 41: "qf-trail", 44: "1338"})
	trade("1346.0", "cx-down") // through the stop: the order goes to the book at 1 338
	wantFIXFields(t, "activated", q.er("qf-trail-m", "0"), map[int]string{39: "0", 40: "4", 44: "1338"})
	q.do("send 35=G|41=qf-trail-m|11=qf-trail-m2|55=VN30F2612|54=2|38=1|40=4|44=1338.0|99=1349.0|389=5|59=0|21=1|60=now")
	if rej := q.waitFor("in ", "|35=9|", "|11=qf-trail-m2|"); !strings.Contains(rej, "|58=OMS|-100026|") {
		t.Fatalf("a stop change after activation: %s", rej)
	}
	q.do("send 35=F|41=qf-trail-m|11=qf-trail-x|55=VN30F2612|54=2|60=now")
	q.er("qf-trail-x", "4")
	wantOrder(t, e.orderByReq(t, tr, "qf-trail"), "CANCELED", 0)
}

// quickFIXSession: TestRequest and idle heartbeats, sequence gaps both
// ways, a relogon with a number too low.
func quickFIXSession(t *testing.T, q *quickFIX) {
	q.do("send 35=1|112=PING-1")
	q.waitFor("in ", "|35=0|", "|112=PING-1|")
	// Idle: omsd's own heartbeat within one interval (16 s) and a bit.
	q.forget()
	q.waitFor("in ", "|35=0|", "|49=OMSD|")

	// Client → omsd gap: omsd asks for it, QuickFIX gap-fills and resends
	// the order (PossDup), which omsd executes once.
	q.do(nos(accountAn, "qf-gap-a", "1", "1", "1300.0"))
	q.er("qf-gap-a", "0")
	seqLine := q.waitForLast("out ")
	next := atoi(t, field(seqLine, 34)) + 1
	q.do(fmt.Sprintf("next-sender %d", next+3))
	q.do(nos(accountAn, "qf-gap-b", "1", "1", "1300.0"))
	q.waitFor("in ", "|35=2|", fmt.Sprintf("|7=%d|", next))
	q.er("qf-gap-b", "0")

	// omsd → client gap: QuickFIX expects an older number, asks for a
	// resend; omsd resends its ExecutionReports (PossDup) and gap-fills
	// the session messages.
	inLine := q.waitForLast("in ")
	cur := atoi(t, field(inLine, 34))
	q.do(fmt.Sprintf("next-target %d", cur-3))
	q.do("send 35=1|112=PING-2")
	// The initiator prints a message before QuickFIX counts it: a command
	// that lands in between is counted over, and the request starts one
	// later. Either way it asks for reports omsd sent.
	rr := q.waitFor("out ", "|35=2|")
	if begin := atoi(t, field(rr, 7)); begin != cur-3 && begin != cur-2 {
		t.Fatalf("ResendRequest from %d, want %d (or %d): %s", begin, cur-3, cur-2, rr)
	}
	q.waitFor("in ", "|43=Y|")
	q.waitFor("in ", "|35=0|", "|112=PING-2|")

	// Relogon with a number too low: the documented Logout text.
	q.do("stop")
	outLine := q.waitForLast("out ")
	good := atoi(t, field(outLine, 34)) + 1
	q.do("next-sender 1")
	q.forget()
	q.do("start")
	lo := q.waitFor("in ", "|35=5|", "MsgSeqNum too low, expecting ")
	if want := fmt.Sprintf("expecting %d but received 1", good); !strings.Contains(lo, want) {
		t.Fatalf("too-low logout %q, want %q", lo, want)
	}
	q.do("stop")
	q.do(fmt.Sprintf("next-sender %d", good))
	q.forget()
	q.do("start")
	q.waitFor("logon")
}

// quickFIXRestart: omsd restarts on the same Redis; reports made while
// the session was away arrive after the relogon, which continues the
// sequence.
func quickFIXRestart(t *testing.T, e *env, q *quickFIX, dir, tr string) *quickFIX {
	q.do("stop")
	q.quit()
	e.stop()
	var addr string
	same := func(c *cli.Config) {
		c.RedisURL, c.RedisPrefix, c.DevRedis, c.KeyFile = e.cfg.RedisURL, e.cfg.RedisPrefix, true, e.cfg.KeyFile
	}
	e2 := start(t, "memory", same, withFIX(t, &addr))
	// While the session is away: a REST order on An.
	e2.order(t, tr, lo(accountAn, "VN30F2612", "B", 1, "1299.0", "rest-away"))
	q2 := startQuickFIX(t, quickFIXSettings(t, dir, addr))
	q2.do("start")
	q2.waitFor("logon")
	q2.waitFor("in ", "|35=8|", "|11=rest-away|", "|150=0|")
	q2.do(nos(accountAn, "qf-after", "1", "1", "1298.0"))
	q2.er("qf-after", "0")
	// A ResendRequest after the restart is answered from the stored
	// journal: the reports again, PossDupFlag=Y.
	cur := atoi(t, field(q2.waitForLast("in "), 34))
	q2.do(fmt.Sprintf("next-target %d", cur-2))
	q2.do("send 35=1|112=PING-3")
	q2.waitFor("in ", "|35=8|", "|43=Y|", "|11=qf-after|")
	q2.waitFor("in ", "|35=0|", "|112=PING-3|")
	return q2
}

func (q *quickFIX) waitForLast(prefix string) string {
	q.mu.Lock()
	defer q.mu.Unlock()
	for i := len(q.lines) - 1; i >= 0; i-- {
		if strings.HasPrefix(q.lines[i], prefix) {
			return q.lines[i]
		}
	}
	q.t.Fatalf("no %q line yet", prefix)
	return ""
}

func atoi(t *testing.T, s string) int {
	t.Helper()
	var n int
	if _, err := fmt.Sscan(s, &n); err != nil {
		t.Fatalf("not a number: %q", s)
	}
	return n
}
