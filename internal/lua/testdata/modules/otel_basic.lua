-- backline-test: standalone
-- nauthilus_opentelemetry with tracing off (backline has none): spec §4.6,
-- corpus §5 items 1-3.
local t = require("testlib")
local otel = require("nauthilus_opentelemetry")

function nauthilus_call_filter(request)
  local enabled, err = otel.is_enabled()
  t.eq(enabled, false, "is_enabled") t.eq(err, nil)
  -- the guard real scripts use
  if otel and otel.is_enabled() then error("tracing should be off") end

  local tracer = otel.tracer("backline/test")
  local span = tracer:start_span("lookup", { kind = "client", attributes = { a = "b", n = 1, ok = true } })
  span:set_attribute("k", "v")
  span:set_attributes({ x = 1 })
  span:add_event("evt", { e = 1 })
  span:set_status("error", "desc")
  span:record_error("oops")
  span:finish()
  span["end"](span)
  t.eq(span.unknown_method, nil, "unknown span field")
  t.eq(span[1], nil, "numeric field")
  span.mine = 1 -- a script's own field on its own span
  t.eq(tracer:start_span("other").mine, nil, "fields are per span")

  -- with_span calls fn with a span and returns its results; errors propagate
  local called = false
  local a, b = tracer:with_span("work", function(s)
    called = true
    s:set_attribute("k", 1)
    return "r1", "r2"
  end, { kind = "internal" })
  t.truthy(called, "with_span calls fn") t.eq(a, "r1") t.eq(b, "r2")
  t.raises(function() tracer:with_span("bad", function() error("inside") end) end, "inside")
  t.raises(function() tracer:with_span("bad", "not a function") end, "function expected")
  t.eq(type(otel.default_tracer():start_span("d")), "table", "default tracer")

  -- propagation changes nothing while tracing is off
  local headers = {}
  otel.inject_headers(headers)
  t.eq(next(headers), nil, "inject_headers leaves the table empty")
  otel.extract_headers({ traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" })
  t.raises(function() otel.inject_headers("x") end, "table expected")

  -- baggage within the run
  otel.baggage_set("tenant", "t1")
  t.eq(otel.baggage_get("tenant"), "t1")
  t.eq(otel.baggage_get("missing"), nil)
  t.deq(otel.baggage_all(), { tenant = "t1" })
  for i = 1, 100 do otel.baggage_set("k" .. i, "v") end
  t.truthy(t.len(otel.baggage_all()) <= 64, "baggage is bounded")
  otel.baggage_set("huge", string.rep("x", 10000))
  t.eq(otel.baggage_get("huge"), nil, "oversized baggage dropped")
  otel.baggage_clear()
  t.deq(otel.baggage_all(), {}, "cleared")

  -- semconv helpers
  t.deq(otel.semconv.peer_service("redis"), { ["peer.service"] = "redis" })
  t.deq(otel.semconv.http_client_attrs({ method = "GET", url = "http://x/", status_code = 200, junk = {} }),
    { ["http.request.method"] = "GET", ["url.full"] = "http://x/", ["http.response.status_code"] = 200 })
  t.deq(otel.semconv.db_attrs({ system = "redis", operation = "GET" }), { ["db.system"] = "redis", ["db.operation"] = "GET" })
  t.deq(otel.semconv.net_attrs({ peer_name = "h", peer_port = 6379 }), { ["server.address"] = "h", ["server.port"] = 6379 })
  t.raises(function() otel.semconv.peer_service = nil end, "read-only")
  return t.ACCEPT, t.OK
end
