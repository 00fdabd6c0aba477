package market

import (
	"strings"
	"sync"
	"testing"
	"time"
)

// wed is Wednesday 2026-11-25 at h:m:s.ns in Ho Chi Minh City.
func wed(h, m, s, ns int) time.Time { return time.Date(2026, 11, 25, h, m, s, ns, Location) }

func TestLocationIsUTCPlus7(t *testing.T) {
	for _, at := range []time.Time{
		time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC),
		time.Date(2026, 7, 15, 12, 0, 0, 0, time.UTC),
	} {
		if _, off := at.In(Location).Zone(); off != 7*3600 {
			t.Errorf("offset at %s = %d", at, off)
		}
	}
	if loadLocation() == nil {
		t.Fatal("no location")
	}
}

func TestScheduleBoundaries(t *testing.T) {
	s := DefaultSchedule()
	type step struct {
		h, m int
		want Session
	}
	days := map[MarketID][]step{
		HOSE: {
			{0, 0, Closed}, {8, 0, PreOpening}, {9, 0, OpeningAuction}, {9, 15, Continuous},
			{11, 30, Intermission}, {13, 0, Continuous}, {14, 30, ClosingAuction},
			{14, 45, PostClose}, {15, 0, Closed},
		},
		HNX: {
			{0, 0, Closed}, {8, 0, PreOpening}, {9, 0, Continuous}, {11, 30, Intermission},
			{13, 0, Continuous}, {14, 30, ClosingAuction}, {14, 45, PostClose}, {15, 0, Closed},
		},
		UPCoM: {
			{0, 0, Closed}, {8, 0, PreOpening}, {9, 0, Continuous}, {11, 30, Intermission},
			{13, 0, Continuous}, {15, 0, Closed},
		},
		Deriv: {
			{0, 0, Closed}, {8, 0, PreOpening}, {8, 45, OpeningAuction}, {9, 0, Continuous},
			{11, 30, Intermission}, {13, 0, Continuous}, {14, 30, ClosingAuction}, {14, 45, Closed},
		},
	}
	for m, steps := range days {
		for i, st := range steps {
			at := wed(st.h, st.m, 0, 0)
			if got := s.SessionAt(m, at); got != st.want {
				t.Errorf("%s at %s = %s, want %s", m, at.Format("15:04:05.000000000"), got, st.want)
			}
			if i > 0 {
				before := at.Add(-time.Nanosecond)
				if got, want := s.SessionAt(m, before), steps[i-1].want; got != want {
					t.Errorf("%s at %s = %s, want %s", m, before.Format("15:04:05.000000000"), got, want)
				}
				// The instant before a change, NextChange names it.
				if next, sess, ok := s.NextChange(m, before); !ok || !next.Equal(at) || sess != st.want {
					t.Errorf("%s NextChange(%s) = %s %s %v, want %s %s", m, before.Format("15:04:05.000000000"), next, sess, ok, at, st.want)
				}
			}
		}
		if got := s.SessionAt(m, wed(23, 59, 59, 999999999)); got != Closed {
			t.Errorf("%s just before midnight = %s", m, got)
		}
	}
}

