--[[
  Gives the leader lease up, only if this instance holds it, so another instance takes over
  at its next evaluation instead of waiting for the lease to expire.

  KEYS[1]  <prefix>:al:{lead}  STRING  holder token

  ARGV[1]  this instance's token

  Returns  1 when the lease was released, 0 when this instance did not hold it.
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
