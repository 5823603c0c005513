-- wrk script: GET a random path from a file (one path a line), with an optional
-- Authorization header (or, with a third argument, a Cookie header instead: "" for the
-- second); prints one JSON line of figures when the run ends.
-- Usage: wrk -s paths.lua URL -- PATHS_FILE [AUTHORIZATION [COOKIE]]
local paths = {}
local headers = {}

function init(args)
  for line in io.lines(args[1]) do
    paths[#paths + 1] = line
  end
  if args[2] and args[2] ~= "" then
    headers["Authorization"] = args[2]
  end
  if args[3] then
    headers["Cookie"] = args[3]
  end
  math.randomseed(#paths * 7919 + (wrk.thread and 1 or 0))
end

function request()
  return wrk.format("GET", paths[math.random(#paths)], headers)
end

function done(summary, latency, requests)
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "p50_us": %d, "p99_us": %d, '
      .. '"errors": %d, "non_2xx": %d, "bytes": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    summary.errors.status, summary.bytes))
end
