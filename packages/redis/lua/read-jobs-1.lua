--! lib
--[[
  Reads jobs for the admin views, `get`, `listOwned` and the reaper. Records that cannot be read
  are quarantined here and left out; a missing record is left out.

  ARGV[3] what: 'ids' (ARGV[6..] are job ids), 'queued', 'handed_off', 'claimed', 'delayed',
          'expired' (claimed with a lease that ended)
  ARGV[4] offset   ARGV[5] limit   (ARGV[6] for 'claimed': owner to keep, '' for all)

  Returns a list of { 'id', id, field1, value1, ... } in queue order.
]]
local what, offset, limit = ARGV[3], tonumber(ARGV[4]), tonumber(ARGV[5])
local ids = {}
if what == 'ids' then
  for i = 6, #ARGV do ids[#ids + 1] = ARGV[i] end
elseif what == 'claimed' then
  ids = redis.call('ZRANGE', BASE .. ':leases', offset, offset + limit - 1)
elseif what == 'delayed' then
  ids = redis.call('ZRANGE', BASE .. ':delayed', offset, offset + limit - 1)
elseif what == 'expired' then
  ids = redis.call('ZRANGEBYSCORE', BASE .. ':leases', '-inf', nowMs(), 'LIMIT', 0, limit)
else
  -- Group lists merged by position: the first offset + limit of each group, sorted, one page cut.
  local kind = what == 'queued' and 'q' or 'h'
  local setKey = BASE .. ':' .. kind .. 'g'
  local all = {}
  for _, group in ipairs(redis.call('SMEMBERS', setKey)) do
    local listKey = BASE .. ':' .. kind .. ':' .. group
    for _, id in ipairs(redis.call('LRANGE', listKey, 0, offset + limit - 1)) do
      local pos = tonumber((try('HGET', jobKey(id), 'n')))
      if pos then
        all[#all + 1] = { pos, id }
      else
        local rec, why = readRecord(id)
        if rec then dropFromList(listKey, setKey, group, id) else quarantine(id, why == 'missing' and 'job record missing' or why, nil) end
      end
    end
  end
  table.sort(all, function(a, b) return a[1] < b[1] end)
  for i = offset + 1, math.min(#all, offset + limit) do ids[#ids + 1] = all[i][2] end
end

local keepOwner = what == 'claimed' and ARGV[6] or ''
local out = {}
for _, id in ipairs(ids) do
  local rec, flat = readRecord(id)
  if rec then
    if keepOwner == '' or rec.w == keepOwner then
      table.insert(flat, 1, id)
      table.insert(flat, 1, 'id')
      out[#out + 1] = flat
    end
  elseif flat ~= 'missing' then
    quarantine(id, flat, nil)
  elseif what ~= 'ids' then
    -- Listed but gone (and not finished): an entry nothing can read.
    if redis.call('EXISTS', doneKey(id)) == 0 then quarantine(id, 'job record missing', nil) else unlink(id, { s = '' }) end
  end
end
return out
