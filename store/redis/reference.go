package redis

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
)

// ---- reference data and firm traders ----

// putIfAbsent: KEYS audit hash, audit sequence, record hash; ARGV audit entry,
// field, record. Stores the record and its audit entry unless the field
// exists, in which case the stored record comes back and nothing is written.
var putIfAbsent = goredis.NewScript(auditLua + `
local cur = redis.call('HGET', KEYS[3], ARGV[2])
if cur then return {'EXISTS', cur} end
redis.call('HSET', KEYS[3], ARGV[2], ARGV[3])
return {'OK', ARGV[3], appendAudit(ARGV[1])}
`)

// deleteIfPresent: KEYS audit hash, audit sequence, record hash; ARGV audit
// entry, field. Removes the field and writes the entry, or writes nothing.
var deleteIfPresent = goredis.NewScript(auditLua + `
if redis.call('HDEL', KEYS[3], ARGV[2]) == 0 then return {'NOTFOUND'} end
return {'OK', '', appendAudit(ARGV[1])}
`)

// put runs putIfAbsent and returns the stored record and, when this call
// wrote it, the audit entry with its id.
func (s *Store) put(ctx context.Context, op, hash, field string, record []byte, audit store.AuditEntry) (string, store.AuditEntry, error) {
	entry, err := encodeAudit(audit)
	if err != nil {
		return "", store.AuditEntry{}, err
	}
	res, err := putIfAbsent.Run(ctx, s.c, s.auditKeys(hash), entry, field, record).Slice()
	if err != nil {
		return "", store.AuditEntry{}, fail(op, err)
	}
	word, stored, id, err := auditedReply(op, res)
	if err != nil || word == "EXISTS" {
		return stored, store.AuditEntry{}, err
	}
	if word != "OK" {
		return "", store.AuditEntry{}, fail(op, fmt.Errorf("unexpected status %q", word))
	}
	written, err := decodeAudit(id, entry)
	return stored, written, err
}

// del runs deleteIfPresent and returns the audit entry written.
func (s *Store) del(ctx context.Context, op, hash, field string, audit store.AuditEntry) (store.AuditEntry, error) {
	entry, err := encodeAudit(audit)
	if err != nil {
		return store.AuditEntry{}, err
	}
	res, err := deleteIfPresent.Run(ctx, s.c, s.auditKeys(hash), entry, field).Slice()
	if err != nil {
		return store.AuditEntry{}, fail(op, err)
	}
	word, _, id, err := auditedReply(op, res)
	if err != nil {
		return store.AuditEntry{}, err
	}
	if word != "OK" {
		return store.AuditEntry{}, status(word)
	}
	return decodeAudit(id, entry)
}

// auditedReply reads {status[, record[, audit id]]}.
func auditedReply(op string, res []any) (word, record string, id int64, err error) {
	if len(res) == 0 {
		return "", "", 0, fail(op, errors.New("empty reply"))
	}
	word, _ = res[0].(string)
	if len(res) > 1 {
		record, _ = res[1].(string)
	}
	if len(res) > 2 {
		id, _ = res[2].(int64)
	}
	if word == "OK" && id <= 0 {
		return "", "", 0, fail(op, fmt.Errorf("unexpected reply %v", res))
	}
	return word, record, id, nil
}

func (s *Store) ReferenceValues(ctx context.Context, kind string) ([]store.ReferenceValue, error) {
	m, err := s.c.HGetAll(ctx, s.k.referenceValues(kind)).Result()
	if err != nil {
		return nil, fail("reference values", err)
	}
	out := make([]store.ReferenceValue, 0, len(m))
	for _, v := range m {
		r, err := decodeReferenceValue(v)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	// Byte order, as in the memory adapter.
	sort.Slice(out, func(a, b int) bool { return out[a].Value < out[b].Value })
	return out, nil
}

func (s *Store) HasReferenceValue(ctx context.Context, kind, value string) (bool, error) {
	ok, err := s.c.HExists(ctx, s.k.referenceValues(kind), value).Result()
	if err != nil {
		return false, fail("has reference value", err)
	}
	return ok, nil
}

func (s *Store) PutReferenceValue(ctx context.Context, v store.ReferenceValue, audit store.AuditEntry) (store.ReferenceValue, store.AuditEntry, error) {
	if err := store.ValidateReferenceKey(v.Kind, v.Value); err != nil {
		return store.ReferenceValue{}, store.AuditEntry{}, err
	}
	if err := audit.Validate(); err != nil {
		return store.ReferenceValue{}, store.AuditEntry{}, err
	}
	rec, err := json.Marshal(referenceRecord{Kind: v.Kind, Value: v.Value, CreatedBy: v.CreatedBy, CreatedAt: toMS(v.CreatedAt)})
	if err != nil {
		return store.ReferenceValue{}, store.AuditEntry{}, err
	}
	stored, written, err := s.put(ctx, "put reference value", s.k.referenceValues(v.Kind), v.Value, rec, audit)
	if err != nil {
		return store.ReferenceValue{}, store.AuditEntry{}, err
	}
	got, err := decodeReferenceValue(stored)
	return got, written, err
}

func (s *Store) DeleteReferenceValue(ctx context.Context, kind, value string, audit store.AuditEntry) (store.AuditEntry, error) {
	if err := store.ValidateReferenceKey(kind, value); err != nil {
		return store.AuditEntry{}, err
	}
	if err := audit.Validate(); err != nil {
		return store.AuditEntry{}, err
	}
	written, err := s.del(ctx, "delete reference value", s.k.referenceValues(kind), value, audit)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("reference %s %q: %w", kind, value, err)
	}
	return written, nil
}

