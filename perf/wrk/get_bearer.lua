-- get.lua with `Authorization: Bearer <token>` instead of an API key: the token comes from the
-- environment (WRK_BEARER_TOKEN), so that it stays out of the command line as out of URLs.
--   WRK_BEARER_TOKEN=... wrk -t2 -c50 -d10s -s perf/wrk/get_bearer.lua http://host:port -- PATH

wrk.headers["Authorization"] = "Bearer " .. assert(os.getenv("WRK_BEARER_TOKEN"), "no token")
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "get.lua")
