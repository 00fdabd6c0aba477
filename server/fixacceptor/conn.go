package fixacceptor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"time"

	"github.com/vero-oms/omsd/server/fix"
	"github.com/vero-oms/omsd/store"
)

// logonTimeout bounds the wait for the first message of a connection.
const logonTimeout = 10 * time.Second

// storeTimeout bounds one store call of a connection.
const storeTimeout = 5 * time.Second

// conn is one logged-on (or logging-on) FIX connection. One goroutine
// runs it: the session state, the store and the socket's writes are its
// own; a reader goroutine hands it the messages read.
type conn struct {
	a     *Acceptor
	nc    net.Conn
	cfg   *SessionConfig
	sess  *fix.Session
	log   *slog.Logger
	wake  chan struct{}
	saved store.FIXSeq // the state as stored

	out       []outgoing // stamped, not yet written
	done      bool       // close after writing out
	delivered int64      // queue position of the last report stamped
	day       string     // the session day of this logon (see store.FIXSeq.Day)

	// The order worker: application messages go to it in order, and the
	// answers it makes at once (a refusal) come back to be stamped; the
	// loop stays free to send reports while an order is being entered.
	orders     chan fix.Message
	answers    chan []fix.Field
	stopped    chan struct{}
	logoutText string // the Text of the last Logout stamped
}

type outgoing struct {
	raw     []byte
	seq     int
	journal bool // an application message: kept for resends
	msgType string
}

// serveConn runs a connection from its first byte to its close.
func (a *Acceptor) serveConn(nc net.Conn) {
	defer nc.Close()
	// Socket deadlines are wall-clock time, whatever clock the session
	// day follows (Options.Now may be a test's or a shifted one).
	_ = nc.SetReadDeadline(time.Now().Add(logonTimeout))
	r := fix.NewReader(nc)
	first, err := r.Read()
	if err != nil {
		return // not FIX, or garbled: a FIX engine closes without a word
	}
	_ = nc.SetReadDeadline(time.Time{})
	c, why := a.admit(nc, first)
	if c == nil {
		a.refuseLogon(nc, first, why)
		return
	}
	defer a.release(c)
	a.metrics.connected.Inc()
	defer a.metrics.connected.Dec()
	if v, _ := first.Get(fix.TagResetSeqNumFlag); v == "Y" {
		// Numbers start again at 1 today: a new journal.
		c.day = a.sessionDay(a.o.Now()) + "#" + strconv.FormatInt(a.o.Now().UnixNano(), 36)
	}
	c.step(c.sess.Receive(first))
	if !c.flush() || !c.sess.LoggedOn() {
		c.log.Info("fix: logon refused", "reason", c.lastText())
		return
	}
	c.log.Info("fix: logon", "next_in", c.sess.NextIn, "next_out", c.sess.NextOut)
	c.run(r)
}