func TestScheduleReadsAnyZone(t *testing.T) {
	s := DefaultSchedule()
	for _, c := range []struct {
		utc  time.Time
		want Session
	}{
		// 02:00 UTC is 09:00 in Ho Chi Minh City: the HOSE opening auction.
		{time.Date(2026, 11, 25, 2, 0, 0, 0, time.UTC), OpeningAuction},
		{time.Date(2026, 11, 25, 1, 59, 59, 999999999, time.UTC), PreOpening},
		{time.Date(2026, 11, 25, 2, 15, 0, 0, time.UTC), Continuous},
		{time.Date(2026, 11, 25, 7, 30, 0, 0, time.UTC), ClosingAuction},
		{time.Date(2026, 11, 25, 8, 0, 0, 0, time.UTC), Closed},
		// 20:00 UTC Tuesday is 03:00 Wednesday local: closed, not Tuesday's evening.
		{time.Date(2026, 11, 24, 20, 0, 0, 0, time.UTC), Closed},
		// 18:00 UTC Friday is 01:00 Saturday local; 02:00 UTC Monday is 09:00 Monday.
		{time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC), Closed},
		{time.Date(2026, 11, 30, 2, 0, 0, 0, time.UTC), OpeningAuction},
		// 02:30 UTC Saturday is 09:30 Saturday local: weekend.
		{time.Date(2026, 11, 28, 2, 30, 0, 0, time.UTC), Closed},
		// 02:30 UTC Sunday would be continuous on a weekday.
		{time.Date(2026, 11, 29, 2, 30, 0, 0, time.UTC), Closed},
	} {
		if got := s.SessionAt(HOSE, c.utc); got != c.want {
			t.Errorf("HOSE at %s = %s, want %s", c.utc, got, c.want)
		}
		// A clock whose source returns UTC agrees, and reports local time.
		clk := NewClock(s, func() time.Time { return c.utc })
		if got := clk.Session(HOSE); got != c.want {
			t.Errorf("clock at %s = %s, want %s", c.utc, got, c.want)
		}
		if clk.Now().Location() != Location || !clk.Now().Equal(c.utc) {
			t.Errorf("Now() = %s", clk.Now())
		}
	}
	// Trading date follows the local date: 17:30 UTC is 00:30 the next day.
	clk := NewClock(s, func() time.Time { return time.Date(2026, 11, 25, 17, 30, 0, 0, time.UTC) })
	if got := clk.TradingDate(); got != "2026-11-26" {
		t.Errorf("TradingDate = %s", got)
	}
}

func TestWeekendsAndHolidays(t *testing.T) {
	s := DefaultSchedule()
	s.Holidays["2026-09-02"] = true // National Day, a Wednesday
	for _, c := range []struct {
		at   time.Time
		want Session
	}{
		{time.Date(2026, 11, 28, 10, 0, 0, 0, Location), Closed},     // Saturday
		{time.Date(2026, 11, 29, 10, 0, 0, 0, Location), Closed},     // Sunday
		{time.Date(2026, 11, 27, 10, 0, 0, 0, Location), Continuous}, // Friday
		{time.Date(2026, 9, 2, 10, 0, 0, 0, Location), Closed},       // holiday
		{time.Date(2026, 9, 3, 10, 0, 0, 0, Location), Continuous},
	} {
		for _, m := range Markets {
			if got := s.SessionAt(m, c.at); got != c.want {
				t.Errorf("%s at %s = %s, want %s", m, c.at, got, c.want)
			}
		}
	}
	// From Friday's close the next change is Monday's pre-opening.
	next, sess, ok := s.NextChange(HOSE, time.Date(2026, 11, 27, 15, 0, 0, 0, Location))
	if !ok || sess != PreOpening || !next.Equal(time.Date(2026, 11, 30, 8, 0, 0, 0, Location)) {
		t.Errorf("NextChange over the weekend = %s %s %v", next, sess, ok)
	}
	// Over the holiday: Tuesday's close to Thursday's pre-opening.
	next, sess, ok = s.NextChange(HNX, time.Date(2026, 9, 1, 15, 0, 0, 0, Location))
	if !ok || sess != PreOpening || !next.Equal(time.Date(2026, 9, 3, 8, 0, 0, 0, Location)) {
		t.Errorf("NextChange over the holiday = %s %s %v", next, sess, ok)
	}
	// A schedule that never opens never changes.
	never := DefaultSchedule()
	never.Days[HOSE] = DaySchedule{{0, Closed}}
	if _, _, ok := never.NextChange(HOSE, wed(10, 0, 0, 0)); ok {
		t.Error("NextChange found a change in an always-closed schedule")
	}
}

