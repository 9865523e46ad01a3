--[[
  Stores a new job at the tail of its queue, de-duplicated by job id and by delivery id.

  KEYS[1] meta       hash: `tail` / `head` score counters of the queue
  KEYS[2] queued     zset: job id -> position (lower = earlier)
  KEYS[3] job        hash: the job record
  KEYS[4] delivery   string: marks a webhook delivery as seen (a placeholder key when no delivery id)
  KEYS[5] done       string: tombstone of a finished job with the same id

  ARGV[1] job id
  ARGV[2] queue name
  ARGV[3] payload (JSON)
  ARGV[4] delivery id ('' for none)
  ARGV[5] repository owner ('' for none)
  ARGV[6] template ('' for none)
  ARGV[7] how long a delivery id is remembered, ms
  ARGV[8] wake-up channel

  Returns 'enqueued', 'duplicate_job' or 'duplicate_delivery'.
]]
local hasDelivery = ARGV[4] ~= ''
if hasDelivery and redis.call('EXISTS', KEYS[4]) == 1 then
  return 'duplicate_delivery'
end
if redis.call('EXISTS', KEYS[3]) == 1 or redis.call('EXISTS', KEYS[5]) == 1 then
  if hasDelivery then redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[7]) end
  return 'duplicate_job'
end

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local fields = {
  'id', ARGV[1], 'queue', ARGV[2], 'payload', ARGV[3], 'attempts', 0, 'phase', 'queued',
  'state', 'queued', 'enqueuedAt', now, 'token', 0,
}
if hasDelivery then table.insert(fields, 'deliveryId'); table.insert(fields, ARGV[4]) end
if ARGV[5] ~= '' then table.insert(fields, 'repositoryOwner'); table.insert(fields, ARGV[5]) end
if ARGV[6] ~= '' then table.insert(fields, 'template'); table.insert(fields, ARGV[6]) end
redis.call('HSET', KEYS[3], unpack(fields))

local score = redis.call('HINCRBY', KEYS[1], 'tail', 1)
redis.call('ZADD', KEYS[2], score, ARGV[1])
if hasDelivery then redis.call('SET', KEYS[4], ARGV[1], 'PX', ARGV[7]) end
redis.call('PUBLISH', ARGV[8], ARGV[1])
return 'enqueued'
