-- POST batches of args[1] events round robin over the sessions args[3...]; with args[2] "ids"
-- each event carries a fresh client id (as the Python client sends), so the append looks its
-- ids up first. One event is about 400 bytes of JSON, as in append.lua (perf/primary_limits.py).
--   wrk ... -s perf/wrk/append_sized.lua http://host:port -- SIZE ids|- ID [ID...]
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "report.lua")
local size, with_ids, paths, headers, fixed = 1, false, {}, nil, request
local function r() return math.random(0, 65535) end
local function batch(ids)
  local events = {}
  for n = 1, size do
    local kind = ({ "llm_call", "test_generated", "test_passed", "file_written" })[n % 4 + 1]
    local id = ids and string.format('"id": "%04x%04x-%04x-4%03x-%04x-%04x%04x%04x", ',
      r(), r(), r(), r() % 4096, 32768 + r() % 16384, r(), r(), r()) or ""
    events[n] = string.format('{%s"event_type": "%s", "event_data": {"class_name": ' ..
      '"org.example.owner.OwnerController", "file_path": "/repos/petclinic/src/test/java/' ..
      'org/example/OwnerControllerTest.java", "prompt_tokens": %d, "completion_tokens": %d, ' ..
      '"duration_ms": %d}, "message": "%s for OwnerController (event %d)"}',
      id, kind, 1000 + n * 37, 200 + n * 11, 900 + n * 101, kind, n)
  end
  return '{"events": [' .. table.concat(events, ", ") .. ']}'
end
function init(args)
  size, with_ids = tonumber(args[1]), args[2] == "ids"
  headers = base_headers({ ["Content-Type"] = "application/json" })
  for i = 3, #args do paths[#paths + 1] = "/api/v2/sessions/" .. args[i] .. "/events" end
  local body = batch(false)
  for _, path in ipairs(paths) do
    requests[#requests + 1] = wrk.format("POST", path, headers, body)
  end
  position = ((thread_index - 1) * 7) % #requests + 1
  math.randomseed(os.time() * 100 + thread_index)
end
function request()
  if not with_ids then return fixed() end
  position = position % #paths + 1
  return wrk.format("POST", paths[position], headers, batch(true))
end
