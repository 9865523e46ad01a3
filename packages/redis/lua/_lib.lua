--[[
  Shared by every queue script (prepended by the loader; see src/scripts.ts). Every queue script
  takes KEYS[1] = the queue's meta hash (it routes the call to the queue's cluster slot), and
  ARGV[1] = the queue's key base `<prefix>:jobs:{<queue>}`, ARGV[2] = how long a tombstone lives
  (ms), then, comma-separated, the timeline history bound: how long (ms) and how many finished
  jobs' timelines are kept (`<tombstone>,<age>,<jobs>`; a bare number: defaults). Every other key
  the scripts touch starts with that base, so it carries the same hash tag.

  Record format 2 (one listpack-friendly hash per job, short field names, the payload JSON cut
  into pieces of at most 64 bytes under the fields `0`, `1`, ...):
    v format (2)   s state: q queued, h handed off, c claimed, d delayed   f phase (none: queued)
    t enqueued at (ms)   k fencing token (none: 0)   a attempts (none: 0)   n position in its group list
    g group id (repository owner and template, see `groups`; none: neither)   w lease owner   l lease end (ms)   x VM name
    r runner id   b handed off by   y last reason   z not before (ms)   e:<action> event JSON
]]
local BASE = ARGV[1]
local TOMBSTONE_MS, TL_AGE_MS, TL_MAX_JOBS
do
  local t, a, m = string.match(ARGV[2] or '', '^(%d+),(%d+),(%d+)$')
  if t then
    TOMBSTONE_MS, TL_AGE_MS, TL_MAX_JOBS = tonumber(t), tonumber(a), tonumber(m)
  else
    TOMBSTONE_MS, TL_AGE_MS, TL_MAX_JOBS = tonumber(ARGV[2]), 86400000, 1000
  end
end
local META = KEYS[1]

