--[[
  A pending trace is one LIST, <base>t:<id>: element 0 is its meta, the stored fragments
  follow in arrival order. One key per trace instead of a meta HASH beside the list saves a
  key's overhead (about 200 bytes) per buffered trace.

  Meta: "first|due|spans|bytes|taken|token"
    first, due  the caller's time strings as sent (replay times have fractions of a
                millisecond that a Lua number printed back would round)
    spans       spans buffered; bytes: their size as received
    taken       fragments handed out by the claim (element 1 to taken), "" while unclaimed
    token       the claim's token, "" while unclaimed. Last, so it may itself hold "|".

  Included into the scripts that use it (redis-scripts.ts), ahead of their own code.
]]
local function traceKey(base, id)
  return base .. 't:' .. id
end

local function decodeMeta(text)
  local fields = {}
  local at = 1
  for i = 1, 5 do
    local bar = string.find(text, '|', at, true)
    fields[i] = string.sub(text, at, bar - 1)
    at = bar + 1
  end
  local token = string.sub(text, at)
  return {
    first = fields[1],
    due = fields[2],
    spans = tonumber(fields[3]),
    bytes = tonumber(fields[4]),
    taken = tonumber(fields[5]),
    token = token ~= '' and token or nil,
  }
end

local function encodeMeta(m)
  return m.first .. '|' .. m.due .. '|' .. m.spans .. '|' .. m.bytes .. '|' .. (m.taken or '') .. '|' .. (m.token or '')
end

-- The meta of a pending trace, or nil when the trace is not pending.
local function readMeta(key)
  local text = redis.call('LINDEX', key, 0)
  if not text then
    return nil
  end
  return decodeMeta(text)
end
