package market

import "fmt"

// Verdict is the acceptance matrix's answer for one request.
type Verdict int

// Verdicts: Refuse is the matrix's x, Accept its A (sent or activated at
// once), Hold its P (accepted and held until the session allows it).
const (
	Refuse Verdict = iota
	Accept
	Hold
)

func (v Verdict) String() string {
	switch v {
	case Accept:
		return "A"
	case Hold:
		return "P"
	}
	return "x"
}

// Decision is a verdict and, for Refuse, the reject to report.
type Decision struct {
	Verdict Verdict
	Reject  *Reject
}

// matrix transcribes brief §1.4: per session, the row for new orders and
// the row for cancel/modify, one character per type in the column order
// ATO LO MTL MAK MOK ATC. The conditional-order column is left out: the
// REST contract cannot carry a conditional order. PostClose (put-through
// only / PLO window) takes no ordinary order, like Closed, but keeps the
// per-type codes; Closed answers with "market closed".
var matrix = map[Session][2]string{
	//               new      cancel/modify
	PreOpening:     {"PPPPPP", "PPPPPP"},
	OpeningAuction: {"AAPPPP", "xxPPPP"},
	Continuous:     {"xAAAAP", "xAAxxP"},
	Intermission:   {"xPPPPP", "xPPPPP"},
	ClosingAuction: {"xAxxxA", "xxxxxx"},
	PostClose:      {"xxxxxx", "xxxxxx"},
	Closed:         {"xxxxxx", "xxxxxx"},
}

func column(t OrderType) int {
	for i, c := range OrderTypes {
		if c == t {
			return i
		}
	}
	return -1
}

// Matrix is the brief's acceptance matrix alone: for session s, a request
// doing a to an order of type t. Refusals carry §4's codes: a new order in
// a closed market -131002; a new order whose type the session refuses
// -132400 (ATO, ATC), -420211 (LO), -132005 (MTL), -132006 (MOK), -132007
// (MAK); a cancel -133007 and a replace -134007 in any session that refuses
// them. An unsupported type is refused with -100003.
func Matrix(s Session, t OrderType, a Action) Decision {
	col := column(t)
	if col < 0 {
		return Decision{Refuse, reject(CodeTypeUnsupported, "order type %s is not supported by omsd", t)}
	}
	rows, ok := matrix[s]
	if !ok {
		rows = matrix[Closed]
	}
	row := rows[0]
	if a != New {
		row = rows[1]
	}
	switch row[col] {
	case 'A':
		return Decision{Verdict: Accept}
	case 'P':
		return Decision{Verdict: Hold}
	}
	return Decision{Refuse, sessionReject(s, t, a)}
}

func sessionReject(s Session, t OrderType, a Action) *Reject {
	when := "during " + s.String()
	if s == Closed {
		when = "market closed"
	}
	switch a {
	case Cancel:
		return reject(CodeCancelSession, "cancel of a %s order not allowed in period: %s", t, when)
	case Replace:
		return reject(CodeReplaceSession, "modify of a %s order not allowed in period: %s", t, when)
	}
	if s == Closed {
		return reject(CodeMarketClosed, "market closed")
	}
	code := CodeNotInPeriod
	switch t {
	case LO:
		code = CodeLOSession
	case MTL:
		code = CodeMTLSession
	case MOK:
		code = CodeMOKSession
	case MAK:
		code = CodeMAKSession
	}
	return reject(code, "%s order not allowed in period: %s", t, when)
}

// Permit is the full session decision for an instrument: the type must be
// one the instrument trades (CheckType), then Matrix applies.
func (in Instrument) Permit(s Session, t OrderType, a Action) Decision {
	if r := in.CheckType(t); r != nil {
		return Decision{Refuse, r}
	}
	return Matrix(s, t, a)
}

// Permit is the decision for market m with its default order types (an
// instrument may narrow them; use Instrument.Permit when you have one).
func Permit(m MarketID, s Session, t OrderType, a Action) Decision {
	return Instrument{Ticker: m.Name(), Market: m, OrderTypes: defaultOrderTypes(m)}.Permit(s, t, a)
}

// Permit applies the instrument's market's session now.
func (c *Clock) Permit(in Instrument, t OrderType, a Action) Decision {
	return in.Permit(c.Session(in.Market), t, a)
}

func (d Decision) String() string {
	if d.Reject != nil {
		return fmt.Sprintf("%s (%s)", d.Verdict, d.Reject)
	}
	return d.Verdict.String()
}
