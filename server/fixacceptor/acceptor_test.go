package fixacceptor

import (
	"context"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vero-oms/omsd/server/fix"
	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/memory"
)

type testClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *testClock) now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *testClock) set(t time.Time) { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func hcm(d, h, m int) time.Time      { return time.Date(2026, 12, d, h, m, 0, 0, mustLoc()) }
func mustLoc() *time.Location        { l, _ := time.LoadLocation("Asia/Ho_Chi_Minh"); return l }

// sessionOnly serves the demo session with no order pipeline: the session
// layer and its stored state alone.
func sessionOnly(t *testing.T, clk *testClock) (string, store.Store) {
	st := memory.New()
	a, err := New(Options{Sessions: []SessionConfig{DemoSession()}, Store: st, ResetAt: 7 * time.Hour, Now: clk.now,
		Enabled:  func(context.Context, string) (bool, error) { return true, nil },
		Readable: func(context.Context, string) (map[string]bool, error) { return map[string]bool{}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = a.Serve(ln) }()
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	return ln.Addr().String(), st
}

type peer struct {
	t    *testing.T
	nc   net.Conn
	r    *fix.Reader
	next int
}

func dial(t *testing.T, addr string, next int) *peer {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = nc.Close() })
	return &peer{t: t, nc: nc, r: fix.NewReader(nc), next: next}
}

func (p *peer) send(msgType string, body ...fix.Field) {
	m := fix.Message{{Tag: 35, Value: msgType}, {Tag: 34, Value: strconv.Itoa(p.next)}, {Tag: 49, Value: "DEMOCLIENT"},
		{Tag: 52, Value: time.Now().UTC().Format(fix.TimeFormat)}, {Tag: 56, Value: "OMSD"}}
	p.next++
	if _, err := p.nc.Write(fix.Encode(append(m, body...))); err != nil {
		p.t.Fatal(err)
	}
}

func (p *peer) read() fix.Message {
	p.t.Helper()
	_ = p.nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	m, err := p.r.Read()
	if err != nil {
		p.t.Fatal(err)
	}
	return m
}

func val(m fix.Message, tag int) string { v, _ := m.Get(tag); return v }

// The session day starts at the reset time (07:00 Asia/Ho_Chi_Minh here):
// a session still connected then is logged out, and the next logon starts
// both directions at 1. ResetSeqNumFlag=Y starts them at 1 at any time and
// drops the journal of the numbers before it.
func TestSessionDayAndReset(t *testing.T) {
	clk := &testClock{t: hcm(7, 10, 0)}
	addr, st := sessionOnly(t, clk)
	p := dial(t, addr, 1)
	p.send(fix.MsgLogon, fix.Field{Tag: 98, Value: "0"}, fix.Field{Tag: 108, Value: "30"})
	if m := p.read(); m.MsgType() != "A" || val(m, 34) != "1" {
		t.Fatalf("logon: %v", m)
	}
	p.send(fix.MsgTestRequest, fix.Field{Tag: 112, Value: "a"})
	if m := p.read(); m.MsgType() != "0" || val(m, 34) != "2" {
		t.Fatalf("heartbeat: %v", m)
	}
	// 06:59 next day: the same session day. 07:01: a new one.
	clk.set(hcm(8, 6, 59))
	p.send(fix.MsgTestRequest, fix.Field{Tag: 112, Value: "b"})
	if m := p.read(); val(m, 34) != "3" {
		t.Fatalf("before the reset time: %v", m)
	}
	clk.set(hcm(8, 7, 1))
	if m := p.read(); m.MsgType() != fix.MsgLogout || !strings.Contains(val(m, 58), "session day ended") {
		t.Fatalf("at the reset time: %v", m)
	}
	p = dial(t, addr, 1)
	p.send(fix.MsgLogon, fix.Field{Tag: 98, Value: "0"}, fix.Field{Tag: 108, Value: "30"})
	if m := p.read(); m.MsgType() != "A" || val(m, 34) != "1" {
		t.Fatalf("logon on the new day: %v", m)
	}
	s, _ := st.FIXSeq(t.Context(), "DEMOCLIENT>OMSD")
	if s.Day != "2026-12-08" || s.NextIn != 2 || s.NextOut != 2 {
		t.Fatalf("stored after the new day's logon: %+v", s)
	}
	p.send(fix.MsgTestRequest, fix.Field{Tag: 112, Value: "c"})
	p.read()
	_ = p.nc.Close()

	// ResetSeqNumFlag=Y from a client whose numbers are further on.
	waitReleased(t, st)
	p = dial(t, addr, 1)
	p.send(fix.MsgLogon, fix.Field{Tag: 98, Value: "0"}, fix.Field{Tag: 108, Value: "30"}, fix.Field{Tag: 141, Value: "Y"})
	if m := p.read(); m.MsgType() != "A" || val(m, 34) != "1" || val(m, 141) != "Y" {
		t.Fatalf("reset logon: %v", m)
	}
	s, _ = st.FIXSeq(t.Context(), "DEMOCLIENT>OMSD")
	if !strings.HasPrefix(s.Day, "2026-12-08#") || s.NextIn != 2 || s.NextOut != 2 {
		t.Fatalf("stored after a reset logon: %+v", s)
	}
}

// waitReleased waits until the closed connection has let its session go
// (its last save is stored).
func waitReleased(t *testing.T, st store.Store) {
	t.Helper()
	for range 100 {
		if s, err := st.FIXSeq(t.Context(), "DEMOCLIENT>OMSD"); err == nil && s.NextIn == 3 {
			time.Sleep(20 * time.Millisecond) // the release follows the save
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the session was not released")
}

// A second connection of a live session is refused.
func TestOneConnectionPerSession(t *testing.T) {
	clk := &testClock{t: hcm(7, 10, 0)}
	addr, _ := sessionOnly(t, clk)
	p := dial(t, addr, 1)
	p.send(fix.MsgLogon, fix.Field{Tag: 98, Value: "0"}, fix.Field{Tag: 108, Value: "30"})
	p.read()
	q := dial(t, addr, 2)
	q.send(fix.MsgLogon, fix.Field{Tag: 98, Value: "0"}, fix.Field{Tag: 108, Value: "30"})
	if m := q.read(); m.MsgType() != fix.MsgLogout || !strings.Contains(val(m, 58), "logon refused") {
		t.Fatalf("second connection: %v", m)
	}
	p.send(fix.MsgTestRequest, fix.Field{Tag: 112, Value: "still"})
	if m := p.read(); val(m, 112) != "still" {
		t.Fatalf("the first connection: %v", m)
	}
}

// Socket deadlines follow the wall clock, not the session clock: with the
// session clock years behind or ahead (a test's, a shifted one), a logon
// is read and answered, the session goes on, and a refused logon still
// gets its Logout. (Deadlines taken from the session clock expired at once
// once a test's fixed date had passed.)
func TestSocketDeadlinesFollowTheWallClock(t *testing.T) {
	for _, at := range []time.Time{time.Now().AddDate(-5, 0, 0), time.Now().AddDate(5, 0, 0)} {
		t.Run(at.Format("2006"), func(t *testing.T) {
			addr, _ := sessionOnly(t, &testClock{t: at})
			p := dial(t, addr, 1)
			p.send(fix.MsgLogon, fix.Field{Tag: 98, Value: "0"}, fix.Field{Tag: 108, Value: "30"})
			if m := p.read(); m.MsgType() != fix.MsgLogon {
				t.Fatalf("logon: %v", m)
			}
			p.send(fix.MsgTestRequest, fix.Field{Tag: 112, Value: "wall"})
			if m := p.read(); val(m, 112) != "wall" {
				t.Fatalf("test request: %v", m)
			}
			q := dial(t, addr, 1)
			q.send(fix.MsgLogon, fix.Field{Tag: 98, Value: "0"}, fix.Field{Tag: 108, Value: "30"})
			if m := q.read(); m.MsgType() != fix.MsgLogout {
				t.Fatalf("refused logon: %v", m)
			}
		})
	}
}

// Reports are queued only for sessions logged on this session day.
func TestQueueOnlyForSessionsOfTheDay(t *testing.T) {
	clk := &testClock{t: hcm(7, 10, 0)}
	st := memory.New()
	a, err := New(Options{Sessions: []SessionConfig{DemoSession()}, Store: st, ResetAt: 7 * time.Hour, Now: clk.now,
		Readable: func(context.Context, string) (map[string]bool, error) { return map[string]bool{"A": true}, nil }})
	if err != nil {
		t.Fatal(err)
	}
	entry := func(id int64) []*store.OutboxEntry {
		return []*store.OutboxEntry{{ID: id, Kind: store.OutboxOrder, AccountCode: "A",
			Order: store.Order{ID: 1, ClOrdID: "c", AccountCode: "A", Symbol: "X", Side: "B", Type: "LO", Qty: 1, Status: store.OrderNew}}}
	}
	queued := func() int {
		qs, err := st.FIXReports(t.Context(), "DEMOCLIENT>OMSD", 0, 100)
		if err != nil {
			t.Fatal(err)
		}
		return len(qs)
	}
	if err := a.Queue(t.Context(), entry(1)); err != nil || queued() != 0 {
		t.Fatalf("never logged on: %d queued (%v)", queued(), err)
	}
	if err := st.SaveFIXSeq(t.Context(), "DEMOCLIENT>OMSD", store.FIXSeq{}, store.FIXSeq{Day: "2026-12-06", NextIn: 2, NextOut: 2}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Queue(t.Context(), entry(2)); err != nil || queued() != 0 {
		t.Fatalf("logged on yesterday: %d queued (%v)", queued(), err)
	}
	if err := st.SaveFIXSeq(t.Context(), "DEMOCLIENT>OMSD", store.FIXSeq{Day: "2026-12-06", NextIn: 2, NextOut: 2}, store.FIXSeq{Day: "2026-12-07", NextIn: 2, NextOut: 2}, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.Queue(t.Context(), entry(3)); err != nil || queued() != 1 {
		t.Fatalf("logged on today: %d queued (%v)", queued(), err)
	}
}
