package redis

// The Redis store.LatencyStore (GET /api/v1/util/latency/raw, /stages,
// /metrics). It answers exactly like memory.Latency (the shared suite in
// store/storetest RunLatency runs on both), from Redis, so that every omsd
// process sharing a Redis sees the same diagnostics and they survive a
// restart.
//
// # Key layout
//
// Every key shares the hash tag {lat}, so each script runs on one Cluster
// slot (keys built from record content are derived from the prefix, as in
// scripts.go):
//
//	<p>{lat}:seq                  last record id (INCRBY), no TTL
//	<p>{lat}:r:<id>               the record: JSON header, "\n", the body as received; TTL its retention left + 1 min
//	<p>{lat}:complete             lex-ordered zset of every record by complete time (members below)
//	<p>{lat}:create               the same records by create time
//	<p>{lat}:complete:<type>      the records of one message type by complete time
//	<p>{lat}:create:<type>        … and by create time
//	<p>{lat}:req:<request id>     -> id of the newest record of that request; TTL as the record's
//
// The index keys get a TTL of the retention + 1 min on every write, so the
// indexes of a deployment that stops writing disappear with its records.
// The minute of grace (latTTLGrace) lets the trims, which follow the
// store's clock exactly, always act before Redis expires anything.
//
// An index member is fixed-width hex followed by the message type:
//
//	[0:16) sort time  [16:32) id  [32:48) the other time  [48:64) latency  [64:66) stage mask  [66:) type
//
// Times and latencies are int64 ns with the sign bit flipped, so the
// byte order of the hex is their numeric order. All scores are 0 and the
// indexes are read by lex range: windows are exact to the nanosecond
// (a float score would round epoch ns to 256 ns), ties order by id
// (arrival, as memory.Latency orders them), and a member carries all the
// metrics and the stage count need, so /metrics reads no record and
// /stages reads only the records on its page. The trim finds a record's
// other members from one member (swap the two times; the type suffix).
//
// # Writes
//
// Put is on the trading hot path (under the instrument's lock), so it only
// queues the record (a bounded channel, LatencyOptions.QueueSize): one
// writer goroutine takes what is queued, up to MaxBatch records, and
// writes them with one script call (one round trip): the records, their
// index members and request ids, then the trim. A full queue drops the
// record (Put answers ErrLatencyQueueFull, the Recorder counts it as
// failed) rather than slow an order down; a failed write drops its batch
// (Counters, OnError). Every query first flushes what this process queued
// before it (read-your-writes within one process; another process's
// records show once its writer wrote them). Close flushes and stops the
// writer; close it before the client.
//
// # Retention and bound
//
// As memory.Latency: a record is kept while its complete time is within
// Retention of the clock (LatencyOptions.Clock, shared with the Recorder)
// and at most MaxRecords records are kept, the oldest by complete time
// going first (Memory evicts the oldest arrival: the same records, since
// records arrive in completion order). Every write trims (at most
// 1 000 records a call, more than a batch adds, so it keeps up) and every
// query trims completely first, deleting the records and every index
// member of each; Redis also expires the record keys by their TTL. A
// trimmed request id key is left to expire: it points at a missing record,
// which reads as unknown.

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/bits"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/vero-oms/omsd/store"
)

// Errors of LatencyStore.Put.
var (
	// ErrLatencyQueueFull: the write queue is full; the record is dropped.
	ErrLatencyQueueFull = errors.New("redis latency store: write queue full, record dropped")
	// ErrLatencyClosed: the store is closed.
	ErrLatencyClosed = errors.New("redis latency store: closed")
)

// LatencyOptions tune a LatencyStore; zero fields take the defaults.
type LatencyOptions struct {
	// Clock drives retention (default latency.NewMonotonicClock()); share
	// the Recorder's.
	Clock store.LatencyClock
	// Retention is how long a record is kept after it completed (default
	// latency.DefaultRetention).
	Retention time.Duration
	// MaxRecords bounds the records kept (default latency.DefaultMaxRecords).
	MaxRecords int
	// QueueSize bounds the records waiting for the writer (default 4096).
	QueueSize int
	// MaxBatch bounds the records of one write (default 256, at most
	// 1 000: the script passes a batch's members to ZADD at once).
	MaxBatch int
	// WriteTimeout bounds one write (default 5 s).
	WriteTimeout time.Duration
	// Linger is how long the writer waits for more records before it
	// writes a batch that is not full (default 5 ms; negative: not at
	// all). A query never waits for it: it flushes what is queued.
	Linger time.Duration
	// OnError, when set, hears every failed write (from the writer
	// goroutine) with the number of records it dropped.
	OnError func(err error, dropped int)
}

