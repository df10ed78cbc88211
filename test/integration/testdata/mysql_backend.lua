-- A Lua password backend on MySQL/MariaDB in the style of Nauthilus's
-- documented backend.lua (written for backline's tests): open the DSN on
-- every call with shared = true (one pool across requests), SELECT the
-- account, compare the stored hash with nauthilus_password, return the
-- other columns as attributes. {{DSN}} is filled in by the test. Unlike
-- the documented example it binds the user name as a parameter instead of
-- concatenating it into the SQL.
local nauthilus_util = require("nauthilus_util")
local nauthilus_password = require("nauthilus_password")
local db = require("db")

local config = {
    shared = true,
    max_connections = 10,
    read_only = false,
}

function nauthilus_backend_verify_password(request)
    local b = nauthilus_backend_result.new()

    local mysql, err_open = db.open("mysql", "{{DSN}}", config)
    nauthilus_util.if_error_raise(err_open)

    local result, err_query = mysql:query(
        "SELECT account, password, display_name FROM users WHERE username = ? OR account = ?",
        request.username, request.username)
    nauthilus_util.if_error_raise(err_query)

    local attributes = {}
    for _, row in pairs(result.rows) do
        for id, name in pairs(result.columns) do
            if name == "password" then
                if not request.no_auth then
                    local match, err = nauthilus_password.compare_passwords(row[id], request.password)
                    nauthilus_util.if_error_raise(err)
                    b:authenticated(match)
                end
            else
                if name == "account" then
                    b:account_field("account")
                    b:user_found(true)
                end
                if row[id] ~= nil then
                    attributes[name] = row[id]
                end
            end
        end
    end
    b:attributes(attributes)

    return nauthilus_builtin.BACKEND_RESULT_OK, b
end
