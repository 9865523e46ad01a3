--[[
  Claims the first job this handler may take: hand-offs first, then the main queue, each in order.
  Walks each queue from its head and stops at the first match, so the cost is the number of jobs
  skipped by the filters (at most ARGV[4]), never the queue depth. Delayed jobs that are due are
  first moved to the head of the main queue (earliest due first); jobs not yet due are never looked
  at (one ZRANGEBYSCORE on the delayed set, empty in the common case).

  KEYS[1] handoff    zset: handed-off job ids
  KEYS[2] queued     zset: queued job ids
  KEYS[3] leases     zset: claimed job id -> lease end (ms)
  KEYS[4] quarantine list: records set aside (JSON)
  KEYS[5] delayed    zset: job id -> time it is due (ms)
  KEYS[6] meta       hash: `tail` / `head` score counters

  ARGV[1] owner (handler instance name)
  ARGV[2] lease length, ms
  ARGV[3] job key prefix (`<prefix>:jobs:{<queue>}:job:`)
  ARGV[4] most candidates to look at before giving up
  ARGV[5..] four counted lists: n, then n values, for
            repository owners allowed, templates refused, job ids skipped, hand-off owners skipped

  Returns nil, or { token, field1, value1, ... } of the claimed job's hash.
]]
local owner = ARGV[1]
local leaseMs = tonumber(ARGV[2])
local jobPrefix = ARGV[3]
local budget = tonumber(ARGV[4])

local lists = {}
local at = 5
for i = 1, 4 do
  local n = tonumber(ARGV[at])
  local set = { n = n }
  for j = 1, n do set[ARGV[at + j]] = true end
  lists[i] = set
  at = at + n + 1
end
local allowedOwners, refusedTemplates, skipIds, skipHandedOffBy = lists[1], lists[2], lists[3], lists[4]

local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)

-- Due delayed jobs go to the head, the latest due first so that the earliest due ends up in front.
local due = redis.call('ZRANGEBYSCORE', KEYS[5], '-inf', now, 'LIMIT', 0, 100)
for i = #due, 1, -1 do
  local id = due[i]
  redis.call('ZREM', KEYS[5], id)
  redis.call('HDEL', jobPrefix .. id, 'notBefore')
  redis.call('ZADD', KEYS[2], redis.call('HINCRBY', KEYS[6], 'head', -1), id)
end

-- A member without its hash (or a hash without an id) cannot be claimed or read; set it aside so
-- it never blocks the queue, and leave a note the store logs and the admin view shows.
local function quarantine(zset, id, reason)
  redis.call('ZREM', zset, id)
  local key = jobPrefix .. id
  if redis.call('EXISTS', key) == 1 then
    redis.call('RENAME', key, jobPrefix:gsub(':job:$', ':bad:') .. id)
  end
  redis.call('LPUSH', KEYS[4], cjson.encode({ key = key, jobId = id, reason = reason, at = now }))
  redis.call('LTRIM', KEYS[4], 0, 999)
end

local function eligible(id, fields, fromHandoff)
  if skipIds[id] then return false end
  local repoOwner, template, handedOffBy = fields[2], fields[3], fields[4]
  if allowedOwners.n > 0 and repoOwner and not allowedOwners[repoOwner] then return false end
  if template and refusedTemplates[template] then return false end
  if fromHandoff and handedOffBy and skipHandedOffBy[handedOffBy] then return false end
  return true
end

local function take(zset, id)
  local key = jobPrefix .. id
  local token = redis.call('HINCRBY', key, 'token', 1)
  local leaseUntil = now + leaseMs
  redis.call('HSET', key, 'owner', owner, 'leaseUntil', leaseUntil, 'phase', 'claimed', 'state', 'claimed')
  redis.call('HDEL', key, 'handedOffBy')
  redis.call('ZREM', zset, id)
  redis.call('ZADD', KEYS[3], leaseUntil, id)
  local result = redis.call('HGETALL', key)
  table.insert(result, 1, token)
  return result
end

local batch = 16
for q = 1, 2 do
  local zset = KEYS[q]
  local offset = 0
  while budget > 0 do
    local ids = redis.call('ZRANGE', zset, offset, offset + batch - 1)
    if #ids == 0 then break end
    local removed = 0
    for _, id in ipairs(ids) do
      budget = budget - 1
      local fields = redis.call('HMGET', jobPrefix .. id, 'id', 'repositoryOwner', 'template', 'handedOffBy')
      if not fields[1] then
        quarantine(zset, id, 'job record missing or without id')
        removed = removed + 1
      elseif eligible(id, fields, q == 1) then
        return take(zset, id)
      end
      if budget <= 0 then break end
    end
    offset = offset + #ids - removed
  end
end
return nil
