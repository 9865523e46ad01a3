--! lib
--[[
  Claims the oldest job this handler may take: hand-offs first, then the main queue. Jobs wait in
  one list per group (repository owner, template; for hand-offs also the instance that handed
  off), so the claim reads the head of each group it may take from and takes the lowest position:
  the cost is the number of groups, never the number of jobs it may not take. Skipped job ids are
  stepped over inside a group. Delayed jobs that are due go to the head first (earliest due first).

  ARGV[3] owner (handler instance name)
  ARGV[4] lease length, ms
  ARGV[5..] four counted lists: n, then n values, for
            repository owners allowed, templates refused, job ids skipped, hand-off owners skipped
  then, for template affinity (absent: none):
            grace ms (0: off), a counted list of the templates this host holds, and a counted
            list of triples (template, host id, host name): the other live hosts with a free
            slot that hold each template (the caller read them from the capacity records)

  A group whose head job's template is neither empty nor held here, queued less than the grace
  ago, and held by one of those hosts, is passed over as if it were not allowed: younger jobs stand
  behind that head, so the whole group waits. Such heads are reported as left; the first time a
  job is left (`aff:<id>` marks it for the grace), every idle waiter is woken.

  Returns { token, field1, value1, ... } of the claimed job's hash (with `id` first; with
  `'!left', <JSON>` last when jobs were left), or { 'none', <change counter>, <left JSON> } when
  there is nothing to take.
]]
local owner = ARGV[3]
local leaseMs = tonumber(ARGV[4])

local lists, at = {}, 5
for i = 1, 4 do
  local n = tonumber(ARGV[at])
  local set = { n = n }
  for j = 1, n do set[ARGV[at + j]] = true end
  lists[i] = set
  at = at + n + 1
end
local allowedOwners, refusedTemplates, skipIds, skipHandedOffBy = lists[1], lists[2], lists[3], lists[4]

local graceMs = tonumber(ARGV[at] or '0') or 0
local held, elsewhere = {}, {}
if graceMs > 0 then
  local n = tonumber(ARGV[at + 1])
  for j = 1, n do held[ARGV[at + 1 + j]] = true end
  at = at + n + 2
  n = tonumber(ARGV[at])
  for j = 0, n - 1 do
    local m = ARGV[at + 1 + j * 3]
    if not elsewhere[m] then elsewhere[m] = { ARGV[at + 2 + j * 3], ARGV[at + 3 + j * 3] } end
  end
end
-- Jobs left for a host that holds their template, each reported once.
local left, leftSeen = {}, {}

local now = nowMs()

-- Due delayed jobs go to the head, the latest due first so that the earliest due ends up in front.
local due = redis.call('ZRANGEBYSCORE', BASE .. ':delayed', '-inf', now, 'LIMIT', 0, 100)
for i = #due, 1, -1 do
  local id = due[i]
  local rec, why = readRecord(id)
  if not rec then
    redis.call('ZREM', BASE .. ':delayed', id)
    if why ~= 'missing' or redis.call('EXISTS', doneKey(id)) == 0 then quarantine(id, why == 'missing' and 'job record missing' or why, nil) end
  else
    redis.call('ZREM', BASE .. ':delayed', id)
    redis.call('HDEL', jobKey(id), 'z')
    toQueue(id, rec, true)
  end
end

local function allowed(o, m)
  if allowedOwners.n > 0 and o ~= '' and not allowedOwners[o] then return false end
  if m ~= '' and refusedTemplates[m] then return false end
  return true
end

-- Poison met on the way is quarantined and the claim goes on; this bounds the work of one call.
local budget = 100

