--! lib
--[[
  Stores a new job at the tail of its group list, de-duplicated by job id and by delivery id, and
  wakes one idle waiter.

  ARGV[3] job id
  ARGV[4] delivery id ('' for none; a UUID arrives as its 16 bytes)
  ARGV[5] repository owner ('' for none)
  ARGV[6] template ('' for none)
  ARGV[7] how long a delivery id is remembered, ms
  ARGV[8..] the payload JSON in pieces of at most 64 bytes

  Delivery ids live in sets of one time bucket each (a ninth of the time they are remembered);
  a set expires when the last delivery in it has been remembered long enough.

  Returns 'enqueued', 'duplicate_job' or 'duplicate_delivery'.
]]
local id, delivery, repoOwner, template = ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local deliveryTtl = tonumber(ARGV[7])
local now = nowMs()
local width = math.max(1000, math.ceil(deliveryTtl / 8))
local bucket = math.floor(now / width)

if delivery ~= '' then
  for i = 0, 8 do
    if redis.call('SISMEMBER', BASE .. ':dl:' .. (bucket - i), delivery) == 1 then return 'duplicate_delivery' end
  end
end
local function rememberDelivery()
  if delivery == '' then return end
  local set = BASE .. ':dl:' .. bucket
  redis.call('SADD', set, delivery)
  redis.call('PEXPIREAT', set, (bucket + 1) * width + deliveryTtl)
end
if redis.call('EXISTS', jobKey(id)) == 1 or redis.call('EXISTS', doneKey(id)) == 1 then
  rememberDelivery()
  return 'duplicate_job'
end

local pos = redis.call('HINCRBY', META, 'tail', 1)
local fields = { 'v', 2, 's', 'q', 'f', 'queued', 't', now, 'k', 0, 'a', 0, 'n', pos }
if repoOwner ~= '' then fields[#fields + 1] = 'o'; fields[#fields + 1] = repoOwner end
if template ~= '' then fields[#fields + 1] = 'm'; fields[#fields + 1] = template end
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
