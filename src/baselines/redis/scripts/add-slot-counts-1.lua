--[[
  Adds one instance's counts for one time slot of every operation to the slot's hash, and
  keeps the hash for as long as a baseline can look back.

  KEYS[1]  <prefix>:bl:{w<slot>}  HASH  <opId>:n|e|xn|xe|b<bucket>|xb<bucket> -> count

  ARGV[1]  TTL of the slot, ms
  ARGV[2]  field, ARGV[3] delta, ARGV[4] field, ARGV[5] delta, ...

  Returns  the number of fields changed.
]]
local changed = 0
for i = 2, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1])
  changed = changed + 1
end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return changed
