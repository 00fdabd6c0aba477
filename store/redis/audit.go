package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
)

// ---- audit ----

// auditLua defines appendAudit for the scripts that change a back-office
// record, so the change and its audit entry are one script. Those scripts
// take KEYS[1] the audit hash and KEYS[2] the audit sequence; the entry is
// Go's JSON and Lua stores it as is (never re-encoded by cjson).
const auditLua = `
local function appendAudit(entry)
  local id = redis.call('INCR', KEYS[2])
  redis.call('HSET', KEYS[1], id, entry)
  return id
end
`

// auditKeys are the first keys of every script that appends to the log.
func (s *Store) auditKeys(more ...string) []string {
	return append([]string{s.k.audit(), s.k.auditSeq()}, more...)
}

// auditScanBatch is how many entries one HMGET of ListAudit reads.
const auditScanBatch = 256

// ListAudit walks the ids down from the sequence in batches, filtering in
// Go: O(entries scanned), which is every entry when the filter matches few.
// Entries are append-only, so reading the sequence first gives a consistent
// view: later entries are simply not seen.
func (s *Store) ListAudit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error) {
	limit, skip := f.Page()
	top, err := s.c.Get(ctx, s.k.auditSeq()).Int64()
	if err != nil && !errors.Is(err, goredis.Nil) {
		return nil, fail("list audit", err)
	}
	out := make([]store.AuditEntry, 0, min(int64(limit), top))
	fields := make([]string, 0, auditScanBatch)
	for hi := top; hi >= 1 && len(out) < limit; hi -= auditScanBatch {
		fields = fields[:0]
		for id := hi; id >= max(1, hi-auditScanBatch+1); id-- {
			fields = append(fields, strconv.FormatInt(id, 10))
		}
		vals, err := s.c.HMGet(ctx, s.k.audit(), fields...).Result()
		if err != nil {
			return nil, fail("list audit", err)
		}
		for i, v := range vals {
			str, ok := v.(string)
			if !ok {
				continue // a gap in the sequence
			}
			e, err := decodeAudit(hi-int64(i), str)
			if err != nil {
				return nil, err
			}
			if !f.Match(e) {
				continue
			}
			if skip > 0 {
				skip--
				continue
			}
			if out = append(out, e); len(out) == limit {
				break
			}
		}
	}
	return out, nil
}

// auditRecord is an entry as stored; the id is its hash field. Detail is a
// string so its bytes come back exactly as given.
type auditRecord struct {
	Actor      string `json:"actor"`
	Action     string `json:"action"`
	EntityType string `json:"entity_type"`
	EntityID   string `json:"entity_id"`
	RequestID  num    `json:"request_id"`
	Detail     string `json:"detail"`
	CreatedAt  num    `json:"created_at"`
}

func encodeAudit(e store.AuditEntry) (string, error) {
	b, err := json.Marshal(auditRecord{
		Actor:      e.Actor,
		Action:     e.Action,
		EntityType: e.EntityType,
		EntityID:   e.EntityID,
		RequestID:  num(e.RequestID),
		Detail:     string(e.Detail),
		CreatedAt:  toMS(e.CreatedAt),
	})
	return string(b), err
}

func decodeAudit(id int64, s string) (store.AuditEntry, error) {
	var r auditRecord
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return store.AuditEntry{}, fmt.Errorf("redis store: decode audit entry %d: %w", id, err)
	}
	e := store.AuditEntry{
		ID:         id,
		Actor:      r.Actor,
		Action:     r.Action,
		EntityType: r.EntityType,
		EntityID:   r.EntityID,
		RequestID:  int64(r.RequestID),
		CreatedAt:  fromMS(r.CreatedAt),
	}
	if r.Detail != "" {
		e.Detail = json.RawMessage(r.Detail)
	}
	return e, nil
}
