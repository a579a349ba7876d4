--[[
  Takes the leader lease when nobody holds it, or renews it for the instance that does
  (SET NX PX, or PEXPIRE when the value is ours): one instance at a time evaluates incidents.

  KEYS[1]  <prefix>:al:{lead}  STRING  holder token, with a TTL

  ARGV[1]  this instance's token
  ARGV[2]  lease length, ms

  Returns  1 when this instance holds the lease now, 0 when another does.
]]
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
