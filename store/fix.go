package store

import "context"

// FIX sessions (issue 17): what one FIX session keeps across connections
// and omsd restarts, so a relogon continues the sequence and a
// ResendRequest after a restart is answered.
//
//   - The sequence state (FIXSeq): the numbers expected in and sent next,
//     the session day they belong to, and how far the report queue has
//     been delivered. One connection at a time owns it; every change is a
//     compare-and-set against the state that connection last read, so two
//     connections of one session (two instances) cannot both advance it.
//   - The journal: every application message sent, by its sequence
//     number, kept until the session's numbers are reset.
//   - The report queue: ExecutionReports waiting to be sent, appended by
//     the outbox publisher (any instance) in outbox order, each at most
//     once (entries at or below the highest queued outbox ID are skipped),
//     and removed once a connection has journaled them as sent.
//
// A session is named by its CompIDs ("DEMOCLIENT>OMSD"); names are
// opaque to the store.

// FIXSeq is a session's sequence state.
type FIXSeq struct {
	Day       string // YYYY-MM-DD, Asia/Ho_Chi_Minh: the session day the numbers belong to ("" never logged on)
	NextIn    int    // the MsgSeqNum expected from the client next (0 = 1)
	NextOut   int    // the MsgSeqNum omsd sends next (0 = 1)
	Delivered int64  // queue position up to which reports are sent
}

// FIXSent is one message as sent, under its sequence number.
type FIXSent struct {
	Seq int
	Raw []byte // the whole message as written to the wire
}

// FIXReport is one report to queue for a session.
type FIXReport struct {
	OutboxID int64  // the outbox entry it reports (IDs increase in commit order)
	Body     []byte // what to send, without header and trailer (encoding is the caller's)
}

// FIXQueued is a queued report and its queue position (1, 2, …: positions
// never repeat for a session).
type FIXQueued struct {
	Pos int64
	FIXReport
}

// FIXSessions keeps FIX session state. Every adapter implements it
// (storetest "FIXSessions").
type FIXSessions interface {
	// FIXSeq returns the session's state: the zero FIXSeq, no error, for a
	// session never saved.
	FIXSeq(ctx context.Context, session string) (FIXSeq, error)
	// SaveFIXSeq stores next and journals sent in one atomic step, if the
	// stored state still equals old (else ErrConflict, nothing written).
	// Queued reports up to next.Delivered are removed. When next.Day
	// differs from old.Day, the journal of the old day is dropped first.
	SaveFIXSeq(ctx context.Context, session string, old, next FIXSeq, sent []FIXSent) error
	// FIXSent returns the message journaled under seq for the session's
	// current day.
	FIXSent(ctx context.Context, session string, seq int) ([]byte, bool, error)
	// QueueFIXReports appends, in order, the reports whose OutboxID is
	// above the highest OutboxID queued for the session before the call;
	// the others are skipped (a retried or concurrent publisher). One
	// outbox entry may make several reports (a fill and a cancel): they
	// share its OutboxID and come in one call. Atomic.
	QueueFIXReports(ctx context.Context, session string, reports []FIXReport) error
	// FIXReports returns up to limit queued reports at positions above
	// after, in position order.
	FIXReports(ctx context.Context, session string, after int64, limit int) ([]FIXQueued, error)
}
