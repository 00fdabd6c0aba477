package market

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// briefMatrix is the table of brief §1.4 pasted verbatim; the test parses
// it rather than trusting the transcription in matrix.go.
const briefMatrix = `
| session | action | ATO | LO | MTL | MAK | MOK | ATC | Cond |
|---|---|---|---|---|---|---|---|---|
| Pre-opening | new / cancel / modify | P | P | P | P | P | P | P |
| Opening auction | new | A | A | P | P | P | P | A |
| Opening auction | cancel, modify | x | x | P | P | P | P | A* |
| Continuous 1/2 | new | x | A | A | A | A | P | A |
| Continuous 1/2 | cancel, modify | x | A | A | x | x | P | A* |
| Intermission | new | x | P | P | P | P | P | P |
| Intermission | cancel, modify | x | P | P | P | P | P | P |
| Closing auction | new | x | A | x | x | x | A | A |
| Closing auction | cancel, modify | x | x | x | x | x | x | A* |
| Market closed | anything | x | x | x | x | x | x | x |
`

type cell struct {
	s Session
	a Action
	t OrderType
}

func parseBriefMatrix(t *testing.T) map[cell]Verdict {
	t.Helper()
	sessions := map[string][]Session{
		"Pre-opening":     {PreOpening},
		"Opening auction": {OpeningAuction},
		"Continuous 1/2":  {Continuous},
		"Intermission":    {Intermission},
		"Closing auction": {ClosingAuction},
		"Market closed":   {Closed},
	}
	actions := map[string][]Action{
		"new / cancel / modify": {New, Cancel, Replace},
		"new":                   {New},
		"cancel, modify":        {Cancel, Replace},
		"anything":              {New, Cancel, Replace},
	}
	verdicts := map[string]Verdict{"A": Accept, "P": Hold, "x": Refuse}
	lines := strings.Split(strings.TrimSpace(briefMatrix), "\n")
	var header []string
	out := map[cell]Verdict{}
	for i, line := range lines {
		cols := strings.Split(strings.Trim(line, "|"), "|")
		for j := range cols {
			cols[j] = strings.TrimSpace(cols[j])
		}
		switch i {
		case 0:
			header = cols
			continue
		case 1:
			continue
		}
		ss, ok1 := sessions[cols[0]]
		as, ok2 := actions[cols[1]]
		if !ok1 || !ok2 {
			t.Fatalf("brief matrix line %q: unknown session or action", line)
		}
		for j := 2; j < len(cols); j++ {
			typ := OrderType(header[j])
			if typ == "Cond" {
				continue // conditional orders cannot be sent through REST
			}
			v, ok := verdicts[cols[j]]
			if !ok {
				t.Fatalf("brief matrix line %q: cell %q", line, cols[j])
			}
			for _, s := range ss {
				for _, a := range as {
					out[cell{s, a, typ}] = v
				}
			}
		}
	}
	return out
}

func TestMatrixMatchesTheBrief(t *testing.T) {
	brief := parseBriefMatrix(t)
	if want := 6 * 3 * 6; len(brief) != want {
		t.Fatalf("parsed %d cells from the brief, want %d", len(brief), want)
	}
	for c, want := range brief {
		t.Run(fmt.Sprintf("%s/%s/%s", c.s, c.a, c.t), func(t *testing.T) {
			got := Matrix(c.s, c.t, c.a)
			if got.Verdict != want {
				t.Fatalf("Matrix = %s, brief says %s", got, want)
			}
			if (got.Reject != nil) != (want == Refuse) {
				t.Fatalf("Matrix = %s: a reject exactly when refused", got)
			}
			if got.Reject == nil {
				return
			}
			if wantCode := expectedSessionCode(c); got.Reject.Code != wantCode {
				t.Errorf("code %d, want %d (%s)", got.Reject.Code, wantCode, got.Reject.Message)
			}
			if !strings.Contains(got.Reject.Message, "not allowed in period") && got.Reject.Message != "market closed" {
				t.Errorf("message %q", got.Reject.Message)
			}
		})
	}
}