// admit finds the session a Logon names and checks its address, secret
// and identity, then loads its sequence state. A refusal says why in the
// log only: the client learns nothing about which check failed.
func (a *Acceptor) admit(nc net.Conn, m fix.Message) (*conn, string) {
	if m.MsgType() != fix.MsgLogon {
		return nil, "the first message is not a Logon"
	}
	sender, _ := m.Get(fix.TagSenderCompID)
	target, _ := m.Get(fix.TagTargetCompID)
	cfg := a.bySender[sender]
	if cfg == nil || cfg.TargetCompID != target {
		return nil, fmt.Sprintf("no session %s>%s", sender, target)
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	if why := a.authenticate(ctx, cfg, nc, m); why != "" {
		return nil, why
	}
	c := &conn{a: a, nc: nc, cfg: cfg, wake: make(chan struct{}, 1),
		log: a.o.Log.With("fix_session", cfg.Name(), "remote", nc.RemoteAddr().String())}
	if !a.claim(c) {
		return nil, "the session is already connected"
	}
	saved, err := a.o.Store.FIXSeq(ctx, cfg.Name())
	if err != nil {
		a.release(c)
		return nil, "store: " + err.Error()
	}
	c.saved = saved
	in, out := saved.NextIn, saved.NextOut
	c.day = saved.Day
	if today := a.sessionDay(a.o.Now()); dayOf(saved.Day) != today {
		in, out, c.day = 1, 1, today // a new session day
	}
	c.sess = fix.NewSession(fix.Config{OurCompID: cfg.TargetCompID, TheirCompID: cfg.SenderCompID}, in, out, journal{c}, a.o.Now)
	return c, ""
}

// authenticate checks the source address, the secret in RawData (96) and
// that the identity may sign in.
func (a *Acceptor) authenticate(ctx context.Context, cfg *SessionConfig, nc net.Conn, m fix.Message) string {
	ap, err := netip.ParseAddrPort(nc.RemoteAddr().String())
	if err != nil || !cfg.Allows(ap.Addr()) {
		return "source address not allowed: " + nc.RemoteAddr().String()
	}
	if cfg.Secret != "" {
		secret, _ := m.Get(tagRawData)
		ok, err := a.o.VerifySecret(ctx, secret, cfg.Secret)
		if err != nil || !ok {
			return "wrong or missing secret in RawData (96)"
		}
	}
	ok, err := a.o.Enabled(ctx, cfg.Identity)
	if err != nil || !ok {
		return "identity " + cfg.Identity + " is unknown or disabled"
	}
	return ""
}

// tagRawData carries a session's secret on Logon (FIX 4.2 has no
// password field).
const tagRawData = 96

// refusedText is the one Logout text of every refused logon.
const refusedText = "logon refused: unknown session, source address or secret"

// refuseLogon answers a refused logon with a Logout and logs why. It
// writes nothing to the store: an unknown client leaves no trace there.
func (a *Acceptor) refuseLogon(nc net.Conn, m fix.Message, why string) {
	a.o.Log.Warn("fix: logon refused", "reason", why, "remote", nc.RemoteAddr().String())
	a.metrics.refused.Inc()
	if m.MsgType() != fix.MsgLogon {
		return
	}
	sender, _ := m.Get(fix.TagSenderCompID)
	target, _ := m.Get(fix.TagTargetCompID)
	s := fix.NewSession(fix.Config{OurCompID: target, TheirCompID: sender}, 1, 1, nil, a.o.Now)
	r := s.Logout(refusedText)
	_ = nc.SetWriteDeadline(time.Now().Add(time.Second))
	for _, m := range r.Send {
		_, _ = nc.Write(fix.Encode(m))
	}
}

// dayOf is the date of a stored session day ("2026-12-05" or, after a
// ResetSeqNumFlag logon, "2026-12-05#<n>").
func dayOf(day string) string {
	if len(day) >= 10 {
		return day[:10]
	}
	return day
}

// readResult is one read of the reader goroutine.
type readResult struct {
	m   fix.Message
	err error
}

// run serves a logged-on session until it ends.
func (c *conn) run(r *fix.Reader) {
	reads := make(chan readResult, 64)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for {
			m, err := r.Read()
			select {
			case reads <- readResult{m, err}:
			case <-stop:
				return
			}
			if err != nil && !errors.Is(err, fix.ErrGarbled) && !isReject(err) {
				return
			}
		}
	}()
	c.orders, c.answers, c.stopped = make(chan fix.Message, 256), make(chan []fix.Field, 64), make(chan struct{})
	worker := make(chan struct{})
	go func() {
		defer close(worker)
		for m := range c.orders {
			c.application(m)
		}
	}()
	defer func() {
		// The orders already taken are entered (their reports are
		// queued for the next logon); answers made now are dropped.
		close(c.stopped)
		close(c.orders)
		<-worker
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	poll := time.NewTicker(c.a.o.PollEvery)
	defer poll.Stop()
	c.deliver()
	for c.flush() && !c.done {
		select {
		case rr := <-reads:
			c.read(rr)
			c.readMore(reads)
		case <-tick.C:
			c.tick()
		case body := <-c.answers:
			c.send(body)
		case <-c.wake:
			c.deliver()
		case <-poll.C:
			c.deliver()
		}
	}
	c.log.Info("fix: logout", "reason", c.lastText(), "next_in", c.sess.NextIn, "next_out", c.sess.NextOut)
}

// readMore handles the messages already read, up to a bound, before the
// next flush: a burst of orders costs one store save, not one each.
func (c *conn) readMore(reads <-chan readResult) {
	for range 63 {
		if c.done {
			return
		}
		select {
		case rr := <-reads:
			c.read(rr)
		default:
			return
		}
	}
}

func isReject(err error) bool {
	var e *fix.RejectError
	return errors.As(err, &e)
}

// read handles one read: a message, a malformed one (Reject), a garbled
// one (ignored) or the end of the connection.
func (c *conn) read(rr readResult) {
	var rej *fix.RejectError
	switch {
	case rr.err == nil:
		c.metrics(rr.m.MsgType(), "in")
		res := c.sess.Receive(rr.m)
		c.step(res)
		switch {
		case res.App == nil:
		case isApplication(res.App.MsgType()):
			c.orders <- res.App
		default:
			c.unsupported(res.App)
		}
	case errors.As(rr.err, &rej):
		c.step(c.sess.Refuse(rr.m, rej))
	case errors.Is(rr.err, fix.ErrGarbled):
		c.log.Debug("fix: garbled message ignored", "err", rr.err)
	default:
		c.done = true // the client went away
		if c.logoutText == "" {
			c.logoutText = "the connection closed"
		}
	}
}

// tick runs the heartbeat rules and ends the connection when the session
// day is over (the numbers start again at 1 on the next logon).
func (c *conn) tick() {
	if dayOf(c.day) != c.a.sessionDay(c.a.o.Now()) {
		c.step(c.sess.Logout("the FIX session day ended: log on again with MsgSeqNum 1"))
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	ok, err := c.a.o.Enabled(ctx, c.cfg.Identity)
	cancel()
	if err == nil && !ok {
		// Revocation takes effect at once: a disabled identity's session
		// ends within a second.
		c.step(c.sess.Logout("the session's identity is disabled"))
		return
	}
	c.step(c.sess.Tick())
}

// step takes a session result: its messages are stamped already and go
// out in order at the next flush.
func (c *conn) step(r fix.Result) {
	for _, m := range r.Send {
		c.emit(m, false)
	}
	if r.Close {
		c.done = true
	}
}

// emit queues a stamped message for the next flush.
func (c *conn) emit(m fix.Message, journal bool) {
	seq, _ := m.Int(fix.TagMsgSeqNum)
	if m.MsgType() == fix.MsgLogout {
		c.logoutText, _ = m.Get(fix.TagText)
	}
	c.out = append(c.out, outgoing{raw: fix.Encode(m), seq: seq, journal: journal, msgType: m.MsgType()})
}

// reply hands an answer of the order worker to the loop (dropped once
// the connection is over: nothing was stored for it).
func (c *conn) reply(body []fix.Field) {
	select {
	case c.answers <- body:
	case <-c.stopped:
	}
}

// send stamps and queues an application message (journaled).
func (c *conn) send(body []fix.Field) {
	c.emit(c.sess.Send(body[0].Value, body[1:]...), true)
}

// deliver sends the reports queued for the session, oldest first.
func (c *conn) deliver() {
	if c.done {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	qs, err := c.a.o.Store.FIXReports(ctx, c.cfg.Name(), c.saved.Delivered, 256)
	if err != nil {
		c.log.Warn("fix: reading queued reports failed", "err", err)
		return
	}
	for _, q := range qs {
		c.send(decodeBody(q.Body))
		c.delivered = q.Pos
	}
}

// flush stores the session's state and the journal of what is about to
// be sent, then writes it: a message is on the wire only once its number
// is stored, so a restart never reuses a number. It reports whether the
// connection goes on.
func (c *conn) flush() bool {
	next := store.FIXSeq{Day: c.day, NextIn: c.sess.NextIn, NextOut: c.sess.NextOut, Delivered: max(c.delivered, c.saved.Delivered)}
	if next != c.saved {
		var sent []store.FIXSent
		for _, o := range c.out {
			if o.journal {
				sent = append(sent, store.FIXSent{Seq: o.seq, Raw: o.raw})
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
		err := c.a.o.Store.SaveFIXSeq(ctx, c.cfg.Name(), c.saved, next, sent)
		cancel()
		if err != nil {
			// Another connection advanced the session, or the store is
			// away: nothing unsaved may be sent.
			c.log.Warn("fix: saving the session state failed; closing", "err", err)
			c.out, c.done = nil, true
			return false
		}
		c.saved = next
	}
	if c.done {
		// The state is stored: let the session go before the Logout
		// leaves, so the client's next logon is not refused as a second
		// connection.
		c.a.release(c)
	}
	var buf bytes.Buffer
	for _, o := range c.out {
		buf.Write(o.raw)
		c.metrics(o.msgType, "out")
	}
	c.out = c.out[:0]
	if buf.Len() > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(10 * time.Second))
		if _, err := c.nc.Write(buf.Bytes()); err != nil {
			c.done = true
			return false
		}
	}
	return !c.done
}

func (c *conn) metrics(msgType, dir string) {
	c.a.metrics.messages.WithLabelValues(c.cfg.Name(), dir, msgType).Inc()
}

// lastText is the Text of the last Logout stamped, for the log.
func (c *conn) lastText() string { return c.logoutText }

// journal answers the session's resends from the store.
type journal struct{ c *conn }

func (j journal) Sent(seq int) (fix.Message, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), storeTimeout)
	defer cancel()
	raw, ok, err := j.c.a.o.Store.FIXSent(ctx, j.c.cfg.Name(), seq)
	if err != nil || !ok {
		return nil, false
	}
	m, err := fix.NewReader(bytes.NewReader(raw)).Read()
	if err != nil {
		return nil, false
	}
	return m, true
}
