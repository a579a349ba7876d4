--[[
  Remembers the order of recorded decisions of one kind (kept or dropped) across all
  buckets, so that the decision cache has a bound in count like the Collector's, besides
  its TTL. Past bound + slack it forgets the oldest decisions down to the bound; the caller
  deletes their decision keys (they live in other hash slots than these keys).

  KEYS[1]  <prefix>:{decisions}:kept or :dropped  ZSET (trace id -> decision sequence number)
  KEYS[2]  <prefix>:{decisions}:seq               the sequence counter

  ARGV[1]  trace id
  ARGV[2]  bound: decisions of this kind remembered
  ARGV[3]  slack: how far past the bound before trimming (trims come in batches)
  ARGV[4]  decision TTL, ms: these keys expire with the last decision they order

  Returns  { trace id, ... }: the decisions forgotten, oldest first.
]]
local seq = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], seq, ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('PEXPIRE', KEYS[2], ARGV[4])

local bound = tonumber(ARGV[2])
local size = redis.call('ZCARD', KEYS[1])
if size <= bound + tonumber(ARGV[3]) then
  return {}
end
local popped = redis.call('ZPOPMIN', KEYS[1], size - bound)
local forgotten = {}
for i = 1, #popped, 2 do
  forgotten[#forgotten + 1] = popped[i]
end
return forgotten
