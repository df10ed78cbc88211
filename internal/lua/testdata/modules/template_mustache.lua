-- template: gopher-lua-libs' README examples, then the Mustache rules.
local template = require("template")

function nauthilus_call_filter(request)
  local mustache, err = template.choose("mustache")
  assert(mustache ~= nil and err == nil)
  assert(mustache:render("Hello {{name}}!", {name = "world"}) == "Hello world!")
  assert(mustache:render("{{#data}} {{.}} {{/data}}", {data = {"one", "two"}}) == " one  two ")

  -- escaping
  assert(mustache:render("{{x}}|{{{x}}}|{{&x}}", {x = "<a href=\"q\">&'"}) ==
    "&lt;a href=&#34;q&#34;&gt;&amp;&#39;|<a href=\"q\">&'|<a href=\"q\">&'")
  -- missing names, numbers, booleans, dotted names
  assert(mustache:render("[{{missing}}]{{n}} {{f}} {{b}}", {n = 42, f = 1.5, b = true}) == "[]42 1.5 true")
  assert(mustache:render("{{user.name}}@{{user.domain.name}}", {user = {name = "a", domain = {name = "d"}}}) == "a@d")
  -- sections: map pushes a context, outer names still visible
  assert(mustache:render("{{#u}}{{name}}-{{outer}}{{/u}}", {u = {name = "n"}, outer = "o"}) == "n-o")
  -- inverted sections and empty values (nil, false, 0, "", {})
  for _, empty in ipairs({false, 0, "", {}}) do
    assert(mustache:render("{{#v}}yes{{/v}}{{^v}}no{{/v}}", {v = empty}) == "no")
  end
  assert(mustache:render("{{#v}}yes{{/v}}{{^v}}no{{/v}}", {}) == "no")
  assert(mustache:render("{{#v}}yes{{/v}}", {v = "x"}) == "yes")
  -- lists of tables
  assert(mustache:render("{{#l}}<{{k}}>{{/l}}", {l = {{k = 1}, {k = 2}}}) == "<1><2>")
  -- comments and standalone lines
  assert(mustache:render("a{{! note }}b", {}) == "ab")
  assert(mustache:render("begin\n  {{#s}}\nline\n  {{/s}}\nend\n", {s = true}) == "begin\nline\nend\n")

  -- errors: (nil, message)
  local out, perr = mustache:render("{{#open}}never closed", {})
  assert(out == nil and perr:find("section not closed"), tostring(perr))
  out, perr = mustache:render("{{#a}}x{{/b}}", {})
  assert(out == nil and perr:find("does not match"), tostring(perr))
  out, perr = mustache:render("{{unclosed", {})
  assert(out == nil and perr:find("unclosed tag"))
  out, perr = mustache:render("{{> partial}}", {})
  assert(out == nil and perr:find("partials are not supported"))
  out, perr = mustache:render(string.rep("{{#a}}", 100) .. string.rep("{{/a}}", 100), {})
  assert(out == nil and perr:find("nested too deeply"))
  local none, cerr = template.choose("handlebars")
  assert(none == nil and cerr:find("unknown template engine"))
  -- '.' instead of ':' and a non-string template raise
  assert(not pcall(mustache.render, "x", {}))
  assert(not pcall(mustache.render, mustache, {}, {}))
  -- render_file reads only the scripts' directories
  local f, ferr = mustache:render_file("/etc/passwd", {})
  assert(f == nil and ferr:find("outside the Lua script and package paths"), tostring(ferr))
  assert(not pcall(function() mustache.render = print end))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
