package market

import (
	"strings"
	"testing"
	"time"
)

// Trading days skip weekends and holidays: the dev calendar closes 30
// April and 1 May 2026 (Thursday, Friday), so T+2 of Wednesday 29 April
// is Tuesday 5 May.
func TestAddTradingDays(t *testing.T) {
	s := DefaultSchedule()
	s.AddHolidays(DevHolidays())
	for _, c := range []struct {
		from string
		n    int
		want string
	}{
		{"2026-04-29", 2, "2026-05-05"}, // over two holidays and a weekend
		{"2026-04-29", 1, "2026-05-04"},
		{"2026-04-29", 0, "2026-04-29"},
		{"2026-12-04", 2, "2026-12-08"}, // a Friday: Monday, Tuesday
		{"2026-12-05", 1, "2026-12-07"}, // from a Saturday
		{"2026-02-13", 1, "2026-02-23"}, // Tet
		{"2026-12-31", 1, "2027-01-04"}, // New Year and a weekend
	} {
		if got, err := s.AddTradingDays(c.from, c.n); err != nil || got != c.want {
			t.Errorf("AddTradingDays(%s, %d) = %s, %v; want %s", c.from, c.n, got, err, c.want)
		}
	}
	for d, want := range map[string]bool{"2026-04-30": false, "2026-05-02": false, "2026-05-04": true} {
		if got, err := s.IsTradingDay(d); err != nil || got != want {
			t.Errorf("IsTradingDay(%s) = %v, %v", d, got, err)
		}
	}
	// A holiday closes every market all day.
	if got := s.SessionAt(HOSE, time.Date(2026, 4, 30, 10, 0, 0, 0, Location)); got != Closed {
		t.Errorf("HOSE on 30 April 2026 at 10:00: %s", got)
	}
	if _, err := s.AddTradingDays("2026/04/29", 1); err == nil {
		t.Error("a malformed date was accepted")
	}
	// AddHolidays copies: the default schedule is not changed.
	if DefaultSchedule().Holidays["2026-04-30"] {
		t.Error("AddHolidays changed another schedule")
	}
}

func TestParseHolidays(t *testing.T) {
	h, err := ParseHolidays(devHolidays)
	if err != nil || !h["2026-09-02"] || len(h) != 21 {
		t.Fatalf("the dev calendar: %d dates, %v", len(h), err)
	}
	for _, c := range []struct{ file, want string }{
		{`{"holidays": ["2026-13-01"]}`, "holidays[0]"},
		{`{"holidays": ["2026-01-01", "2026-01-01"]}`, "listed twice"},
		{`{"days": []}`, "days: unknown field"},
		{`{}`, "missing"},
		{`[`, "holidays"},
	} {
		if _, err := ParseHolidays([]byte(c.file)); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error containing %q", c.file, err, c.want)
		}
	}
}

// NextTradingDay skips weekends and holidays and keeps the time of day;
// the sessions and the settlement date follow the moved date.
func TestNextTradingDay(t *testing.T) {
	sched := DefaultSchedule()
	sched.AddHolidays(map[string]bool{"2027-01-08": true})
	thursday := time.Date(2027, 1, 7, 10, 0, 0, 0, Location)
	c := NewClock(sched, func() time.Time { return thursday })
	if got, err := c.SettlementDate(Instrument{SettlementDays: 2}); err != nil || got != "2027-01-12" {
		t.Fatalf("T+2 of Thursday 7 January (Friday a holiday): %s %v", got, err)
	}
	if got, _ := c.SettlementDate(Instrument{}); got != "" {
		t.Fatalf("no settlement cycle: %q", got)
	}
	if to := c.NextTradingDay(); to != "2027-01-11" || c.TradingDate() != "2027-01-11" || c.DaysAhead() != 4 {
		t.Fatalf("next trading day after Thursday 7: %s (date %s, %d days ahead)", to, c.TradingDate(), c.DaysAhead())
	}
	if c.Now().Hour() != 10 || c.Session(HOSE) != Continuous {
		t.Fatalf("Monday 10:00: %s %s", c.Now(), c.Session(HOSE))
	}
	if to := c.NextTradingDay(); to != "2027-01-12" {
		t.Fatalf("then: %s", to)
	}
}