// expectedSessionCode is brief §4's code for a refused cell.
func expectedSessionCode(c cell) int {
	switch {
	case c.a == Cancel:
		return -133007
	case c.a == Replace:
		return -134007
	case c.s == Closed:
		return -131002
	}
	return map[OrderType]int{ATO: -132400, ATC: -132400, LO: -420211, MTL: -132005, MOK: -132006, MAK: -132007}[c.t]
}

func TestMatrixPostCloseTakesNothing(t *testing.T) {
	for _, typ := range OrderTypes {
		for _, a := range []Action{New, Cancel, Replace} {
			got := Matrix(PostClose, typ, a)
			if got.Verdict != Refuse || got.Reject.Code != expectedSessionCode(cell{PostClose, a, typ}) {
				t.Errorf("post_close %s %s = %s", a, typ, got)
			}
		}
	}
}

func TestMatrixUnsupportedType(t *testing.T) {
	for _, typ := range []OrderType{PLO, BUYIN, ""} {
		if got := Matrix(Continuous, typ, New); got.Verdict != Refuse || got.Reject.Code != CodeTypeUnsupported {
			t.Errorf("%q: %s", typ, got)
		}
	}
}

func TestPermitPerMarket(t *testing.T) {
	for _, c := range []struct {
		m    MarketID
		s    Session
		typ  OrderType
		a    Action
		want Verdict
		code int
	}{
		{HOSE, OpeningAuction, ATO, New, Accept, 0},
		{HOSE, Continuous, ATC, New, Hold, 0},
		{HOSE, Continuous, MTL, New, Accept, 0},
		{HNX, PreOpening, ATO, New, Refuse, CodeTypeNotOnMarket},
		{HNX, Continuous, ATO, New, Refuse, CodeTypeNotOnMarket},
		{HNX, ClosingAuction, ATC, New, Accept, 0},
		{HNX, Continuous, MAK, New, Accept, 0},
		{UPCoM, Continuous, LO, New, Accept, 0},
		{UPCoM, Continuous, MTL, New, Refuse, CodeMTLNotAllowed},
		{UPCoM, Continuous, MOK, New, Refuse, CodeMarketOrderNotAllowed},
		{UPCoM, Continuous, ATC, New, Refuse, CodeTypeNotOnMarket},
		{UPCoM, Closed, LO, New, Refuse, CodeMarketClosed},
		{Deriv, OpeningAuction, ATO, New, Accept, 0},
		{Deriv, ClosingAuction, MAK, New, Refuse, CodeMAKSession},
		{Deriv, Continuous, MAK, Cancel, Refuse, CodeCancelSession},
		{Deriv, OpeningAuction, LO, Replace, Refuse, CodeReplaceSession},
	} {
		got := Permit(c.m, c.s, c.typ, c.a)
		if got.Verdict != c.want || code(got.Reject) != c.code {
			t.Errorf("Permit(%s, %s, %s, %s) = %s, want %s code %d", c.m, c.s, c.typ, c.a, got, c.want, c.code)
		}
	}
}

func TestClockPermit(t *testing.T) {
	fpt := inst(t, "FPT")
	c := Pinned(ClosingAuction)
	if got := c.Permit(fpt, MTL, New); got.Verdict != Refuse || got.Reject.Code != CodeMTLSession {
		t.Errorf("pinned closing auction MTL: %s", got)
	}
	// Wednesday 2026-11-25 10:00 in Ho Chi Minh City: continuous.
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, Location)
	c = NewClock(DefaultSchedule(), func() time.Time { return at })
	if got := c.Permit(fpt, MTL, New); got.Verdict != Accept {
		t.Errorf("scheduled continuous MTL: %s", got)
	}
}
