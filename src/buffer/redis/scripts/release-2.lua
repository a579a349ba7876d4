--[[
  Gives a claimed trace back undecided: it is due again at the retry time, with every
  fragment it holds (also those that arrived during the claim).

  KEYS[1]  <base>due     due ZSET; trace keys as in append-2.lua
  KEYS[2]  <base>claims  claim ZSET

  ARGV[1]  trace id
  ARGV[2]  claim token the trace was claimed with
  ARGV[3]  retry time, ms (the caller's clock)

  Returns  1 released; -1 lease lost (claimed under another token, or expired and requeued);
           -2 the trace is not pending. On -1 and -2 nothing changed.
]]
-- include trace-meta.lua
local dueKey = KEYS[1]
local claimsKey = KEYS[2]
local base = string.sub(dueKey, 1, -4)
local id = ARGV[1]
local key = traceKey(base, id)

local meta = readMeta(key)
if not meta then
  return -2
end
if meta.token ~= ARGV[2] then
  return -1
end
meta.token = nil
meta.taken = nil
meta.due = ARGV[3]
redis.call('LSET', key, 0, encodeMeta(meta))
redis.call('ZREM', claimsKey, id)
redis.call('ZADD', dueKey, ARGV[3], id)
return 1