// firmTraderField joins the pair; ValidateFirmTraderKey keeps NUL out of
// both ids, so the join is unambiguous.
func firmTraderField(firmID, traderID string) string { return firmID + "\x00" + traderID }

// FirmTraders reads every mapping and filters in Go: O(all mappings),
// which stay few (firms times their traders).
func (s *Store) FirmTraders(ctx context.Context, firmID string) ([]store.FirmTrader, error) {
	m, err := s.c.HGetAll(ctx, s.k.firmTraders()).Result()
	if err != nil {
		return nil, fail("firm traders", err)
	}
	out := make([]store.FirmTrader, 0)
	for field, v := range m {
		if firmID != "" && !strings.HasPrefix(field, firmID+"\x00") {
			continue
		}
		f, err := decodeFirmTrader(v)
		if err != nil {
			return nil, err
		}
		out = append(out, f)
	}
	store.SortFirmTraders(out)
	return out, nil
}

func (s *Store) PutFirmTrader(ctx context.Context, f store.FirmTrader, audit store.AuditEntry) (store.FirmTrader, store.AuditEntry, error) {
	if err := store.ValidateFirmTraderKey(f.FirmID, f.TraderID); err != nil {
		return store.FirmTrader{}, store.AuditEntry{}, err
	}
	if err := audit.Validate(); err != nil {
		return store.FirmTrader{}, store.AuditEntry{}, err
	}
	rec, err := json.Marshal(firmTraderRecord{FirmID: f.FirmID, TraderID: f.TraderID, CreatedBy: f.CreatedBy, CreatedAt: toMS(f.CreatedAt)})
	if err != nil {
		return store.FirmTrader{}, store.AuditEntry{}, err
	}
	stored, written, err := s.put(ctx, "put firm trader", s.k.firmTraders(), firmTraderField(f.FirmID, f.TraderID), rec, audit)
	if err != nil {
		return store.FirmTrader{}, store.AuditEntry{}, err
	}
	got, err := decodeFirmTrader(stored)
	return got, written, err
}

func (s *Store) DeleteFirmTrader(ctx context.Context, firmID, traderID string, audit store.AuditEntry) (store.AuditEntry, error) {
	if err := store.ValidateFirmTraderKey(firmID, traderID); err != nil {
		return store.AuditEntry{}, err
	}
	if err := audit.Validate(); err != nil {
		return store.AuditEntry{}, err
	}
	written, err := s.del(ctx, "delete firm trader", s.k.firmTraders(), firmTraderField(firmID, traderID), audit)
	if err != nil {
		return store.AuditEntry{}, fmt.Errorf("firm trader %q %q: %w", firmID, traderID, err)
	}
	return written, nil
}

type referenceRecord struct {
	Kind      string `json:"kind"`
	Value     string `json:"value"`
	CreatedBy string `json:"created_by"`
	CreatedAt num    `json:"created_at"`
}

func decodeReferenceValue(s string) (store.ReferenceValue, error) {
	var r referenceRecord
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return store.ReferenceValue{}, fmt.Errorf("redis store: decode reference value: %w", err)
	}
	return store.ReferenceValue{Kind: r.Kind, Value: r.Value, CreatedBy: r.CreatedBy, CreatedAt: fromMS(r.CreatedAt)}, nil
}

type firmTraderRecord struct {
	FirmID    string `json:"firm_id"`
	TraderID  string `json:"trader_id"`
	CreatedBy string `json:"created_by"`
	CreatedAt num    `json:"created_at"`
}

func decodeFirmTrader(s string) (store.FirmTrader, error) {
	var r firmTraderRecord
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		return store.FirmTrader{}, fmt.Errorf("redis store: decode firm trader: %w", err)
	}
	return store.FirmTrader{FirmID: r.FirmID, TraderID: r.TraderID, CreatedBy: r.CreatedBy, CreatedAt: fromMS(r.CreatedAt)}, nil
}
