package fix

import "fmt"

// SessionRejectReason (373) values of FIX 4.2.
const (
	InvalidTagNumber    = 0
	RequiredTagMissing  = 1
	TagNotDefinedForMsg = 2
	UndefinedTag        = 3
	TagWithoutValue     = 4
	ValueIncorrect      = 5
	IncorrectDataFormat = 6
	DecryptionProblem   = 7
	SignatureProblem    = 8
	CompIDProblem       = 9
	SendingTimeAccuracy = 10
	InvalidMsgType      = 11
)

// RejectError is a framed message the session layer refuses with a
// Reject (35=3): SessionRejectReason (373) Reason, RefTagID (371) RefTag
// when one tag is at fault (0: none), Text (58).
type RejectError struct {
	Reason int
	RefTag int
	Text   string
}

func (e *RejectError) Error() string {
	return fmt.Sprintf("fix: session reject %d: %s", e.Reason, e.Text)
}
