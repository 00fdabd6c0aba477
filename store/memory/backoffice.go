package memory

import (
	"context"
	"fmt"
	"strconv"

	"github.com/vero-oms/omsd/store"
	"github.com/vero-oms/omsd/store/backoffice"
)

// ---- back office: the shared records (store/backoffice) on plain maps ----

// boBackend keeps the back-office hashes in s.bo. Commit holds the write
// lock for its checks and writes, so a commit is atomic with respect to
// every other call.
type boBackend struct{ s *Store }

func (b boBackend) Get(ctx context.Context, c backoffice.Cell) (backoffice.Value, error) {
	if err := b.s.beginRead(ctx); err != nil {
		return backoffice.Value{}, err
	}
	defer b.s.mu.RUnlock()
	v, ok := b.s.bo[c.Key][c.Field]
	return backoffice.Value{S: v, OK: ok}, nil
}

func (b boBackend) GetMany(ctx context.Context, key string, fields []string) ([]backoffice.Value, error) {
	if err := b.s.beginRead(ctx); err != nil {
		return nil, err
	}
	defer b.s.mu.RUnlock()
	out := make([]backoffice.Value, len(fields))
	h := b.s.bo[key]
	for i, f := range fields {
		v, ok := h[f]
		out[i] = backoffice.Value{S: v, OK: ok}
	}
	return out, nil
}

func (b boBackend) GetAllOf(ctx context.Context, keys []string) ([]map[string]string, error) {
	if err := b.s.beginRead(ctx); err != nil {
		return nil, err
	}
	defer b.s.mu.RUnlock()
	out := make([]map[string]string, len(keys))
	for i, k := range keys {
		m := make(map[string]string, len(b.s.bo[k]))
		for f, v := range b.s.bo[k] {
			m[f] = v
		}
		out[i] = m
	}
	return out, nil
}

func (b boBackend) GetCells(ctx context.Context, cells []backoffice.Cell) ([]backoffice.Value, error) {
	if err := b.s.beginRead(ctx); err != nil {
		return nil, err
	}
	defer b.s.mu.RUnlock()
	out := make([]backoffice.Value, len(cells))
	for i, c := range cells {
		v, ok := b.s.bo[c.Key][c.Field]
		out[i] = backoffice.Value{S: v, OK: ok}
	}
	return out, nil
}

func (b boBackend) NextN(ctx context.Context, seq string, n int64) (int64, error) {
	if err := b.s.begin(ctx); err != nil {
		return 0, err
	}
	defer b.s.mu.Unlock()
	b.s.boSeq[seq] += n
	return b.s.boSeq[seq], nil
}

func (b boBackend) GetAll(ctx context.Context, key string) (map[string]string, error) {
	if err := b.s.beginRead(ctx); err != nil {
		return nil, err
	}
	defer b.s.mu.RUnlock()
	out := make(map[string]string, len(b.s.bo[key]))
	for f, v := range b.s.bo[key] {
		out[f] = v
	}
	return out, nil
}

func (b boBackend) Next(ctx context.Context, seq string) (int64, error) {
	if err := b.s.begin(ctx); err != nil {
		return 0, err
	}
	defer b.s.mu.Unlock()
	b.s.boSeq[seq]++
	return b.s.boSeq[seq], nil
}

func (b boBackend) Top(ctx context.Context, seq string) (int64, error) {
	if err := b.s.beginRead(ctx); err != nil {
		return 0, err
	}
	defer b.s.mu.RUnlock()
	return b.s.boSeq[seq], nil
}

func (b boBackend) HasReferenceValue(ctx context.Context, kind, value string) (bool, error) {
	return b.s.HasReferenceValue(ctx, kind, value)
}

func (b boBackend) Commit(ctx context.Context, c backoffice.Commit) (backoffice.Committed, error) {
	if err := b.s.begin(ctx); err != nil {
		return backoffice.Committed{}, err
	}
	defer b.s.mu.Unlock()
	for _, ch := range c.Checks {
		v, ok := b.s.bo[ch.Key][ch.Field]
		if ok != ch.Want.OK || v != ch.Want.S {
			return backoffice.Committed{}, fmt.Errorf("memory store: %s %q: %w", ch.Key, ch.Field, backoffice.ErrStale)
		}
	}
	for _, w := range c.Writes {
		h := b.s.bo[w.Key]
		if w.Delete {
			delete(h, w.Field)
			if len(h) == 0 {
				delete(b.s.bo, w.Key)
			}
			continue
		}
		if h == nil {
			h = map[string]string{}
			b.s.bo[w.Key] = h
		}
		h[w.Field] = w.Value
	}
	for _, e := range c.Outbox {
		b.s.boSeq[backoffice.SeqOutbox]++
		h := b.s.bo[backoffice.KeyOutbox]
		if h == nil {
			h = map[string]string{}
			b.s.bo[backoffice.KeyOutbox] = h
		}
		h[strconv.FormatInt(b.s.boSeq[backoffice.SeqOutbox], 10)] = e
	}
	out := backoffice.Committed{Audit: make([]store.AuditEntry, len(c.Audit))}
	if len(c.Outbox) > 0 {
		out.LastOutbox = b.s.boSeq[backoffice.SeqOutbox]
	}
	for i, e := range c.Audit {
		out.Audit[i] = b.s.appendAudit(e)
	}
	return out, nil
}
