package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	centrifuge "github.com/centrifugal/centrifuge-go"
	"golang.org/x/sync/errgroup"
)

// idle is a crowd of subscribers that do nothing but receive: each one
// centrifuge-go client on two channels (the load's order channels, or a
// quiet account's).
type idle struct {
	channels    []string
	clients     []*centrifuge.Client
	connects    atomic.Int64 // connected events, reconnects included
	subscribed  atomic.Int64 // subscribed events, resubscriptions included
	pubs        atomic.Int64
	subErrors   atomic.Int64
	disconnects atomic.Int64
	mu          sync.Mutex
	codes       map[string]int // disconnect and reconnect codes and reasons
	subErrs     map[string]int // subscription errors by message
}

// loginWorkers is how many of the idle subscribers' logins run at once.
const loginWorkers = 4

// crowdSessions is the JWT each idle subscriber signs in with: jwt for
// all (shared), or a login of its own each (own), as terminals have.
func crowdSessions(ctx context.Context, a *api, c config, jwt string) ([]string, error) {
	jwts := make([]string, c.subscribers)
	if c.idleSessions != "own" {
		for i := range jwts {
			jwts[i] = jwt
		}
		return jwts, nil
	}
	progress("%s: logging in %d sessions for the idle subscribers, %d at a time", c.store, c.subscribers, loginWorkers)
	ctx, cancel := context.WithTimeout(ctx, c.loginsBound())
	defer cancel()
	// The first refused login cancels the rest and is the error.
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(loginWorkers)
	for i := range jwts {
		g.Go(func() (err error) {
			jwts[i], err = a.login(ctx, traderEmail, traderPass)
			return err
		})
	}
	return jwts, g.Wait()
}

// connectIdle connects a subscriber per JWT (subscriber i with jwts[i]),
// batch at a time (each batch subscribed before the next starts), within
// timeout.
func connectIdle(ctx context.Context, url string, jwts []string, channels []string, batch int, timeout time.Duration) (*idle, error) {
	n := len(jwts)
	s := &idle{channels: channels, codes: map[string]int{}, subErrs: map[string]int{}}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for len(s.clients) < n {
		k := min(batch, n-len(s.clients))
		for range k {
			c, err := s.add(url, jwts[len(s.clients)])
			if err != nil {
				return s, err
			}
			s.clients = append(s.clients, c)
		}
		want := int64(len(s.clients) * len(s.channels))
		for s.subscribed.Load() < want {
			if ctx.Err() != nil {
				return s, fmt.Errorf("%d of %d subscriptions within %s (%d subscription errors, disconnects: %s)",
					s.subscribed.Load(), want, timeout, s.subErrors.Load(), s.disconnectCodes())
			}
			sleep(ctx, 10*time.Millisecond)
		}
	}
	return s, nil
}

func (s *idle) add(url, jwt string) (*centrifuge.Client, error) {
	c := centrifuge.NewJsonClient(url, clientConfig(jwt))
	c.OnConnected(func(centrifuge.ConnectedEvent) { s.connects.Add(1) })
	c.OnDisconnected(func(ev centrifuge.DisconnectedEvent) {
		s.disconnects.Add(1)
		s.count(s.codes, fmt.Sprintf("disconnected %d %s", ev.Code, ev.Reason))
	})
	c.OnConnecting(func(ev centrifuge.ConnectingEvent) {
		if ev.Code != 0 { // 0: the first Connect
			s.count(s.codes, fmt.Sprintf("reconnecting %d %s", ev.Code, ev.Reason))
		}
	})
	for _, ch := range s.channels {
		sub, err := c.NewSubscription(ch)
		if err != nil {
			return nil, err
		}
		sub.OnSubscribed(func(centrifuge.SubscribedEvent) { s.subscribed.Add(1) })
		sub.OnError(func(ev centrifuge.SubscriptionErrorEvent) {
			s.subErrors.Add(1)
			s.count(s.subErrs, ev.Error.Error())
		})
		sub.OnPublication(func(centrifuge.PublicationEvent) { s.pubs.Add(1) })
		if err := sub.Subscribe(); err != nil {
			return nil, err
		}
	}
	return c, c.Connect()
}

func (s *idle) count(m map[string]int, k string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m[k]++
}

func (s *idle) disconnectCodes() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return counts(s.codes)
}

func (s *idle) subscriptionErrors() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return counts(s.subErrs)
}

// close disconnects every subscriber, a batch at a time.
func (s *idle) close() {
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, c := range s.clients {
		wg.Add(1)
		sem <- struct{}{}
		go func() { defer wg.Done(); c.Close(); <-sem }()
	}
	wg.Wait()
}

// rssKiB reads a process's resident set size (VmRSS) from /proc.
func rssKiB(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// cpuTime reads a process's user plus system CPU time from /proc
// (clock ticks of 10 ms, Linux's USER_HZ).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:]) // after the command name
	if len(fields) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("bad /proc/%d/stat", pid)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}
