--[[
  Puts traces whose lease expired (their instance died or stalled) back in the due index at
  their own due time, so that any instance can claim them. Their claim token is cleared, so
  the old holder's complete or release reports the lease as lost.

  KEYS[1]  <base>due     due ZSET; trace keys as in append-2.lua
  KEYS[2]  <base>claims  claim ZSET (lease expiry, ms of the Redis server's clock)

  ARGV[1]  most traces to requeue in this call (bounds the script's run time)

  Returns  the number of traces requeued.
]]
-- include trace-meta.lua
local dueKey = KEYS[1]
local claimsKey = KEYS[2]
local base = string.sub(dueKey, 1, -4)
local time = redis.call('TIME')
local nowMs = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)

local expired = redis.call('ZRANGEBYSCORE', claimsKey, '-inf', nowMs, 'LIMIT', 0, tonumber(ARGV[1]))
for _, id in ipairs(expired) do
  local key = traceKey(base, id)
  local meta = readMeta(key)
  redis.call('ZREM', claimsKey, id)
  if meta then
    meta.token = nil
    meta.taken = nil
    redis.call('LSET', key, 0, encodeMeta(meta))
    redis.call('ZADD', dueKey, meta.due, id)
  end
end
return #expired
