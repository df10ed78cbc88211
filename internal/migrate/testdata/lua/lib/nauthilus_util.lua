local M = {}
function M.getenv(name, default) return default end
return M
