package mail

// AsyncEvents observes the outcome of every message given to an Async
// sender, for metrics. Methods must not block.
type AsyncEvents interface {
	// Delivered reports a message the next sender accepted.
	Delivered()
	// Failed reports a message that will never be delivered, with why:
	// FailDelivery (every attempt failed, or the failure was permanent),
	// FailQueueFull (Send found no room) or FailShutdown (dropped or
	// abandoned when Close gave up).
	Failed(reason string)
}

// Reasons a message is lost.
const (
	FailDelivery  = "delivery"
	FailQueueFull = "queue_full"
	FailShutdown  = "shutdown"
)

type noAsyncEvents struct{}

func (noAsyncEvents) Delivered()    {}
func (noAsyncEvents) Failed(string) {}

// Len is the number of messages waiting in the queue (not counting those
// being delivered).
func (a *Async) Len() int { return len(a.queue) }

// Cap is the size of the queue.
func (a *Async) Cap() int { return cap(a.queue) }
