--[[
  Records the decision for a claimed trace and removes it from the buffer. Fragments that
  arrived after the claim are returned: they follow the decision as late spans.

  KEYS[1]  <base>due     due ZSET; trace keys as in append-2.lua
  KEYS[2]  <base>claims  claim ZSET
  KEYS[3]  <base>n       counts HASH {traces, spans}

  ARGV[1]  trace id
  ARGV[2]  claim token the trace was claimed with
  ARGV[3]  decision to record (see decision-codec.ts)
  ARGV[4]  how long the decision is remembered, ms; "0" records nothing. It goes into the
           bucket's decisions HASH <base>d (trace id -> decision).

  Returns  { 1, traces, spans, { fragment, ... } }: done, the bucket's counts after it and the
           fragments that came after the claim;
           { -1 } lease lost: the trace is claimed under another token, or its lease expired
           and it went back to the due index; nothing changed;
           { -2 } the trace is not pending (decided already, by whoever retook it); nothing changed.
]]
-- include trace-meta.lua
local dueKey = KEYS[1]
local claimsKey = KEYS[2]
local countsKey = KEYS[3]
local base = string.sub(dueKey, 1, -4)
local id = ARGV[1]
local key = traceKey(base, id)

local meta = readMeta(key)
if not meta then
  return { -2 }
end
if meta.token ~= ARGV[2] then
  return { -1 }
end

-- Element 0 is the meta, 1 to taken were handed out by the claim.
local late = redis.call('LRANGE', key, meta.taken + 1, -1)
redis.call('DEL', key)
redis.call('ZREM', claimsKey, id)
redis.call('ZREM', dueKey, id)
local ttl = tonumber(ARGV[4])
if ttl > 0 then
  -- One hash of decisions per bucket, not a key per trace: a fifth of the memory. It expires
  -- when the bucket saw no decision for a TTL; note-decision-1.lua forgets older entries.
  local decisionsKey = base .. 'd'
  redis.call('HSET', decisionsKey, id, ARGV[3])
  redis.call('PEXPIRE', decisionsKey, ttl)
end

local traces = redis.call('HINCRBY', countsKey, 'traces', -1)
local spans = redis.call('HINCRBY', countsKey, 'spans', -meta.spans)
if traces <= 0 then
  -- An empty bucket leaves no key behind.
  redis.call('DEL', countsKey)
end
return { 1, traces, spans, late }
