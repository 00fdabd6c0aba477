package venue

import (
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
)

// Engine routes orders to one Book per symbol. Books share the engine's
// ExecID sequence, so ExecIDs are unique across the engine and increase in
// the order one book emits them. The engine is safe for concurrent use:
// the symbol map has a read-write lock and each book its own mutex, so
// different symbols match in parallel and one symbol's calls are
// serialised.
type Engine struct {
	mu      sync.RWMutex
	books   map[string]*Book
	execSeq atomic.Uint64
}

// NewEngine makes an engine with no books.
func NewEngine() *Engine { return &Engine{books: make(map[string]*Book)} }

// AddBook creates the book of symbol, Closed, with reference price ref.
func (e *Engine) AddBook(symbol string, ref Price) (*Book, error) {
	if symbol == "" {
		return nil, fmt.Errorf("venue: empty symbol")
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.books[symbol]; ok {
		return nil, fmt.Errorf("venue: book %s exists", symbol)
	}
	b := newBook(symbol, ref, &e.execSeq)
	e.books[symbol] = b
	return b, nil
}

// Book returns the book of symbol.
func (e *Engine) Book(symbol string) (*Book, bool) {
	e.mu.RLock()
	b, ok := e.books[symbol]
	e.mu.RUnlock()
	return b, ok
}

// Symbols lists the books' symbols, sorted.
func (e *Engine) Symbols() []string {
	e.mu.RLock()
	out := make([]string, 0, len(e.books))
	for s := range e.books {
		out = append(out, s)
	}
	e.mu.RUnlock()
	slices.Sort(out)
	return out
}

// SetPhase sets the phase of one book (see Book.SetPhase).
func (e *Engine) SetPhase(symbol string, p Phase) (Report, error) {
	b, ok := e.Book(symbol)
	if !ok {
		return Report{}, fmt.Errorf("venue: no book for %s", symbol)
	}
	return b.SetPhase(p), nil
}

// SetPhaseAll sets the phase of every book, in symbol order, and returns
// the reports appended in that order.
func (e *Engine) SetPhaseAll(p Phase) Report {
	var r Report
	for _, s := range e.Symbols() {
		b, _ := e.Book(s)
		br := b.SetPhase(p)
		r.Events = append(r.Events, br.Events...)
		r.Executions = append(r.Executions, br.Executions...)
	}
	return r
}

// Submit enters o in the book of o.Symbol; an unknown symbol is rejected
// with ReasonUnknownSymbol.
func (e *Engine) Submit(o Order) Report {
	var r Report
	e.SubmitTo(o, &r)
	return r
}

// SubmitTo is Submit appending to r.
func (e *Engine) SubmitTo(o Order, r *Report) {
	b, ok := e.Book(o.Symbol)
	if !ok {
		reject(r, OpNew, ReasonUnknownSymbol, o)
		return
	}
	b.SubmitTo(o, r)
}

// Cancel cancels order id in the book of symbol.
func (e *Engine) Cancel(symbol, id string) Report {
	var r Report
	b, ok := e.Book(symbol)
	if !ok {
		reject(&r, OpCancel, ReasonUnknownSymbol, Order{ID: id, Symbol: symbol})
		return r
	}
	b.CancelTo(id, &r)
	return r
}

// Replace replaces order id in the book of symbol (see Book.Replace).
func (e *Engine) Replace(symbol, id string, newPrice Price, newQty int64) Report {
	var r Report
	b, ok := e.Book(symbol)
	if !ok {
		reject(&r, OpReplace, ReasonUnknownSymbol, Order{ID: id, Symbol: symbol})
		return r
	}
	b.ReplaceTo(id, newPrice, newQty, &r)
	return r
}

// Uncross runs the call auction of symbol's book (see Book.Uncross).
func (e *Engine) Uncross(symbol string) (Report, error) {
	b, ok := e.Book(symbol)
	if !ok {
		return Report{}, fmt.Errorf("venue: no book for %s", symbol)
	}
	return b.Uncross(), nil
}

// SeedExecIDs makes every ExecID the engine issues from now on greater
// than after: an engine that replaces a lost one continues the ids its
// consumers have seen (they apply an execution once by its ExecID).
func (e *Engine) SeedExecIDs(after uint64) {
	for {
		cur := e.execSeq.Load()
		if cur >= after || e.execSeq.CompareAndSwap(cur, after) {
			return
		}
	}
}
