--[[
  Reads one page of a queue part (admin views, listOwned after a restart; not a hot path).

  KEYS[1] zset       queued, handoff or leases

  ARGV[1] job key prefix
  ARGV[2] offset
  ARGV[3] limit
  ARGV[4] owner to keep ('' for all)

  Returns a list of { id, hash fields and values... } in queue order.
]]
local ids = redis.call('ZRANGE', KEYS[1], tonumber(ARGV[2]), tonumber(ARGV[2]) + tonumber(ARGV[3]) - 1)
local out = {}
for _, id in ipairs(ids) do
  local key = ARGV[1] .. id
  if ARGV[4] == '' or redis.call('HGET', key, 'owner') == ARGV[4] then
    local record = redis.call('HGETALL', key)
    table.insert(record, 1, id)
    table.insert(out, record)
  end
end
return out