local OK, LEASE_LOST, JOB_FINISHED, JOB_NOT_FOUND, JOB_QUARANTINED = 1, -1, -2, -3, -4
-- The tombstone of a quarantined job (a finished job's holds `<owner>:<token>:<outcome>`).
local QUARANTINED_MARK = '!quarantined'

-- Records set aside during this call: returned to the store beside the result, which logs them.
local NOTES = {}

local function nowMs()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function jobKey(id) return BASE .. ':j:' .. id end
local function doneKey(id) return BASE .. ':done:' .. id end

-- redis.pcall that returns nil and the message on error (a WRONGTYPE key, a non-integer field).
local function try(...)
  local r = redis.pcall(...)
  if type(r) == 'table' and r.err then return nil, r.err end
  return r
end

-- Group names: `<#owner>:<owner><template>` for the main queue; hand-off groups put
-- `<#by>:<by>` in front. Lengths make the split unambiguous whatever the names contain.
local function groupName(o, m) return #(o or '') .. ':' .. (o or '') .. (m or '') end
local function handoffGroupName(b, o, m) return #(b or '') .. ':' .. (b or '') .. groupName(o, m) end
local function splitLen(s)
  local n, rest = string.match(s, '^(%d+):(.*)$')
  if not n then return nil end
  n = tonumber(n)
  return string.sub(rest, 1, n), string.sub(rest, n + 1)
end
local function parseGroup(name)
  local o, m = splitLen(name)
  return o or '', m or ''
end
local function parseHandoffGroup(name)
  local b, rest = splitLen(name)
  local o, m = parseGroup(rest or '')
  return b or '', o, m
end

local PHASES = { queued = true, claimed = true, preparing = true, vm_started = true, registered = true, in_progress = true, cleaning = true, finished = true }
local STATES = { q = true, h = true, c = true, d = true }
local TEXT_FIELDS = { v = true, s = true, f = true, w = true, x = true, r = true, b = true, y = true }
local INT_FIELDS = { t = true, k = true, a = true, n = true, l = true, z = true, g = true }

-- A record names its (repository owner, template) by a small number: `groups` maps it to the
-- group name, `gids` back. Ids are never reused; there is one per combination ever seen.
local function groupId(o, m)
  if (o or '') == '' and (m or '') == '' then return nil end
  local name = groupName(o, m)
  local gid = redis.call('HGET', BASE .. ':gids', name)
  if gid then return gid end
  gid = redis.call('HINCRBY', META, 'gid', 1)
  redis.call('HSET', BASE .. ':gids', name, gid)
  redis.call('HSET', BASE .. ':groups', gid, name)
  return gid
end

-- Adds the repository owner and template of a record to it and to its flat reply (`o`, `m`).
local function withGroup(rec, flat)
  if not rec.g then return true end
  local name = redis.call('HGET', BASE .. ':groups', rec.g)
  if not name then return false end
  rec.o, rec.m = parseGroup(name)
  if rec.o ~= '' then flat[#flat + 1] = 'o'; flat[#flat + 1] = rec.o end
  if rec.m ~= '' then flat[#flat + 1] = 'm'; flat[#flat + 1] = rec.m end
  return true
end

-- Reads and checks one record. Returns the fields as a table (and the flat HGETALL reply), or
-- nil and why it cannot be used ('missing' when there is no key at all).
local function readRecord(id)
  local flat, err = try('HGETALL', jobKey(id))
  if not flat then return nil, 'not a hash: ' .. tostring(err) end
  if #flat == 0 then return nil, 'missing' end
  local rec = {}
  for i = 1, #flat, 2 do rec[flat[i]] = flat[i + 1] end
  if rec.v ~= '2' then return nil, 'unknown record format (field v is ' .. tostring(rec.v) .. ')' end
  for field, value in pairs(rec) do
    if INT_FIELDS[field] then
      if not string.match(value, '^%-?%d+$') then return nil, 'field ' .. field .. ' is not an integer' end
    elseif not (TEXT_FIELDS[field] or string.match(field, '^%d+$') or string.sub(field, 1, 2) == 'e:') then
      return nil, 'unexpected field ' .. field
    end
  end
  if not rec.t then return nil, 'missing field t' end
  rec.k = rec.k or '0'
  rec.a = rec.a or '0'
  rec.f = rec.f or 'queued'
  if not rec['0'] then return nil, 'missing payload' end
  if not STATES[rec.s or ''] then return nil, 'unknown state ' .. tostring(rec.s) end
  if not PHASES[rec.f or ''] then return nil, 'unknown phase ' .. tostring(rec.f) end
  if (rec.s == 'q' or rec.s == 'h') and not rec.n then return nil, 'queued without a position' end
  if rec.s == 'c' and not (rec.w and rec.l) then return nil, 'claimed without an owner or lease end' end
  if not withGroup(rec, flat) then return nil, 'unknown group ' .. rec.g end
  return rec, flat
end

-- Removes a job id from one list and forgets the group when its list is empty.
local function dropFromList(listKey, setKey, group, id)
  redis.call('LREM', listKey, 1, id)
  if redis.call('LLEN', listKey) == 0 then redis.call('SREM', setKey, group) end
end

-- Removes an id from every list of one kind (the record is unreadable: its group is unknown).
local function dropEverywhere(id)
  for _, kind in ipairs({ 'q', 'h' }) do
    local setKey = BASE .. ':' .. kind .. 'g'
    for _, group in ipairs(redis.call('SMEMBERS', setKey)) do
      dropFromList(BASE .. ':' .. kind .. ':' .. group, setKey, group, id)
    end
  end
end

-- Removes a readable record's id from the part of the queue it is in.
local function unlink(id, rec)
  if rec.s == 'q' then
    dropFromList(BASE .. ':q:' .. groupName(rec.o, rec.m), BASE .. ':qg', groupName(rec.o, rec.m), id)
  elseif rec.s == 'h' then
    local g = handoffGroupName(rec.b, rec.o, rec.m)
    dropFromList(BASE .. ':h:' .. g, BASE .. ':hg', g, id)
  end
  redis.call('ZREM', BASE .. ':leases', id)
  redis.call('ZREM', BASE .. ':delayed', id)
end

--[[
  Job timelines (see src/core timeline.ts). `tl:<id>` is a list of event JSON, oldest first, at
  most TL_CAP long (past that the second entry goes, so the first, `received`, stays). A job that
  was only enqueued has no list: its `received` and `queued` events are read from its record's
  enqueue time (`t`), which saves more memory per queued job than a list costs, and the first
  event appended to it writes them into the list before itself. `tlq`,
  `tlr`, `tlf` are sorted sets of the job ids that are queued, running, finished, scored by when
  they got there; a finished job's list expires after TL_AGE_MS, and `tlf` keeps at most
  TL_MAX_JOBS ids. Every timeline write goes through `try`: a key of the wrong type loses the
  timeline, never the operation it belongs to (a script is not rolled back when a command fails).
]]
local TL_CAP = 50
local TL_SETS = { queued = BASE .. ':tlq', running = BASE .. ':tlr', finished = BASE .. ':tlf' }
local function tlKey(id) return BASE .. ':tl:' .. id end

-- Appends an event (a table, or JSON text from the store, already cleaned of secrets), stamped `now`.
local function tlAppend(id, now, event)
  if type(event) == 'string' then
    local ok, decoded = pcall(cjson.decode, event)
    if not ok or type(decoded) ~= 'table' then return end
    event = decoded
  end
  event.at = now
  local key = tlKey(id)
  if try('LLEN', key) == 0 then
    local t = tonumber((try('HGET', jobKey(id), 't')))
    if t then try('RPUSH', key, cjson.encode({ type = 'received', at = t }), cjson.encode({ type = 'queued', at = t })) end
  end
  local n = try('RPUSH', key, cjson.encode(event))
  if n and n > TL_CAP then
    try('LSET', key, 1, '')
    try('LREM', key, 1, '')
  end
end

-- Moves a job to one of the timeline's states (scored `now`).
local function tlState(id, now, state)
  for name, set in pairs(TL_SETS) do
    if name ~= state then try('ZREM', set, id) end
  end
  try('ZADD', TL_SETS[state], now, id)
end

-- The job left the store: its timeline is kept for the history bound, and older ones are dropped
-- (at most 100 per call, more than one finish adds).
local function tlFinished(id, now)
  tlState(id, now, 'finished')
  try('PEXPIRE', tlKey(id), TL_AGE_MS)
  local set = TL_SETS.finished
  local old = try('ZRANGEBYSCORE', set, '-inf', '(' .. (now - TL_AGE_MS), 'LIMIT', 0, 100) or {}
  local extra = (try('ZCARD', set) or 0) - TL_MAX_JOBS
  if extra > 0 then
    for _, x in ipairs(try('ZRANGE', set, 0, math.min(extra, 100) - 1) or {}) do old[#old + 1] = x end
  end
  for _, x in ipairs(old) do
    try('ZREM', set, x)
    try('DEL', tlKey(x))
  end
end

-- Sets a record aside: out of the queue, moved to `bad:<id>`, a note (capped at 1000), a count,
-- and a tombstone so that the id stays known. `rec` is the readable record, or nil.
-- `tlReason`: the reason as the timeline keeps it (cleaned by the store; default `reason`).
local function quarantine(id, reason, rec, key, tlReason)
  local now = nowMs()
  tlAppend(id, now, { type = 'quarantined', reason = string.sub(tlReason or reason, 1, 200) })
  tlFinished(id, now)
  if rec then unlink(id, rec) else
    redis.call('ZREM', BASE .. ':leases', id)
    redis.call('ZREM', BASE .. ':delayed', id)
    dropEverywhere(id)
  end
  key = key or jobKey(id)
  if redis.call('EXISTS', key) == 1 then
    local bad = BASE .. ':bad:' .. id
    redis.call('RENAME', key, bad)
    redis.call('PEXPIRE', bad, TOMBSTONE_MS)
  end
  redis.call('SET', doneKey(id), QUARANTINED_MARK, 'PX', TOMBSTONE_MS)
  local note = { key = key, jobId = id, reason = reason, at = nowMs() }
  NOTES[#NOTES + 1] = note
  redis.call('LPUSH', BASE .. ':quarantine', cjson.encode(note))
  redis.call('LTRIM', BASE .. ':quarantine', 0, 999)
  redis.call('HINCRBY', META, 'bad', 1)
end

-- The refusal for a job without a readable record: finished, quarantined or unknown. A record
-- that exists but cannot be read is quarantined here (its owner must stop).
local function refusalWithout(id, why)
  if why ~= 'missing' then
    quarantine(id, why, nil)
    return JOB_QUARANTINED
  end
  local done = try('GET', doneKey(id))
  if done == QUARANTINED_MARK then return JOB_QUARANTINED end
  if done then return JOB_FINISHED, done end
  return JOB_NOT_FOUND
end

-- The record of a job the caller holds (owner '' = any owner, for the reaper), or nil and a code.
local function owned(id, owner, token)
  local rec, why = readRecord(id)
  if not rec then return nil, refusalWithout(id, why) end
  if rec.s ~= 'c' or rec.k ~= token or (owner ~= '' and rec.w ~= owner) then return nil, LEASE_LOST end
  return rec
end

-- Idle waiters are scored by the end of their wait; a passive one (it did not just find nothing to
-- claim, e.g. its host is at capacity) has this added, so every active waiter is woken first.
local PASSIVE = 10000000000000

-- Something became claimable (`n` jobs): bump the change counter once and wake up to `n` idle
-- waiters (active ones first, then those whose wait ends first; waits that already ended are
-- dropped). Returns how many were woken.
local function wakeMany(now, n)
  redis.call('HINCRBY', META, 'seq', 1)
  local idle = BASE .. ':idle'
  local woken = 0
  while woken < n do
    local popped = redis.call('ZPOPMIN', idle)
    if #popped == 0 then return woken end
    local ends = tonumber(popped[2])
    if ends >= PASSIVE then ends = ends - PASSIVE end
    if ends > now then
      redis.call('PUBLISH', BASE .. ':wake', popped[1])
      woken = woken + 1
    end
  end
  return woken
end

local function wakeOne(now) return wakeMany(now, 1) end

-- Appends (tail) or prepends (head) a job to its main-queue group list at a new position.
local function toQueue(id, rec, atHead)
  local pos = redis.call('HINCRBY', META, atHead and 'head' or 'tail', atHead and -1 or 1)
  local g = groupName(rec.o, rec.m)
  redis.call('HSET', jobKey(id), 's', 'q', 'n', pos)
  redis.call('HDEL', jobKey(id), 'f')
  if atHead then redis.call('LPUSH', BASE .. ':q:' .. g, id) else redis.call('RPUSH', BASE .. ':q:' .. g, id) end
  redis.call('SADD', BASE .. ':qg', g)
end

-- Payload pieces of at most 63 bytes, never cutting a UTF-8 character (each piece is valid text).
local function pieces(s)
  local out, i = {}, 1
  while i <= #s do
    local j = math.min(i + 62, #s)
    while j < #s and j > i do
      local b = string.byte(s, j + 1)
      if b < 128 or b >= 192 then break end
      j = j - 1
    end
    out[#out + 1] = string.sub(s, i, j)
    i = j + 1
  end
  if #out == 0 then out[1] = '' end
  return out
end
