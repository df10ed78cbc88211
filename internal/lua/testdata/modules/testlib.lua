-- Assertions shared by the module test scripts (required from package_path).
local M = {}

local function show(v)
  if type(v) == "string" then return string.format("%q", v) end
  return tostring(v)
end

function M.eq(got, want, what)
  if got ~= want then
    error((what or "value") .. ": got " .. show(got) .. ", want " .. show(want), 2)
  end
end

function M.truthy(v, what)
  if not v then error((what or "condition") .. " is not true", 2) end
end

-- deep compares two values (tables by content).
function M.same(a, b)
  if type(a) ~= type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not M.same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end

function M.deq(got, want, what)
  if not M.same(got, want) then
    error((what or "table") .. " differs from what was expected", 2)
  end
end

-- raises(fn, pattern) checks that fn raises an error containing the plain text.
function M.raises(fn, text, what)
  local ok, err = pcall(fn)
  if ok then error((what or "call") .. " did not raise", 2) end
  if text and not string.find(tostring(err), text, 1, true) then
    error((what or "call") .. " raised " .. show(tostring(err)) .. ", want text " .. show(text), 2)
  end
  return err
end

function M.len(t)
  local n = 0
  for _ in pairs(t) do n = n + 1 end
  return n
end

M.ACCEPT = false
M.OK = 0

return M
