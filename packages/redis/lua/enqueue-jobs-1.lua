--! lib
--[[
  Stores new jobs at the tail of their group lists, in the order given, each de-duplicated by job
  id and by delivery id (also against the jobs before it in the same call), and wakes one idle
  waiter per job stored. The store sends the webhooks of one event-loop round in one call. Each
  job stored enters the timeline's queued set; its `received` and `queued` events are its record's
  enqueue time (see _lib.lua).

  ARGV[3] how long a delivery id is remembered, ms
  then, per job: id, delivery id ('' for none; a UUID arrives as its 16 bytes), repository owner
  ('' for none), template ('' for none), the number of payload pieces, and the payload JSON in
  that many pieces of at most 63 bytes.

  Delivery ids live in small hashes, one per time bucket as wide as the time they are remembered
  and first byte of the id: up to 128 ids per hash stay in Redis's compact listpack encoding
  (~25 bytes an id instead of ~85 in a set). A hash expires when the last delivery in it has been
  remembered long enough, so an id is checked against two buckets (the current and the previous).

  Returns one of 'enqueued', 'duplicate_job', 'duplicate_delivery' per job, in order, or
  'error: <why>' for a job whose queue list holds another type (nothing of it is written).
]]
local deliveryTtl = tonumber(ARGV[3])
local now = nowMs()
local width = math.max(1000, deliveryTtl)
local bucket = math.floor(now / width)
local expireAt = (bucket + 1) * width + deliveryTtl

local function deliveryKey(b, shard) return BASE .. ':dl2:' .. b .. ':' .. shard end

-- First pass, reads only (and group ids): every check that can fail runs before anything is
-- written, so a key of the wrong type refuses the call (or one job) without leaving half a job.
local results, plan = {}, {}
local seenIds, seenDeliveries = {}, {}
local gids, listOk = {}, {}
local i = 4
while i <= #ARGV do
  local id, delivery, repoOwner, template, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  local first = i + 5
  i = first + n
  local shard = delivery ~= '' and string.byte(delivery, 1) or 0
  local result
  if delivery ~= '' and (seenDeliveries[delivery] or try('HEXISTS', deliveryKey(bucket, shard), delivery) == 1 or try('HEXISTS', deliveryKey(bucket - 1, shard), delivery) == 1) then
    result = 'duplicate_delivery'
  elseif seenIds[id] or redis.call('EXISTS', jobKey(id), doneKey(id)) > 0 then
    result = 'duplicate_job'
  else
    local g = groupName(repoOwner, template)
    if listOk[g] == nil then
      local kind = redis.call('TYPE', BASE .. ':q:' .. g).ok
      listOk[g] = kind == 'list' or kind == 'none'
    end
    if listOk[g] then
      if gids[g] == nil then gids[g] = groupId(repoOwner, template) or false end
      result = 'enqueued'
      seenIds[id] = true
      plan[#plan + 1] = { id = id, g = g, first = first, n = n }
    else
      result = 'error: the queue list ' .. BASE .. ':q:' .. g .. ' is not a list'
    end
  end
  -- A refused job's delivery is not remembered: GitHub's redelivery of it must get through.
  if delivery ~= '' and (result == 'enqueued' or result == 'duplicate_job') then seenDeliveries[delivery] = shard end
  results[#results + 1] = result
end

-- Second pass: the writes.
if #plan > 0 then
  local tail = redis.call('HINCRBY', META, 'tail', #plan) - #plan
  local lists, listOrder = {}, {}
  for _, job in ipairs(plan) do
    tail = tail + 1
    local fields = { 'v', 2, 's', 'q', 't', now, 'n', tail }
    if gids[job.g] then fields[#fields + 1] = 'g'; fields[#fields + 1] = gids[job.g] end
    for p = 0, job.n - 1 do
      fields[#fields + 1] = tostring(p)
      fields[#fields + 1] = ARGV[job.first + p]
    end
    redis.call('HSET', jobKey(job.id), unpack(fields))
    tlState(job.id, now, 'queued')
    if not lists[job.g] then
      lists[job.g] = {}
      listOrder[#listOrder + 1] = job.g
    end
    local list = lists[job.g]
    list[#list + 1] = job.id
  end
  for _, g in ipairs(listOrder) do
    redis.call('RPUSH', BASE .. ':q:' .. g, unpack(lists[g]))
    redis.call('SADD', BASE .. ':qg', g)
  end
  wakeMany(now, #plan)
end
-- A delivery hash of the wrong type only loses its memory of deliveries (the job id still de-duplicates).
for delivery, shard in pairs(seenDeliveries) do
  local key = deliveryKey(bucket, shard)
  if try('HSET', key, delivery, 1) then redis.call('PEXPIREAT', key, expireAt) end
end
return results
