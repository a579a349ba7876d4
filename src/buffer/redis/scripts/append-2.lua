--[[
  Adds one bucket's fragments to their traces, creating traces seen for the first time, or
  reports a fragment late when its trace was decided and is not pending.

  KEYS[1]  <base>due     due ZSET (trace id -> decide-at ms). <base> is KEYS[1] without its
                         "due"; a pending trace is one key, <base>t:<id>, a LIST of its meta
                         then its stored fragments (trace-meta.lua); <base>d is the bucket's
                         decisions HASH (trace id -> decision)
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
-- include trace-meta.lua
local dueKey = KEYS[1]
local countsKey = KEYS[2]
local base = string.sub(dueKey, 1, -4)
local now = ARGV[1]
local firstDue = ARGV[2]
local rootDue = ARGV[3]
local maxSpans = tonumber(ARGV[4])
local maxBytes = tonumber(ARGV[5])

-- A trace's meta is read once and written once per call, however many of the call's
-- fragments are its: { meta, created, dueBefore, records } for a pending trace, { decision }
-- for a decided one.
local traces = {}
local order = {}
local late = {}
local addedTraces = 0
local addedSpans = 0
for i = 6, #ARGV, 5 do
  local id = ARGV[i]
  local t = traces[id]
  if not t then
    local meta = readMeta(traceKey(base, id))
    if meta then
      t = { meta = meta, dueBefore = meta.due, records = {} }
    else
      local decision = redis.call('HGET', base .. 'd', id)
      if decision then
        t = { decision = decision }
      else
        t = { meta = { first = now, due = firstDue, spans = 0, bytes = 0 }, created = true, records = {} }
        addedTraces = addedTraces + 1
      end
    end
    traces[id] = t
    order[#order + 1] = id
  end
  if t.decision then
    late[#late + 1] = (i - 6) / 5
    late[#late + 1] = t.decision
  else
    local m = t.meta
    local spans = tonumber(ARGV[i + 1])
    t.records[#t.records + 1] = ARGV[i + 3]
    m.spans = m.spans + spans
    m.bytes = m.bytes + tonumber(ARGV[i + 4])
    addedSpans = addedSpans + spans
    if ARGV[i + 2] == '1' and rootDue ~= '' and tonumber(rootDue) < tonumber(m.due) then
      m.due = rootDue
    end
    if (m.spans >= maxSpans or (maxBytes and m.bytes > maxBytes)) and tonumber(now) < tonumber(m.due) then
      m.due = now
    end
  end
end

-- RPUSH in chunks: unpack() of a long list would overflow Lua's C stack.
local function pushAll(key, records)
  for from = 1, #records, 1000 do
    redis.call('RPUSH', key, unpack(records, from, math.min(from + 999, #records)))
  end
end

for _, id in ipairs(order) do
  local t = traces[id]
  if t.meta then
    local key = traceKey(base, id)
    if t.created then
      table.insert(t.records, 1, encodeMeta(t.meta))
      pushAll(key, t.records)
      redis.call('ZADD', dueKey, t.meta.due, id)
    else
      pushAll(key, t.records)
      redis.call('LSET', key, 0, encodeMeta(t.meta))
      -- A claimed trace stays out of the due index: release puts it back at its retry time.
      if t.meta.due ~= t.dueBefore and not t.meta.token then
        redis.call('ZADD', dueKey, t.meta.due, id)
      end
    end
  end
end

local tracesNow, spansNow
if addedTraces > 0 or addedSpans > 0 then
  tracesNow = redis.call('HINCRBY', countsKey, 'traces', addedTraces)
  spansNow = redis.call('HINCRBY', countsKey, 'spans', addedSpans)
else
  -- Nothing buffered (all late): read without creating the counts key.
  local counts = redis.call('HMGET', countsKey, 'traces', 'spans')
  tracesNow = tonumber(counts[1]) or 0
  spansNow = tonumber(counts[2]) or 0
end

local out = { tracesNow, spansNow }
for j = 1, #late do
  out[#out + 1] = late[j]
end
return out
