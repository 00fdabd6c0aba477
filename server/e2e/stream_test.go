package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	centrifuge "github.com/centrifugal/centrifuge-go"
)

// The Streaming API through its real Go client (centrifuge-go, over
// WebSocket); test/outside/stream runs centrifuge-js over every transport.

type streamPub struct {
	offset uint64
	data   map[string]any
}

// streamClient records everything one centrifuge-go client sees.
type streamClient struct {
	t *testing.T
	c *centrifuge.Client

	mu           sync.Mutex
	pubs         map[string][]streamPub
	subscribed   map[string][]centrifuge.SubscribedEvent
	unsubscribed map[string][]uint32
	subErrors    map[string][]error
	disconnects  []uint32
	connected    int
	// Server-side subscriptions ("all my accounts"): their publications
	// go to pubs too.
	connectData  []byte
	serverSubs   map[string]int
	serverUnsubs map[string]int
	recovered    map[string]bool // the last server-side subscription recovered
}

func (e *env) streamURL() string {
	return "ws://" + strings.TrimPrefix(e.base, "http://") + "/connection/websocket"
}

// stream connects a client with jwt and waits until it is connected.
func (e *env) stream(t *testing.T, jwt string) *streamClient {
	t.Helper()
	s := e.streamUnconnected(t, jwt)
	s.connect()
	return s
}

func (e *env) streamUnconnected(t *testing.T, jwt string) *streamClient {
	return e.streamWithData(t, jwt, nil)
}

// streamWithData is an unconnected client whose connect data is data.
func (e *env) streamWithData(t *testing.T, jwt string, data []byte) *streamClient {
	s := &streamClient{t: t, pubs: map[string][]streamPub{}, subscribed: map[string][]centrifuge.SubscribedEvent{},
		unsubscribed: map[string][]uint32{}, subErrors: map[string][]error{}, serverSubs: map[string]int{}, serverUnsubs: map[string]int{}, recovered: map[string]bool{}}
	s.c = centrifuge.NewJsonClient(e.streamURL(), centrifuge.Config{Token: jwt, Data: data,
		MinReconnectDelay: 50 * time.Millisecond, MaxReconnectDelay: 200 * time.Millisecond})
	s.c.OnConnected(func(ev centrifuge.ConnectedEvent) { s.mu.Lock(); s.connected++; s.connectData = ev.Data; s.mu.Unlock() })
	s.c.OnSubscribed(func(ev centrifuge.ServerSubscribedEvent) {
		s.mu.Lock()
		s.serverSubs[ev.Channel]++
		s.recovered[ev.Channel] = ev.WasRecovering && ev.Recovered
		s.mu.Unlock()
	})
	s.c.OnUnsubscribed(func(ev centrifuge.ServerUnsubscribedEvent) { s.mu.Lock(); s.serverUnsubs[ev.Channel]++; s.mu.Unlock() })
	s.c.OnPublication(func(ev centrifuge.ServerPublicationEvent) {
		var m map[string]any
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			s.t.Errorf("%s: publication is not a JSON object: %s", ev.Channel, ev.Data)
		}
		s.mu.Lock()
		s.pubs[ev.Channel] = append(s.pubs[ev.Channel], streamPub{ev.Offset, m})
		s.mu.Unlock()
	})
	s.c.OnDisconnected(func(ev centrifuge.DisconnectedEvent) {
		s.mu.Lock()
		s.disconnects = append(s.disconnects, ev.Code)
		s.mu.Unlock()
	})
	t.Cleanup(s.c.Close)
	return s
}

// connect connects and waits for it.
func (s *streamClient) connect() {
	s.t.Helper()
	s.mu.Lock()
	n := s.connected
	s.mu.Unlock()
	if err := s.c.Connect(); err != nil {
		s.t.Fatalf("stream connect: %v", err)
	}
	s.within(5*time.Second, "connected", func() bool { return s.connected > n })
}

