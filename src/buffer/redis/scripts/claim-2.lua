--[[
  Claims due traces of one bucket: each moves from the due index to the claim index with a
  lease, and the fragments it holds so far are handed out.

  KEYS[1]  <base>due     due ZSET (trace id -> decide-at ms); trace keys as in append-2.lua
  KEYS[2]  <base>claims  claim ZSET (trace id -> lease expiry, ms of the Redis server's clock)

  ARGV[1]  now, ms (the caller's clock): only traces due at or before it are claimed
  ARGV[2]  lease, ms
  ARGV[3]  claim token: stored in the trace's meta; complete and release must present it
  ARGV[4..] trace ids to claim, in the order wanted

  Returns  per trace claimed: { id, first seen, due, span count, { fragment, ... } }. An id no
           longer due (claimed or decided by another instance since it was seen) is skipped.

  Leases run on the server's clock: instances' clocks differ, and the caller's clock is event
  time during replay.
]]
-- include trace-meta.lua
local dueKey = KEYS[1]
local claimsKey = KEYS[2]
local base = string.sub(dueKey, 1, -4)
local now = tonumber(ARGV[1])
local time = redis.call('TIME')
local leaseUntil = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000) + tonumber(ARGV[2])
local token = ARGV[3]

local out = {}
for i = 4, #ARGV do
  local id = ARGV[i]
  local score = redis.call('ZSCORE', dueKey, id)
  if score and tonumber(score) <= now then
    local key = traceKey(base, id)
    -- Meta and fragments in one read: the meta is element 0.
    local fragments = redis.call('LRANGE', key, 0, -1)
    redis.call('ZREM', dueKey, id)
    if #fragments > 0 then
      local meta = decodeMeta(table.remove(fragments, 1))
      redis.call('ZADD', claimsKey, leaseUntil, id)
      meta.token = token
      meta.taken = #fragments
      redis.call('LSET', key, 0, encodeMeta(meta))
      out[#out + 1] = { id, meta.first, meta.due, meta.spans, fragments }
    end
  end
end
return out
