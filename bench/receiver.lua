-- wrk script for bench:receiver: replays pre-signed, unique workflow_job webhooks from a file
-- (one per line: delivery id, TAB, X-Hub-Signature-256, TAB, JSON body), so wrk itself does no
-- HMAC work. Each thread takes every Nth line, so no two requests share a job id.
local counter = 0
local threads = 0

function setup(thread)
  thread:set("offset", counter)
  counter = counter + 1
  threads = counter
end

local deliveries, signatures, bodies = {}, {}, {}
local index, step = 1, 1

function init(args)
  for line in io.lines(args[1]) do
    local d, s, b = line:match("^([^\t]*)\t([^\t]*)\t(.*)$")
    deliveries[#deliveries + 1] = d
    signatures[#signatures + 1] = s
    bodies[#bodies + 1] = b
  end
  step = tonumber(args[2])
  index = offset + 1
end

function request()
  local i = index
  index = index + step
  if i > #bodies then i = ((i - 1) % #bodies) + 1 end -- wraps only if the pool was too small
  return wrk.format("POST", nil, {
    ["content-type"] = "application/json",
    ["x-github-event"] = "workflow_job",
    ["x-github-delivery"] = deliveries[i],
    ["x-hub-signature-256"] = signatures[i],
  }, bodies[i])
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d errors=%d non2xx=%d duration_us=%d p50_us=%d p99_us=%d\n",
    summary.requests, summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.duration, latency:percentile(50), latency:percentile(99)))
end