// subscribe subscribes to ch (recoverable) and returns at once.
func (s *streamClient) subscribe(ch string) *centrifuge.Subscription {
	s.t.Helper()
	sub, err := s.c.NewSubscription(ch, centrifuge.SubscriptionConfig{Recoverable: true})
	if err != nil {
		s.t.Fatal(err)
	}
	sub.OnPublication(func(ev centrifuge.PublicationEvent) {
		var m map[string]any
		if err := json.Unmarshal(ev.Data, &m); err != nil {
			s.t.Errorf("%s: publication is not a JSON object: %s", ch, ev.Data)
		}
		s.mu.Lock()
		s.pubs[ch] = append(s.pubs[ch], streamPub{ev.Offset, m})
		s.mu.Unlock()
	})
	sub.OnSubscribed(func(ev centrifuge.SubscribedEvent) {
		s.mu.Lock()
		s.subscribed[ch] = append(s.subscribed[ch], ev)
		s.mu.Unlock()
	})
	sub.OnUnsubscribed(func(ev centrifuge.UnsubscribedEvent) {
		s.mu.Lock()
		s.unsubscribed[ch] = append(s.unsubscribed[ch], ev.Code)
		s.mu.Unlock()
	})
	sub.OnError(func(ev centrifuge.SubscriptionErrorEvent) {
		s.mu.Lock()
		s.subErrors[ch] = append(s.subErrors[ch], ev.Error)
		s.mu.Unlock()
	})
	if err := sub.Subscribe(); err != nil {
		s.t.Fatal(err)
	}
	return sub
}

// subscribed subscribes to every channel and waits until each is.
func (s *streamClient) subscribeAll(chs ...string) {
	s.t.Helper()
	for _, ch := range chs {
		s.subscribe(ch)
	}
	for _, ch := range chs {
		s.within(5*time.Second, "subscribed to "+ch, func() bool { return len(s.subscribed[ch]) > 0 })
	}
}

// within waits until cond (called under the lock) holds.
func (s *streamClient) within(d time.Duration, what string, cond func() bool) time.Duration {
	s.t.Helper()
	start := time.Now()
	for {
		s.mu.Lock()
		ok := cond()
		s.mu.Unlock()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > d {
			s.t.Fatalf("stream: not %s within %s", what, d)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// received returns a copy of ch's publications so far.
func (s *streamClient) received(ch string) []streamPub {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]streamPub(nil), s.pubs[ch]...)
}

// wantContiguous checks offsets increase by one: nothing missed, nothing twice.
func wantContiguous(t *testing.T, ch string, pubs []streamPub) {
	t.Helper()
	for i := 1; i < len(pubs); i++ {
		if pubs[i].offset != pubs[i-1].offset+1 {
			t.Fatalf("%s: offset %d follows %d", ch, pubs[i].offset, pubs[i-1].offset)
		}
	}
}

// published waits until the app's outbox is drained (everything committed
// so far is published).
func (e *env) published(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		top, err := e.app.Store.OutboxAfter(t.Context(), 0, 1)
		if err != nil {
			t.Fatal(err)
		}
		if len(top) == 0 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("the outbox was not drained within 10 s")
}

func orderCh(account string) string   { return "order:OrderExecutionReport:" + account }
func accountCh(account string) string { return "order:Account:" + account }

// The docs' OrderExecutionReport fields.
var executionReportFields = strings.Fields(`user orderID originalReqID internalOrderID refOrderID origClOrdID
	externalOrderID externalSecondOrderID accountID symbol marketID orderSide orderStatus orderType originalPrice
	originalQty orderCurrentPrice orderCurrentQty filledQty avgFillPrice cancelledQty orderText unixUTCTimeMs
	createunixUTCTimeMs persisState algoID positionID parentOrderId`)

func wantFields(t *testing.T, what string, m map[string]any, fields []string) {
	t.Helper()
	for _, f := range fields {
		if _, ok := m[f]; !ok {
			t.Errorf("%s: no field %q in %v", what, f, m)
		}
	}
	if len(m) != len(fields) {
		t.Errorf("%s: %d fields, want %d: %v", what, len(m), len(fields), m)
	}
}

// statuses lists the orderStatus of every report of one order.
func statuses(pubs []streamPub, reqID string) []string {
	var out []string
	for _, p := range pubs {
		if p.data["originalReqID"] == reqID {
			out = append(out, fmt.Sprint(p.data["orderStatus"]))
		}
	}
	return out
}

// last returns the last report matching keep.
func last(pubs []streamPub, keep func(map[string]any) bool) map[string]any {
	for i := len(pubs) - 1; i >= 0; i-- {
		if keep(pubs[i].data) {
			return pubs[i].data
		}
	}
	return nil
}

// settle waits until no channel received anything for 300 ms: the reports
// of one commit go to several channels, which deliver independently.
func (s *streamClient) settle() {
	s.t.Helper()
	count := func() int {
		s.mu.Lock()
		defer s.mu.Unlock()
		n := 0
		for _, ps := range s.pubs {
			n += len(ps)
		}
		return n
	}
	deadline := time.Now().Add(10 * time.Second)
	for n := count(); time.Now().Before(deadline); {
		time.Sleep(300 * time.Millisecond)
		m := count()
		if m == n {
			return
		}
		n = m
	}
	s.t.Fatal("stream: publications still arriving after 10 s")
}