// Defaults of LatencyOptions.
const (
	DefaultLatencyQueueSize    = 4096
	DefaultLatencyMaxBatch     = 256
	DefaultLatencyWriteTimeout = 5 * time.Second
	DefaultLatencyLinger       = 5 * time.Millisecond

	maxLatencyBatch = 1000
)

// LatencyCounters count the records Put handed to a LatencyStore.
type LatencyCounters struct {
	Written int64 // records written to Redis
	Dropped int64 // records refused because the queue was full
	Failed  int64 // records of writes that failed
}

// LatencyStore is the latency.Store on Redis. Create it with
// NewLatencyStore or Store.LatencyStore; Close it before the client.
type LatencyStore struct {
	c         goredis.UniversalClient
	p         string // <prefix>{lat}:
	clock     store.LatencyClock
	retention int64
	max       int
	maxBatch  int
	timeout   time.Duration
	linger    time.Duration
	onError   func(error, int)

	q      chan latItem
	quit   chan struct{}
	done   chan struct{}
	closed atomic.Bool
	once   sync.Once

	written, dropped, failed atomic.Int64
}

// latItem is a queued record, or a flush marker (closed once everything
// queued before it is written).
type latItem struct {
	rec  store.LatencyRecord
	mark chan struct{}
}

var _ store.LatencyStore = (*LatencyStore)(nil)

// NewLatencyStore returns a LatencyStore on client under prefix (the
// prefix of the other keys, e.g. DefaultPrefix) and starts its writer. It
// panics if prefix contains a brace, which would break the hash tag.
func NewLatencyStore(client goredis.UniversalClient, prefix string, o LatencyOptions) *LatencyStore {
	if err := checkPrefix(prefix); err != nil {
		panic(err)
	}
	l := &LatencyStore{
		c: client, p: prefix + "{lat}:", clock: o.Clock, retention: int64(o.Retention), max: o.MaxRecords,
		maxBatch: o.MaxBatch, timeout: o.WriteTimeout, linger: o.Linger, onError: o.OnError,
		quit: make(chan struct{}), done: make(chan struct{}),
	}
	if l.clock == nil {
		l.clock = store.NewMonotonicClock()
	}
	if l.retention <= 0 {
		l.retention = int64(store.LatencyDefaultRetention)
	}
	if l.max <= 0 {
		l.max = store.LatencyDefaultMaxRecords
	}
	if l.maxBatch <= 0 {
		l.maxBatch = DefaultLatencyMaxBatch
	}
	l.maxBatch = min(l.maxBatch, maxLatencyBatch)
	if l.timeout <= 0 {
		l.timeout = DefaultLatencyWriteTimeout
	}
	switch {
	case l.linger == 0:
		l.linger = DefaultLatencyLinger
	case l.linger < 0:
		l.linger = 0
	}
	qs := o.QueueSize
	if qs <= 0 {
		qs = DefaultLatencyQueueSize
	}
	l.q = make(chan latItem, qs)
	go l.run()
	return l
}

// LatencyStore returns a LatencyStore sharing the store's client and key
// prefix. Close it before the store.
func (s *Store) LatencyStore(o LatencyOptions) *LatencyStore {
	return NewLatencyStore(s.c, s.k.p, o)
}

// ---- keys ----

func (l *LatencyStore) seqKey() string             { return l.p + "seq" }
func (l *LatencyStore) completeKey() string        { return l.p + "complete" }
func (l *LatencyStore) createKey() string          { return l.p + "create" }
func (l *LatencyStore) reqKey(id string) string    { return l.p + "req:" + id }
func (l *LatencyStore) recordKey(id string) string { return l.p + "r:" + id }

