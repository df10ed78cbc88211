-- A rate-limit filter in the common Nauthilus style: it notes the login in
-- nauthilus_cache, then counts it with a Redis script and raises when
-- Redis answers an error. In explain's dry run the script is not run
-- (nil, "...: not run in a dry run (explain)"), so the filter raises: the
-- dry run answers tempfail, and the answer must still list what it
-- suppressed.
local cache = require("nauthilus_cache")
local redis = require("nauthilus_redis")

function nauthilus_call_filter(request)
    cache.cache_set("last_login:" .. request.username, true, 3600)
    local count, err = redis.redis_run_script("default",
        "return redis.call('INCR', KEYS[1])", "", {"logins:" .. request.username})
    if err ~= nil then
        error("rate limit: " .. err)
    end
    if count > 100 then
        return nauthilus_builtin.FILTER_REJECT, nauthilus_builtin.FILTER_RESULT_OK
    end
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
