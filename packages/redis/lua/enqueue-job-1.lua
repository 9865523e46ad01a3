--! lib
--[[
  Stores a new job at the tail of its group list, de-duplicated by job id and by delivery id, and
  wakes one idle waiter.

  ARGV[3] job id
  ARGV[4] delivery id ('' for none; a UUID arrives as its 16 bytes)
  ARGV[5] repository owner ('' for none)
  ARGV[6] template ('' for none)
  ARGV[7] how long a delivery id is remembered, ms
  ARGV[8..] the payload JSON in pieces of at most 63 bytes

  Delivery ids live in small hashes, one per time bucket (an eighth of the time they are
  remembered) and first byte of the id: up to 128 ids per hash stay in Redis's compact listpack
  encoding (~25 bytes an id instead of ~85 in a set). A hash expires when the last delivery in it
  has been remembered long enough.

  Returns 'enqueued', 'duplicate_job' or 'duplicate_delivery'.
]]
local id, delivery, repoOwner, template = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local deliveryTtl = tonumber(ARGV[7])
local now = nowMs()
local width = math.max(1000, math.ceil(deliveryTtl / 8))
local bucket = math.floor(now / width)

local shard = delivery ~= '' and string.byte(delivery, 1) or 0
local function deliveryKey(b) return BASE .. ':dl:' .. b .. ':' .. shard end
if delivery ~= '' then
  for i = 0, 8 do
    if redis.call('HEXISTS', deliveryKey(bucket - i), delivery) == 1 then return 'duplicate_delivery' end
  end
end
local function rememberDelivery()
  if delivery == '' then return end
  local key = deliveryKey(bucket)
  redis.call('HSET', key, delivery, 1)
  redis.call('PEXPIREAT', key, (bucket + 1) * width + deliveryTtl)
end
if redis.call('EXISTS', jobKey(id)) == 1 or redis.call('EXISTS', doneKey(id)) == 1 then
  rememberDelivery()
  return 'duplicate_job'
end

local pos = redis.call('HINCRBY', META, 'tail', 1)
local fields = { 'v', 2, 's', 'q', 't', now, 'n', pos }
local gid = groupId(repoOwner, template)
if gid then fields[#fields + 1] = 'g'; fields[#fields + 1] = gid end
for i = 8, #ARGV do
  fields[#fields + 1] = tostring(i - 8)
  fields[#fields + 1] = ARGV[i]
end
redis.call('HSET', jobKey(id), unpack(fields))
local g = groupName(repoOwner, template)
redis.call('RPUSH', BASE .. ':q:' .. g, id)
redis.call('SADD', BASE .. ':qg', g)
rememberDelivery()
wakeOne(now)
return 'enqueued'
