--[[
  Adds one bucket's fragments to their traces, creating traces seen for the first time, or
  reports a fragment late when its trace was decided and is not pending.

  KEYS[1]  <base>due     due ZSET (trace id -> decide-at ms). <base> is KEYS[1] without its
                         "due"; a trace's keys are <base>m:<id> (meta HASH: first, due, spans,
                         bytes, taken, token), <base>f:<id> (fragments LIST); <base>d is the
                         bucket's decisions HASH (trace id -> decision)
  KEYS[2]  <base>n       counts HASH {traces, spans}: the bucket's undecided traces and spans

  ARGV[1]  now, ms (the caller's clock)
  ARGV[2]  due time of a trace first seen now: now + decision_wait
  ARGV[3]  due time set by a root span arriving now: now + decision_wait_after_root_received,
           or "" when that setting is off
  ARGV[4]  spans per trace at which a trace is due at once
  ARGV[5]  bytes per trace (as received) past which a trace is due at once, or "" for no limit
  ARGV[6..] five per fragment: trace id, span count, "1" if it holds a root span, stored bytes,
           the fragment's size as received

  Returns  { traces, spans, index, decision, index, decision, ... }: the bucket's counts after
           the call, then for every late fragment its 0-based position among this call's
           fragments and the decision recorded for its trace.

  Times stay the strings the caller sent (replay times have fractions of a millisecond that a
  Lua number printed back would round) and are compared as numbers.
]]
local dueKey = KEYS[1]
local countsKey = KEYS[2]
local base = string.sub(dueKey, 1, -4)
local now = ARGV[1]
local firstDue = ARGV[2]
local rootDue = ARGV[3]
local maxSpans = tonumber(ARGV[4])
local maxBytes = tonumber(ARGV[5])

local late = {}
local addedTraces = 0
local addedSpans = 0
for i = 6, #ARGV, 5 do
  local id = ARGV[i]
  local spans = tonumber(ARGV[i + 1])
  local metaKey = base .. 'm:' .. id
  local meta = redis.call('HMGET', metaKey, 'due', 'token')
  local due = meta[1]
  local claimed = meta[2]
  local decision = false
  if not due then
    decision = redis.call('HGET', base .. 'd', id)
    if not decision then
      due = firstDue
      redis.call('HSET', metaKey, 'first', now, 'due', due, 'spans', 0)
      redis.call('ZADD', dueKey, due, id)
      addedTraces = addedTraces + 1
    end
  end
  if decision then
    late[#late + 1] = (i - 6) / 5
    late[#late + 1] = decision
  else
    redis.call('RPUSH', base .. 'f:' .. id, ARGV[i + 3])
    local total = redis.call('HINCRBY', metaKey, 'spans', spans)
    local bytes = redis.call('HINCRBY', metaKey, 'bytes', tonumber(ARGV[i + 4]))
    addedSpans = addedSpans + spans
    local newDue = due
    if ARGV[i + 2] == '1' and rootDue ~= '' and tonumber(rootDue) < tonumber(newDue) then
      newDue = rootDue
    end
    if (total >= maxSpans or (maxBytes and bytes > maxBytes)) and tonumber(now) < tonumber(newDue) then
      newDue = now
    end
    if newDue ~= due then
      redis.call('HSET', metaKey, 'due', newDue)
      -- A claimed trace stays out of the due index: release puts it back at its retry time.
      if not claimed then
        redis.call('ZADD', dueKey, newDue, id)
      end
    end
  end
end

local traces, spansNow
if addedTraces > 0 or addedSpans > 0 then
  traces = redis.call('HINCRBY', countsKey, 'traces', addedTraces)
  spansNow = redis.call('HINCRBY', countsKey, 'spans', addedSpans)
else
  -- Nothing buffered (all late): read without creating the counts key.
  local counts = redis.call('HMGET', countsKey, 'traces', 'spans')
  traces = tonumber(counts[1]) or 0
  spansNow = tonumber(counts[2]) or 0
end

local out = { traces, spansNow }
for j = 1, #late do
  out[#out + 1] = late[j]
end
return out
