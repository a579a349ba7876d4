--[[
  Remembers the order of recorded decisions of one kind (kept or dropped) across all
  buckets, so that the decision cache has a bound in count like the Collector's, and a TTL.
  The decisions themselves are in the buckets' decisions HASHes (complete-3.lua), which
  carry no TTL per entry; this order says which entries to forget. Returned entries are
  deleted by the caller (they live in other hash slots than this key):
  - past bound + slack, the oldest down to the bound (trims come in batches);
  - the oldest recorded more than a TTL ago (Redis server time), up to 1000 per call.

  A LIST in decision order rather than a sorted set: a list entry takes about a fifth of the
  memory, and the order is the order of these calls either way.

  KEYS[1]  <prefix>:{decisions}:kept-order or :dropped-order  LIST of "<ms>:<trace id>",
           oldest first (ms: when the decision was noted)

  ARGV[1]  bound: decisions of this kind remembered
  ARGV[2]  slack: how far past the bound before trimming
  ARGV[3]  decision TTL, ms: entries older are forgotten, and the list expires with the last
  ARGV[4..] trace ids, in the order their decisions were made (none: only forget)

  Returns  { trace id, ... }: the decisions forgotten, oldest first.
]]
local key = KEYS[1]
local last = #ARGV
local ttl = tonumber(ARGV[3])
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

if last >= 4 then
  -- RPUSH in chunks: unpack() of a long list would overflow Lua's C stack.
  local entries = {}
  for i = 4, last do
    entries[#entries + 1] = now .. ':' .. ARGV[i]
    if #entries == 1000 or i == last then
      redis.call('RPUSH', key, unpack(entries))
      entries = {}
    end
  end
  redis.call('PEXPIRE', key, ttl)
end

local function notedAt(entry)
  local colon = string.find(entry, ':', 1, true)
  return tonumber(string.sub(entry, 1, colon - 1)), colon
end

local bound = tonumber(ARGV[1])
local size = redis.call('LLEN', key)
local n = 0
if size > bound + tonumber(ARGV[2]) then
  n = size - bound
end
-- Then those older than the TTL, looked at only when the first one left is.
local first = redis.call('LINDEX', key, n)
if first and notedAt(first) <= now - ttl then
  local next = redis.call('LRANGE', key, n, n + 999)
  for i = 1, #next do
    if notedAt(next[i]) > now - ttl then
      break
    end
    n = n + 1
  end
end
if n == 0 then
  return {}
end

local entries = redis.call('LRANGE', key, 0, n - 1)
redis.call('LTRIM', key, n, -1)
local forgotten = {}
for i = 1, #entries do
  local _, colon = notedAt(entries[i])
  forgotten[i] = string.sub(entries[i], colon + 1)
end
return forgotten