// index is the zset a query reads: by time field, of one type or all.
func (l *LatencyStore) index(f store.LatencyTimeField, messageType string) string {
	k := l.completeKey()
	if f == store.LatencyCreateTime {
		k = l.createKey()
	}
	if messageType != "" {
		k += ":" + messageType
	}
	return k
}

// ---- lifecycle ----

// Put implements latency.Store: it queues rec for the writer and never
// waits (ErrLatencyQueueFull when the queue is full).
func (l *LatencyStore) Put(_ context.Context, rec store.LatencyRecord) error {
	if l.closed.Load() {
		return ErrLatencyClosed
	}
	select {
	case l.q <- latItem{rec: rec}:
		return nil
	default:
		l.dropped.Add(1)
		return ErrLatencyQueueFull
	}
}

// Flush waits until every record queued before the call is written (or
// its write failed).
func (l *LatencyStore) Flush(ctx context.Context) error {
	if l.closed.Load() {
		return nil
	}
	mark := make(chan struct{})
	select {
	case l.q <- latItem{mark: mark}:
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-mark:
		return nil
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued and stops the writer; later Puts answer
// ErrLatencyClosed. It waits for the last write at most until ctx ends.
func (l *LatencyStore) Close(ctx context.Context) error {
	l.once.Do(func() {
		l.closed.Store(true)
		close(l.quit)
	})
	select {
	case <-l.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Counters reports what became of the records Put accepted or refused.
func (l *LatencyStore) Counters() LatencyCounters {
	return LatencyCounters{Written: l.written.Load(), Dropped: l.dropped.Load(), Failed: l.failed.Load()}
}

// run is the writer: it takes what is queued, up to maxBatch records,
// writes it in one script call, then releases the flush markers it took.
func (l *LatencyStore) run() {
	defer close(l.done)
	batch := make([]store.LatencyRecord, 0, l.maxBatch)
	var marks []chan struct{}
	linger := time.NewTimer(time.Hour)
	linger.Stop()
	take := func(it latItem) {
		if it.mark != nil {
			marks = append(marks, it.mark)
		} else {
			batch = append(batch, it.rec)
		}
	}
	flush := func() {
		if len(batch) > 0 {
			l.write(batch)
		}
		for _, m := range marks {
			close(m)
		}
		batch, marks = batch[:0], marks[:0]
	}
	for {
		select {
		case it := <-l.q:
			take(it)
		case <-l.quit:
			for { // write what is left, then stop
				select {
				case it := <-l.q:
					take(it)
					if len(batch) == l.maxBatch {
						flush()
					}
					continue
				default:
				}
				flush()
				return
			}
		}
		// Linger a little for more records (one round trip for many),
		// unless a query is waiting for this batch (a flush marker).
		if l.linger > 0 && len(marks) == 0 {
			linger.Reset(l.linger)
		collect:
			for len(batch) < l.maxBatch && len(marks) == 0 {
				select {
				case it := <-l.q:
					take(it)
				case <-linger.C:
					break collect
				case <-l.quit:
					break collect
				}
			}
			linger.Stop()
		}
	drain:
		for len(batch) < l.maxBatch {
			select {
			case it := <-l.q:
				take(it)
			default:
				break drain
			}
		}
		flush()
	}
}

// ---- encoding ----

// lexHex is v as 16 hex digits with the sign bit flipped: the byte order
// of the text is the numeric order of v.
func lexHex(v int64) string {
	var b [8]byte
	u := uint64(v) ^ (1 << 63)
	for i := 7; i >= 0; i-- {
		b[i] = byte(u)
		u >>= 8
	}
	return hex.EncodeToString(b[:])
}

func unLexHex(s string) (int64, error) {
	u, err := strconv.ParseUint(s, 16, 64)
	if err != nil {
		return 0, err
	}
	return int64(u ^ (1 << 63)), nil
}

// member is a decoded index member.
type member struct {
	t       int64  // the index's time
	id      string // record id (16 hex digits)
	latency int64
	stages  int // number of recorded stages = events of the record
}

const memberFixed = 66

func parseMember(m string) (member, error) {
	if len(m) < memberFixed {
		return member{}, fmt.Errorf("latency index member %q is too short", m)
	}
	t, err := unLexHex(m[0:16])
	if err != nil {
		return member{}, err
	}
	lat, err := unLexHex(m[48:64])
	if err != nil {
		return member{}, err
	}
	mask, err := strconv.ParseUint(m[64:66], 16, 8)
	if err != nil {
		return member{}, err
	}
	return member{t: t, id: m[16:32], latency: lat, stages: bits.OnesCount8(uint8(mask))}, nil
}

// mask is the record's stage bit set, read through Has.
func mask(r *store.LatencyRecord) uint8 {
	var m uint8
	for s := range store.LatencyStage(store.NumLatencyStages) {
		if r.Has(s) {
			m |= 1 << s
		}
	}
	return m
}

// latHeader is a stored record without its body.
type latHeader struct {
	RequestID      string                        `json:"request_id,omitempty"`
	MessageType    string                        `json:"message_type,omitempty"`
	CreateTime     int64                         `json:"create_time"`
	CompleteTime   int64                         `json:"complete_time"`
	LatencyNs      int64                         `json:"latency_ns"`
	Status         string                        `json:"status,omitempty"`
	ClientID       string                        `json:"client_id,omitempty"`
	SourceService  string                        `json:"source_service,omitempty"`
	SourceSequence int64                         `json:"source_sequence,omitempty"`
	HFTGateway     string                        `json:"hft_gateway,omitempty"`
	StreamID       int                           `json:"stream_id,omitempty"`
	Stamps         [store.NumLatencyStages]int64 `json:"stamps"`
	Mask           uint8                         `json:"mask"`
}

// encodeRecord is the stored value: the JSON header (which never holds a
// raw newline), "\n", the body byte for byte.
func encodeRecord(r *store.LatencyRecord, m uint8) (string, error) {
	h, err := json.Marshal(latHeader{
		RequestID: r.RequestID, MessageType: r.MessageType, CreateTime: r.CreateTime, CompleteTime: r.CompleteTime,
		LatencyNs: r.LatencyNs, Status: r.Status, ClientID: r.ClientID, SourceService: r.SourceService,
		SourceSequence: r.SourceSequence, HFTGateway: r.HFTGateway, StreamID: r.StreamID, Stamps: r.Stamps, Mask: m,
	})
	if err != nil {
		return "", err
	}
	return string(h) + "\n" + string(r.Body), nil
}

// rebuilder turns stored values back into Records. A stage set the
// recorder cannot produce (without GatewayReceived, or with it alone)
// comes back empty.
type rebuilder struct{}

func newRebuilder() *rebuilder { return &rebuilder{} }

func (b *rebuilder) decode(v string) (store.LatencyRecord, error) {
	nl := -1
	for i := 0; i < len(v); i++ {
		if v[i] == '\n' {
			nl = i
			break
		}
	}
	if nl < 0 {
		return store.LatencyRecord{}, errors.New("latency record without a header")
	}
	var h latHeader
	if err := json.Unmarshal([]byte(v[:nl]), &h); err != nil {
		return store.LatencyRecord{}, fmt.Errorf("latency record header: %w", err)
	}
	var r store.LatencyRecord
	if h.Mask&1 != 0 && h.Mask != 1 {
		for st := range store.LatencyStage(store.NumLatencyStages) {
			if h.Mask&(1<<st) != 0 {
				r.Stamp(st, h.Stamps[st])
			}
		}
	}
	r.RequestID, r.MessageType = h.RequestID, h.MessageType
	r.CreateTime, r.CompleteTime, r.LatencyNs, r.Status = h.CreateTime, h.CompleteTime, h.LatencyNs, h.Status
	r.LatencyMeta = store.LatencyMeta{ClientID: h.ClientID, SourceService: h.SourceService, SourceSequence: h.SourceSequence,
		HFTGateway: h.HFTGateway, StreamID: h.StreamID}
	r.Stamps = h.Stamps
	r.Body = nil
	if body := v[nl+1:]; body != "" {
		r.Body = []byte(body)
	}
	return r, nil
}

// ---- scripts ----

// latTrim is the prelude of every script: KEYS[1] the complete index,
// KEYS[2] the create index, ARGV[1] the key prefix <p>{lat}:. drop removes
// records given their complete-index members; trim drops the records that
// completed before cutoff, then the oldest beyond max, at most limit of
// each (0: all).
const latTrim = `
local P, KC, KT = ARGV[1], KEYS[1], KEYS[2]
local function drop(ms)
  for _, m in ipairs(ms) do
    local s = string.sub(m, 17, 32)
    local o = string.sub(m, 33, 48) .. s .. string.sub(m, 1, 16) .. string.sub(m, 49)
    local typ = string.sub(m, 67)
    redis.call('ZREM', KC, m)
    redis.call('ZREM', KT, o)
    if typ ~= '' then
      redis.call('ZREM', P .. 'complete:' .. typ, m)
      redis.call('ZREM', P .. 'create:' .. typ, o)
    end
    redis.call('DEL', P .. 'r:' .. s)
  end
  return #ms
end
local function trim(cutoff, max, limit)
  local chunk = 1000
  if limit > 0 then chunk = limit end
  repeat
    local n = drop(redis.call('ZRANGEBYLEX', KC, '-', '(' .. cutoff, 'LIMIT', 0, chunk))
  until n < chunk or limit > 0
  local excess = redis.call('ZCARD', KC) - max
  while excess > 0 do
    local n = drop(redis.call('ZRANGE', KC, 0, math.min(excess, chunk) - 1))
    excess = excess - n
    if limit > 0 or n == 0 then break end
  end
end
`

// latPut: KEYS complete index, create index, seq; ARGV prefix, cutoff,
// max, retention ms, trim limit, then per record: complete, create,
// latency (lexHex), stage mask (2 hex), type, request id, value, ttl ms.
var latPut = goredis.NewScript(latTrim + `
local n = (#ARGV - 5) / 8
local last = redis.call('INCRBY', KEYS[3], n)
local zc, zt, byType = {}, {}, {}
for i = 0, n - 1 do
  local a = 6 + i * 8
  local c, t, tail, typ, rid, ttl = ARGV[a], ARGV[a + 1], ARGV[a + 2] .. ARGV[a + 3] .. ARGV[a + 4], ARGV[a + 4], ARGV[a + 5], ARGV[a + 7]
  local s = string.format('%016x', last - n + 1 + i)
  local mc, mt = c .. s .. t .. tail, t .. s .. c .. tail
  redis.call('SET', P .. 'r:' .. s, ARGV[a + 6], 'PX', ttl)
  zc[#zc + 1] = 0; zc[#zc + 1] = mc
  zt[#zt + 1] = 0; zt[#zt + 1] = mt
  if typ ~= '' then
    local b = byType[typ]
    if not b then b = {{}, {}}; byType[typ] = b end
    local bc, bt = b[1], b[2]
    bc[#bc + 1] = 0; bc[#bc + 1] = mc
    bt[#bt + 1] = 0; bt[#bt + 1] = mt
  end
  if rid ~= '' then redis.call('SET', P .. 'req:' .. rid, s, 'PX', ttl) end
end
local ret = ARGV[4]
redis.call('ZADD', KC, unpack(zc))
redis.call('ZADD', KT, unpack(zt))
redis.call('PEXPIRE', KC, ret)
redis.call('PEXPIRE', KT, ret)
for typ, b in pairs(byType) do
  redis.call('ZADD', P .. 'complete:' .. typ, unpack(b[1]))
  redis.call('ZADD', P .. 'create:' .. typ, unpack(b[2]))
  redis.call('PEXPIRE', P .. 'complete:' .. typ, ret)
  redis.call('PEXPIRE', P .. 'create:' .. typ, ret)
end
trim(ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[5]))
return n
`)

// latRange: KEYS complete index, create index, the index read; ARGV
// prefix, cutoff, max, min, max bound, "1" newest first, offset, count
// (-1: all), "1" to return the records too. Trims completely, then returns
// the members in the window ({members, records} with records).
var latRange = goredis.NewScript(latTrim + `
trim(ARGV[2], tonumber(ARGV[3]), 0)
local ms
if ARGV[6] == '1' then
  ms = redis.call('ZREVRANGEBYLEX', KEYS[3], ARGV[5], ARGV[4], 'LIMIT', ARGV[7], ARGV[8])
else
  ms = redis.call('ZRANGEBYLEX', KEYS[3], ARGV[4], ARGV[5], 'LIMIT', ARGV[7], ARGV[8])
end
if ARGV[9] ~= '1' then return ms end
local vs = {}
for i, m in ipairs(ms) do vs[i] = redis.call('GET', P .. 'r:' .. string.sub(m, 17, 32)) end
return {ms, vs}
`)

// latByRequest: KEYS complete index, create index, request id key; ARGV
// prefix, cutoff, max. Trims completely, then returns the newest record of
// the request (nil when none is kept).
var latByRequest = goredis.NewScript(latTrim + `
trim(ARGV[2], tonumber(ARGV[3]), 0)
local s = redis.call('GET', KEYS[3])
if not s then return false end
return redis.call('GET', P .. 'r:' .. s)
`)

// latTTLGrace is added to every TTL: the trims enforce the retention
// exactly, by the store's clock; the TTLs only collect what no trim
// reached (a deployment that stopped), so they must never run out first.
const latTTLGrace = time.Minute

// writeTrimLimit bounds the records one write trims of each kind: more
// than a batch adds, so the trim keeps up, and a write after a long pause
// never holds Redis for long.
const writeTrimLimit = 1000

// write stores a batch in one script call.
func (l *LatencyStore) write(batch []store.LatencyRecord) {
	now := l.clock.NowNs()
	args := make([]any, 0, 5+8*len(batch))
	args = append(args, l.p, lexHex(now-l.retention), l.max, (l.retention+int64(latTTLGrace))/int64(time.Millisecond), writeTrimLimit)
	for i := range batch {
		r := &batch[i]
		m := mask(r)
		v, err := encodeRecord(r, m)
		if err != nil { // cannot happen: the header is plain data
			l.fail(fmt.Errorf("redis latency store: encode: %w", err), 1)
			continue
		}
		ttl := max((r.CompleteTime+l.retention-now)/int64(time.Millisecond), 0) + latTTLGrace.Milliseconds()
		args = append(args, lexHex(r.CompleteTime), lexHex(r.CreateTime), lexHex(r.LatencyNs), fmt.Sprintf("%02x", m),
			r.MessageType, r.RequestID, v, ttl)
	}
	n := (len(args) - 5) / 8
	if n == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), l.timeout)
	defer cancel()
	if err := latPut.Run(ctx, l.c, []string{l.completeKey(), l.createKey(), l.seqKey()}, args...).Err(); err != nil {
		l.fail(fail("latency put", err), n)
		return
	}
	l.written.Add(int64(n))
}

func (l *LatencyStore) fail(err error, n int) {
	l.failed.Add(int64(n))
	if l.onError != nil {
		l.onError(err, n)
	}
}

// ---- queries ----

// bounds are the lex range of a window.
func bounds(w store.LatencyWindow) (lo, hi string) {
	lo, hi = "-", "+"
	if w.From != nil {
		lo = "[" + lexHex(*w.From)
	}
	if w.To != nil {
		hi = "(" + lexHex(*w.To)
	}
	return lo, hi
}

// rangeQuery runs latRange; withRecords also returns each member's stored
// value ("" when it expired meanwhile).
func (l *LatencyStore) rangeQuery(ctx context.Context, op, index, lo, hi string, rev bool, offset, count int, withRecords bool) ([]string, []string, error) {
	if err := l.Flush(ctx); err != nil {
		return nil, nil, err
	}
	flag := func(b bool) string {
		if b {
			return "1"
		}
		return "0"
	}
	res, err := latRange.Run(ctx, l.c, []string{l.completeKey(), l.createKey(), index},
		l.p, lexHex(l.clock.NowNs()-l.retention), l.max, lo, hi, flag(rev), offset, count, flag(withRecords)).Result()
	if err != nil {
		return nil, nil, fail(op, err)
	}
	if !withRecords {
		ms, err := bulkStrings(res)
		if err != nil {
			return nil, nil, fail(op, err)
		}
		return ms, nil, nil
	}
	pair, ok := res.([]any)
	if !ok || len(pair) != 2 {
		return nil, nil, fail(op, fmt.Errorf("unexpected reply %T", res))
	}
	ms, err := bulkStrings(pair[0])
	if err != nil {
		return nil, nil, fail(op, err)
	}
	vs, err := bulkStrings(pair[1])
	if err != nil {
		return nil, nil, fail(op, err)
	}
	if len(vs) != len(ms) {
		return nil, nil, fail(op, fmt.Errorf("%d records for %d members", len(vs), len(ms)))
	}
	return ms, vs, nil
}

// bulkStrings reads an array reply of bulk strings; a nil element is "".
func bulkStrings(v any) ([]string, error) {
	arr, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("unexpected reply %T", v)
	}
	out := make([]string, len(arr))
	for i, e := range arr {
		switch s := e.(type) {
		case string:
			out[i] = s
		case nil:
		default:
			return nil, fmt.Errorf("unexpected element %T", e)
		}
	}
	return out, nil
}

// Raw implements latency.Store.
func (l *LatencyStore) Raw(ctx context.Context, q store.LatencyRawQuery) (store.LatencyRawPage, error) {
	q, err := q.Applied()
	if err != nil {
		return store.LatencyRawPage{}, err
	}
	out := store.LatencyRawPage{Query: q}
	lo, hi := bounds(q.LatencyWindow)
	_, vs, err := l.rangeQuery(ctx, "latency raw", l.index(q.TimeField, q.MessageType), lo, hi, true, q.Offset, q.Limit, true)
	if err != nil {
		return store.LatencyRawPage{}, err
	}
	b := newRebuilder()
	for _, v := range vs {
		if v == "" {
			continue // expired between the index and the record: skipped
		}
		r, err := b.decode(v)
		if err != nil {
			return store.LatencyRawPage{}, fail("latency raw", err)
		}
		out.Records = append(out.Records, r)
	}
	return out, nil
}

// stagesChunk is how many index members Stages reads at a time.
const stagesChunk = 512

// Stages implements latency.Store.
func (l *LatencyStore) Stages(ctx context.Context, q store.LatencyStagesQuery) (store.LatencyStagesPage, error) {
	q, err := q.Applied()
	if err != nil {
		return store.LatencyStagesPage{}, err
	}
	out := store.LatencyStagesPage{Query: q}
	b := newRebuilder()
	pg := eventPage{q: q, skip: q.Offset}

	if q.RequestID != "" && q.From == nil && q.To == nil {
		if err := l.stagesOf(ctx, q.RequestID, b, &pg); err != nil {
			return store.LatencyStagesPage{}, err
		}
		out.Events, out.Segments = pg.events, pg.segments
		return out, nil
	}

	// The window, newest record first: read the index a chunk at a time,
	// continuing below the last member looked at (stable under concurrent
	// writes). Without a request id the members' stage counts page the
	// events, and only the records on the page are read.
	lo, hi := bounds(q.LatencyWindow)
	index := l.index(store.LatencyCreateTime, q.MessageType)
	for !pg.full() {
		ms, vs, err := l.rangeQuery(ctx, "latency stages", index, lo, hi, true, 0, stagesChunk, q.RequestID != "")
		if err != nil {
			return store.LatencyStagesPage{}, err
		}
		if len(ms) == 0 {
			break
		}
		next := ms[len(ms)-1]
		if q.RequestID == "" {
			var keys []string
			if keys, next, err = l.plan(ms, &pg); err != nil {
				return store.LatencyStagesPage{}, fail("latency stages", err)
			}
			if vs, err = l.mget(ctx, keys); err != nil {
				return store.LatencyStagesPage{}, err
			}
		}
		for _, v := range vs {
			if pg.full() {
				break
			}
			if v == "" {
				continue // expired between the index and the record
			}
			r, err := b.decode(v)
			if err != nil {
				return store.LatencyStagesPage{}, fail("latency stages", err)
			}
			if q.RequestID != "" && r.RequestID != q.RequestID {
				continue
			}
			pg.add(&r)
		}
		if len(ms) < stagesChunk {
			break
		}
		hi = "(" + next
	}
	out.Events, out.Segments = pg.events, pg.segments
	return out, nil
}

// stagesOf puts the events of the one record of requestID on pg.
func (l *LatencyStore) stagesOf(ctx context.Context, requestID string, b *rebuilder, pg *eventPage) error {
	if err := l.Flush(ctx); err != nil {
		return err
	}
	v, err := latByRequest.Run(ctx, l.c, []string{l.completeKey(), l.createKey(), l.reqKey(requestID)},
		l.p, lexHex(l.clock.NowNs()-l.retention), l.max).Text()
	if errors.Is(err, goredis.Nil) {
		return nil
	}
	if err != nil {
		return fail("latency stages", err)
	}
	r, err := b.decode(v)
	if err != nil {
		return fail("latency stages", err)
	}
	pg.add(&r)
	return nil
}

// plan picks, from index members newest first, the records whose events
// land on the page: records the offset skips whole are passed over (and
// taken off pg.skip); it stops once the page would be full. It returns
// their record keys and the last member it looked at.
func (l *LatencyStore) plan(ms []string, pg *eventPage) (keys []string, last string, err error) {
	room := pg.q.Limit - len(pg.events)
	for _, m := range ms {
		pm, err := parseMember(m)
		if err != nil {
			return nil, "", err
		}
		last = m
		if len(keys) == 0 && pg.skip >= pm.stages {
			pg.skip -= pm.stages
			continue
		}
		keys = append(keys, l.recordKey(pm.id))
		if len(keys) == 1 {
			room -= pm.stages - pg.skip // pg.add skips the rest of the offset in this record
		} else {
			room -= pm.stages
		}
		if room <= 0 {
			break
		}
	}
	return keys, last, nil
}

// mget reads record values ("" for a missing one).
func (l *LatencyStore) mget(ctx context.Context, keys []string) ([]string, error) {
	if len(keys) == 0 {
		return nil, nil
	}
	got, err := l.c.MGet(ctx, keys...).Result()
	if err != nil {
		return nil, fail("latency stages", err)
	}
	vs, err := bulkStrings(got)
	if err != nil {
		return nil, fail("latency stages", err)
	}
	return vs, nil
}

// eventPage pages events as memory.Latency does: skip counts events,
// segments join consecutive events of one record that are both on the
// page.
type eventPage struct {
	q        store.LatencyStagesQuery
	skip     int
	events   []store.LatencyEvent
	segments []store.LatencySegment
}

func (p *eventPage) full() bool { return len(p.events) >= p.q.Limit }

func (p *eventPage) add(r *store.LatencyRecord) {
	if p.q.MessageType != "" && r.MessageType != p.q.MessageType {
		return
	}
	evs := r.Events()
	if p.skip >= len(evs) {
		p.skip -= len(evs)
		return
	}
	evs = evs[p.skip:]
	p.skip = 0
	evs = evs[:min(len(evs), p.q.Limit-len(p.events))]
	for i, e := range evs {
		p.events = append(p.events, e)
		if i > 0 {
			prev := evs[i-1]
			p.segments = append(p.segments, store.LatencySegment{
				RequestID: r.RequestID, From: prev.Stage, To: e.Stage, FromTime: prev.StageTime, ToTime: e.StageTime,
				LatencyNs: e.StageTime - prev.StageTime,
			})
		}
	}
}

// Metrics implements latency.Store.
func (l *LatencyStore) Metrics(ctx context.Context, q store.LatencyMetricsQuery) (store.LatencyMetrics, error) {
	q, err := q.Applied()
	if err != nil {
		return store.LatencyMetrics{}, err
	}
	lo, hi := bounds(q.LatencyWindow)
	ms, _, err := l.rangeQuery(ctx, "latency metrics", l.index(q.TimeField, q.MessageType), lo, hi, false, 0, -1, false)
	if err != nil {
		return store.LatencyMetrics{}, err
	}
	// Oldest first by the time field, as the index orders them.
	ts := make([]int64, len(ms))
	lats := make([]int64, len(ms))
	for i, m := range ms {
		pm, err := parseMember(m)
		if err != nil {
			return store.LatencyMetrics{}, fail("latency metrics", err)
		}
		ts[i], lats[i] = pm.t, pm.latency
	}
	return store.LatencyMetricsOf(q, ts, lats), nil
}
