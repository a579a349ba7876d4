--[[
  Records when something (an operation, a call edge, the first span at all) was first seen,
  keeping the earliest time any instance reported. Values are "<ms>" or "<ms>\t<payload>".

  KEYS[1]  <prefix>:bl:{ops} or <prefix>:bl:{edges}  HASH  field -> value

  ARGV[1]  TTL of the hash, ms (renewed on every call)
  ARGV[2]  field, ARGV[3] first-seen ms, ARGV[4] payload ('' for none), then more triples

  Returns  the number of fields set or moved earlier.
]]
local changed = 0
for i = 2, #ARGV, 3 do
  local current = redis.call('HGET', KEYS[1], ARGV[i])
  local at = tonumber(ARGV[i + 1])
  local known = current and tonumber(string.match(current, '^[^\t]*'))
  if not known or at < known then
    local value = ARGV[i + 1]
    if ARGV[i + 2] ~= '' then
      value = value .. '\t' .. ARGV[i + 2]
    end
    redis.call('HSET', KEYS[1], ARGV[i], value)
    changed = changed + 1
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return changed
