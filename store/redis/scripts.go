package redis

import goredis "github.com/redis/go-redis/v9"

// Lua scripts for every read-modify-write. Each touches keys of one hash
// slot only ({auth} for identities and recoveries, a single key otherwise),
// so they run unchanged on Redis Cluster. Keys derived from record content
// (email index, identity of a recovery) cannot be declared up front; they are
// built from a prefix passed in ARGV and share the {auth} tag.
//
// Records are JSON. cjson re-encodes an empty array as {} and numbers with
// 14 significant digits; the Go decoder accepts both (see record.go), and
// times are unix milliseconds (13 digits) so they survive exactly.

// createIdentity: KEYS identity, email index, identity-id set; ARGV id, record.
var createIdentity = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if redis.call('SETNX', KEYS[2], ARGV[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
redis.call('SADD', KEYS[3], ARGV[1])
return 1
`)

// identityByEmail: KEYS email index; ARGV identity key prefix.
var identityByEmail = goredis.NewScript(`
local id = redis.call('GET', KEYS[1])
if not id then return false end
return redis.call('GET', ARGV[1] .. id)
`)

// setIdentityState: KEYS identity; ARGV state, now ms.
var setIdentityState = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return false end
local i = cjson.decode(v)
if i.state ~= ARGV[1] then i.generation = (tonumber(i.generation) or 0) + 1 end
i.state = ARGV[1]
i.updated_at = tonumber(ARGV[2])
local out = cjson.encode(i)
redis.call('SET', KEYS[1], out)
return out
`)

// rehashPassword: KEYS identity; ARGV old hash, new hash.
var rehashPassword = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 'NOTFOUND' end
local i = cjson.decode(v)
if i.password_hash ~= ARGV[1] then return 'CONFLICT' end
i.password_hash = ARGV[2]
redis.call('SET', KEYS[1], cjson.encode(i))
return 'OK'
`)

// startRecovery: KEYS recovery, email index; ARGV id, record, ttl ms,
// recovery key prefix, email index prefix.
var startRecovery = goredis.NewScript(`
local old = redis.call('GET', KEYS[2])
if old and old ~= ARGV[1] then redis.call('DEL', ARGV[4] .. old) end
local prev = redis.call('GET', KEYS[1])
if prev then
  -- an id reused for another address: unhook that address's index
  local idx = ARGV[5] .. cjson.decode(prev).email_key
  if idx ~= KEYS[2] and redis.call('GET', idx) == ARGV[1] then redis.call('DEL', idx) end
end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[1], 'PX', ARGV[3])
return 1
`)

// countAttempt: KEYS recovery; ARGV max attempts, now ms.
var countAttempt = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return {'NOTFOUND'} end
local r = cjson.decode(v)
if tonumber(ARGV[2]) >= r.expires_at then return {'EXPIRED'} end
if r.state ~= 'pending' then return {'WRONGSTATE'} end
if r.attempts >= tonumber(ARGV[1]) then return {'EXHAUSTED'} end
r.attempts = r.attempts + 1
local out = cjson.encode(r)
redis.call('SET', KEYS[1], out, 'KEEPTTL')
return {'OK', out}
`)

// markVerified: KEYS old recovery, new recovery; ARGV old id, new id,
// new expiry ms, now ms, ttl ms, email index prefix.
var markVerified = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return 'NOTFOUND' end
local r = cjson.decode(v)
if tonumber(ARGV[4]) >= r.expires_at then return 'EXPIRED' end
if r.state ~= 'pending' then return 'WRONGSTATE' end
if KEYS[1] ~= KEYS[2] and redis.call('EXISTS', KEYS[2]) == 1 then return 'CONFLICT' end
r.id = ARGV[2]
r.state = 'verified'
r.expires_at = tonumber(ARGV[3])
redis.call('DEL', KEYS[1])
redis.call('SET', KEYS[2], cjson.encode(r), 'PX', ARGV[5])
local idx = ARGV[6] .. r.email_key
if redis.call('GET', idx) == ARGV[1] then redis.call('SET', idx, ARGV[2], 'PX', ARGV[5]) end
return 'OK'
`)

// completeRecovery: KEYS recovery; ARGV recovery id, password hash, now ms,
// identity key prefix, email index prefix.
var completeRecovery = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v then return {'NOTFOUND'} end
local r = cjson.decode(v)
if tonumber(ARGV[3]) >= r.expires_at then return {'EXPIRED'} end
if r.state ~= 'verified' then return {'WRONGSTATE'} end
redis.call('DEL', KEYS[1])
local idx = ARGV[5] .. r.email_key
if redis.call('GET', idx) == ARGV[1] then redis.call('DEL', idx) end
if type(r.identity_id) ~= 'string' or r.identity_id == '' then return {'NOTFOUND'} end
local ik = ARGV[4] .. r.identity_id
local iv = redis.call('GET', ik)
if not iv then return {'NOTFOUND'} end
local i = cjson.decode(iv)
if i.state ~= 'active' then return {'NOTFOUND'} end
i.password_hash = ARGV[2]
i.generation = (tonumber(i.generation) or 0) + 1
i.updated_at = tonumber(ARGV[3])
local out = cjson.encode(i)
redis.call('SET', ik, out)
return {'OK', out}
`)

// hit: KEYS counter; ARGV window ms. The TTL is set whenever the key has
// none, not only when INCR returns 1: Undo can bring a running window back
// to 0 and that must not restart it.
var hit = goredis.NewScript(`
local n = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {n, ttl}
`)

// undo: KEYS counter.
var undo = goredis.NewScript(`
local v = redis.call('GET', KEYS[1])
if v and tonumber(v) > 0 then redis.call('DECR', KEYS[1]) end
return 0
`)

// delIfEqual: KEYS key; ARGV value. Removes an index entry only if it still
// points where we think.
var delIfEqual = goredis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)
