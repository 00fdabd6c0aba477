package market

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"time"
)

// The trading calendar: a date is a trading day unless it is a Saturday,
// a Sunday or a holiday (Schedule.Holidays: the instruments file's list
// and OMS_HOLIDAYS_FILE's). Settlement (T+2) and the reference price's
// roll count trading days with it.

//go:embed holidays.dev.json
var devHolidays []byte

// holidaysFile is the form of OMS_HOLIDAYS_FILE: {"holidays":
// ["2026-01-01", …]}; "_comment" is allowed for the file's own notes.
type holidaysFile struct {
	Comment  string   `json:"_comment"`
	Holidays []string `json:"holidays"`
}

// ParseHolidays reads a holidays file: every date YYYY-MM-DD, each once.
func ParseHolidays(b []byte) (map[string]bool, error) {
	var f holidaysFile
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("holidays: %w", jsonFieldError(err))
	}
	if f.Holidays == nil {
		return nil, errors.New("holidays: the list is missing")
	}
	out := make(map[string]bool, len(f.Holidays))
	for i, d := range f.Holidays {
		if _, err := time.Parse(time.DateOnly, d); err != nil {
			return nil, fmt.Errorf("holidays[%d]: %q is not a date (YYYY-MM-DD)", i, d)
		}
		if out[d] {
			return nil, fmt.Errorf("holidays[%d]: %s is listed twice", i, d)
		}
		out[d] = true
	}
	return out, nil
}

// LoadHolidays reads OMS_HOLIDAYS_FILE.
func LoadHolidays(path string) (map[string]bool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	h, err := ParseHolidays(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// DevHolidays is the embedded dev calendar (holidays.dev.json).
func DevHolidays() map[string]bool {
	h, err := ParseHolidays(devHolidays)
	if err != nil {
		panic(err) // the embedded file is checked by its test
	}
	return h
}

// AddHolidays adds dates to the schedule's holidays (a copy: schedules
// are shared by value).
func (s *Schedule) AddHolidays(h map[string]bool) {
	merged := maps.Clone(s.Holidays)
	if merged == nil {
		merged = map[string]bool{}
	}
	maps.Copy(merged, h)
	s.Holidays = merged
}

// IsTradingDay reports whether date (YYYY-MM-DD) is a trading day.
func (s Schedule) IsTradingDay(date string) (bool, error) {
	t, err := time.ParseInLocation(time.DateOnly, date, Location)
	if err != nil {
		return false, fmt.Errorf("date %q: want YYYY-MM-DD", date)
	}
	return s.tradingDay(t), nil
}

// AddTradingDays is the n-th trading day after date (n ≥ 0; n = 0 is
// date itself, trading day or not): T+2 of a Friday is the Tuesday, or
// later past holidays.
func (s Schedule) AddTradingDays(date string, n int) (string, error) {
	t, err := time.ParseInLocation(time.DateOnly, date, Location)
	if err != nil {
		return "", fmt.Errorf("date %q: want YYYY-MM-DD", date)
	}
	for guard := 0; n > 0; guard++ {
		if guard > 366*10 {
			return "", fmt.Errorf("no %d trading days within ten years of %s", n, date)
		}
		t = t.AddDate(0, 0, 1)
		if s.tradingDay(t) {
			n--
		}
	}
	return t.Format(time.DateOnly), nil
}