// pinnedAs is what a market shows while every market is pinned to s: s
// where its day has it; where not, what its day has when s starts on HOSE
// (09:00 opening auction, 14:30 closing auction, 14:45 post-close).
func pinnedAs(m MarketID, s Session) Session {
	switch {
	case m == HNX && s == OpeningAuction,
		m == UPCoM && (s == OpeningAuction || s == ClosingAuction || s == PostClose):
		return Continuous
	case m == Deriv && s == PostClose:
		return Closed
	}
	return s
}

func TestPinned(t *testing.T) {
	for _, s := range Sessions {
		c := Pinned(s)
		for _, m := range Markets {
			for _, at := range []time.Time{wed(3, 0, 0, 0), wed(10, 0, 0, 0), time.Date(2026, 11, 29, 10, 0, 0, 0, Location)} {
				if got, want := c.SessionAt(m, at), pinnedAs(m, s); got != want {
					t.Errorf("Pinned(%s) %s at %s = %s, want %s", s, m, at, got, want)
				}
			}
		}
		if got, ok := c.PinnedSession(); !ok || got != s || c.Mode() != s.String() {
			t.Errorf("Pinned(%s): PinnedSession = %s %v, Mode %s", s, got, ok, c.Mode())
		}
	}
	c := NewClock(DefaultSchedule(), func() time.Time { return wed(10, 0, 0, 0) })
	if c.Session(HOSE) != Continuous || c.Mode() != "auto" {
		t.Fatal("auto clock")
	}
	c.Pin(Closed)
	if c.Session(HOSE) != Closed {
		t.Error("Pin")
	}
	c.Unpin()
	if c.Session(HOSE) != Continuous {
		t.Error("Unpin")
	}
	// Pin and read concurrently (run with -race).
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 100 {
				if i%2 == 0 {
					c.Pin(Sessions[i%len(Sessions)])
				} else {
					_ = c.Session(HNX)
				}
			}
		}()
	}
	wg.Wait()
}

func TestClockFromMode(t *testing.T) {
	now := func() time.Time { return wed(10, 0, 0, 0) }
	for mode, want := range map[string]Session{
		"": Continuous, "auto": Continuous, "AUTO": Continuous,
		"closed": Closed, "continuous": Continuous, "pre_opening": PreOpening, "pre-opening": PreOpening,
		"Opening_Auction": OpeningAuction, "intermission": Intermission, "closing-auction": ClosingAuction,
		"post_close": PostClose,
	} {
		c, err := ClockFromMode(mode, DefaultSchedule(), now)
		if err != nil {
			t.Fatalf("%q: %v", mode, err)
		}
		if got := c.Session(HOSE); got != want {
			t.Errorf("mode %q: HOSE %s, want %s", mode, got, want)
		}
	}
	if _, err := ClockFromMode("lunch", DefaultSchedule(), now); err == nil || !strings.Contains(err.Error(), "OMS_MARKET_SESSION") {
		t.Errorf("bad mode: %v", err)
	}
	for _, s := range Sessions {
		if got, err := ParseSession(s.String()); err != nil || got != s {
			t.Errorf("ParseSession(%s) = %s, %v", s, got, err)
		}
	}
}

func TestScheduleValidate(t *testing.T) {
	if err := DefaultSchedule().Validate(); err != nil {
		t.Fatal(err)
	}
	s := DefaultSchedule()
	delete(s.Days, UPCoM)
	s.Days["XXX"] = DaySchedule{{0, Closed}}
	s.Days[HNX] = DaySchedule{{hm(9, 0), Continuous}, {hm(9, 0), Closed}, {25 * time.Hour, Closed}}
	s.Days[Deriv] = DaySchedule{}
	err := s.Validate()
	for _, w := range []string{"UPX: no trading day", `"XXX"`, "STX: period 1", "STX: period 2", "DVX: no periods"} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("Validate() = %v, want it to mention %q", err, w)
		}
	}
}