-- The first id of a group list this claimer may take, with its position; nil when none.
local function head(listKey, setKey, group)
  local from = 0
  while budget > 0 do
    local ids = redis.call('LRANGE', listKey, from, from + 15)
    if #ids == 0 then return nil end
    local restart = false
    for _, id in ipairs(ids) do
      if not skipIds[id] then
        local pos = tonumber((try('HGET', jobKey(id), 'n')))
        if pos then return pos, id end
        -- No readable position: the record is missing or broken. Set it aside and look again.
        budget = budget - 1
        local rec, why = readRecord(id)
        if rec then
          dropFromList(listKey, setKey, group, id) -- readable but not queued here: a stale entry
        else
          quarantine(id, why == 'missing' and 'job record missing' or why, nil)
        end
        restart = true
        break
      end
      from = from + 1
    end
    if not restart and #ids < 16 then return nil end
  end
  return nil
end

-- Whether the head `id` of a group of template `m` waits for a host that holds `m` (and notes it).
local function leaveForAffinity(id, m)
  if graceMs <= 0 or m == '' or held[m] or not elsewhere[m] then return false end
  local t = tonumber((try('HGET', jobKey(id), 't')))
  if not t or now - t >= graceMs then return false end
  if not leftSeen[id] then
    leftSeen[id] = true
    local host = elsewhere[m]
    left[#left + 1] = { jobId = id, template = m, hostId = host[1], hostName = host[2], remainingMs = t + graceMs - now }
    -- The first time a job is left, every idle handler is woken once: the enqueue's wake-up may
    -- have gone to hosts without the template, and the holders must look before the grace ends.
    if redis.call('SET', BASE .. ':aff:' .. id, '1', 'NX', 'PX', graceMs) then wakeMany(now, 1000000) end
  end
  return true
end

local function leftJson()
  if #left == 0 then return '[]' end
  return cjson.encode(left)
end

local function take(listKey, setKey, group, id, rec, flat)
  dropFromList(listKey, setKey, group, id)
  local key = jobKey(id)
  local token = redis.call('HINCRBY', key, 'k', 1)
  local leaseUntil = now + leaseMs
  redis.call('HSET', key, 's', 'c', 'f', 'claimed', 'w', owner, 'l', leaseUntil)
  redis.call('HDEL', key, 'n', 'b')
  redis.call('ZADD', BASE .. ':leases', leaseUntil, id)
  tlAppend(id, now, { type = 'claimed', by = owner })
  tlState(id, now, 'running')
  local out = redis.call('HGETALL', key)
  if (rec.o or '') ~= '' then out[#out + 1] = 'o'; out[#out + 1] = rec.o end
  if (rec.m or '') ~= '' then out[#out + 1] = 'm'; out[#out + 1] = rec.m end
  table.insert(out, 1, id)
  table.insert(out, 1, 'id')
  table.insert(out, 1, token)
  if #left > 0 then
    out[#out + 1] = '!left'
    out[#out + 1] = leftJson()
  end
  return out
end

for _, kind in ipairs({ 'h', 'q' }) do
  local setKey = BASE .. ':' .. kind .. 'g'
  while budget > 0 do
    local best, bestId, bestGroup
    for _, group in ipairs(redis.call('SMEMBERS', setKey)) do
      local ok, b, o, m
      if kind == 'h' then
        b, o, m = parseHandoffGroup(group)
        ok = allowed(o, m) and not skipHandedOffBy[b]
      else
        o, m = parseGroup(group)
        ok = allowed(o, m)
      end
      if ok then
        local pos, id = head(BASE .. ':' .. kind .. ':' .. group, setKey, group)
        if pos and leaveForAffinity(id, m) then pos = nil end
        if pos and (not best or pos < best) then best, bestId, bestGroup = pos, id, group end
      end
    end
    if not best then break end
    local listKey = BASE .. ':' .. kind .. ':' .. bestGroup
    local rec, flat = readRecord(bestId)
    if rec and rec.s == kind then return take(listKey, setKey, bestGroup, bestId, rec, flat) end
    budget = budget - 1
    if rec then dropFromList(listKey, setKey, bestGroup, bestId) else quarantine(bestId, flat == 'missing' and 'job record missing' or flat, nil) end
  end
end
if budget <= 0 then return { 'again', 0 } end
return { 'none', tonumber(redis.call('HGET', META, 'seq') or '0'), leftJson() }
