-- GET requests, round robin over the paths given after `--`. An argument "PATH ETAG" also sends
-- `If-None-Match: ETAG`. The API key comes from wrk's -H "X-API-Key: ...".
--   wrk -t2 -c50 -d10s -H "X-API-Key: k" -s perf/wrk/get.lua http://host:port -- PATH [PATH...]

dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")

function init(args)
  for _, arg in ipairs(args) do
    local path, etag = arg:match("^(%S+)%s+(.+)$")
    local extra = {}
    if path then extra["If-None-Match"] = etag else path = arg end
    requests[#requests + 1] = wrk.format("GET", path, base_headers(extra))
  end
  position = (thread_index - 1) % #requests + 1  -- threads start apart
end
