-- The db module against the fixture's MariaDB ({{DSN}}; a table of its own,
-- {{TABLE}}). Every handle and statement method, NULLs and column types,
-- bound arguments (hostile ones included), SQL errors.
local db = require("db")

local function check(cond, what)
  if not cond then error(what, 2) end
end

function nauthilus_call_filter(request)
  local h, err = db.open("mysql", "{{DSN}}", {shared = true, max_connections = 4, read_only = false})
  check(h and err == nil, "open: " .. tostring(err))

  local _, err = h:exec("DROP TABLE IF EXISTS {{TABLE}}")
  check(err == nil, "drop: " .. tostring(err))
  local _, err = h:exec([[CREATE TABLE {{TABLE}} (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(64) NULL,
    score DOUBLE NULL, price DECIMAL(6,2) NULL, flag BOOLEAN NULL, blob_col VARBINARY(16) NULL, seen DATETIME NULL)]])
  check(err == nil, "create: " .. tostring(err))

  -- exec with arguments: nil is NULL, an integral number an integer.
  local res, err = h:exec("INSERT INTO {{TABLE}} (name, score, price, flag, blob_col, seen) VALUES (?, ?, ?, ?, ?, ?)",
    "alice", 1.5, "12.50", true, "a\0b", "2024-01-02 03:04:05")
  check(err == nil and res.rows_affected == 1 and res.last_insert_id == 1, "insert: " .. tostring(err))
  res, err = h:exec("INSERT INTO {{TABLE}} (name, score) VALUES (?, ?)", "x'); DROP TABLE {{TABLE}}; --", nil)
  check(err == nil and res.last_insert_id == 2, "hostile insert: " .. tostring(err))

  -- query: columns, rows, NULL as a hole, types.
  res, err = h:query("SELECT id, name, score, price, flag, blob_col, seen FROM {{TABLE}} ORDER BY id")
  check(err == nil, "select: " .. tostring(err))
  check(#res.columns == 7 and res.columns[1] == "id" and res.columns[7] == "seen", "columns")
  check(#res.rows == 2, "two rows, got " .. #res.rows)
  local a, b = res.rows[1], res.rows[2]
  check(a[1] == 1 and a[2] == "alice" and a[3] == 1.5 and a[4] == "12.50" and a[5] == 1, "row 1 values")
  check(a[6] == "a\0b" and #a[6] == 3, "bytes kept")
  check(a[7] == "2024-01-02 03:04:05", "datetime as text without parseTime: " .. tostring(a[7]))
  check(b[2] == "x'); DROP TABLE {{TABLE}}; --" and b[3] == nil and b[4] == nil and b[7] == nil, "NULLs are holes")

  -- the same with arguments (the binary protocol).
  res, err = h:query("SELECT id, score, flag FROM {{TABLE}} WHERE name = ?", "alice")
  check(err == nil and #res.rows == 1 and res.rows[1][1] == 1 and res.rows[1][2] == 1.5, "select with args")
  res, err = h:query("SELECT COUNT(*) FROM {{TABLE}} WHERE name = ?", "' OR '1'='1")
  check(err == nil and res.rows[1][1] == 0, "an argument is never SQL")

  -- statements.
  local st, err = h:stmt("SELECT name FROM {{TABLE}} WHERE id = ?")
  check(st and err == nil, "stmt: " .. tostring(err))
  res, err = st:query(1)
  check(err == nil and res.rows[1][1] == "alice", "stmt:query")
  st:close()
  res, err = st:query(1)
  check(res == nil and err == "db: the statement is closed", "closed statement")
  local up = assert(h:stmt("UPDATE {{TABLE}} SET score = ? WHERE id = ?"))
  res, err = up:exec(2.25, 1)
  check(err == nil and res.rows_affected == 1, "stmt:exec")
  up:close()
  local bad, err = h:stmt("SELEC nothing")
  check(bad == nil and err:find("Error 1064", 1, true), "a statement that does not prepare: " .. tostring(err))

  -- command: outside a transaction (SET and the like).
  res, err = h:command("SELECT @@session.sql_mode IS NOT NULL")
  check(err == nil and res.rows[1][1] == 1, "command: " .. tostring(err))

  -- SQL errors come back as (nil, err).
  res, err = h:query("SELECT * FROM no_such_table_here")
  check(res == nil and err:find("^db: Error 1146"), "missing table: " .. tostring(err))
  res, err = h:exec("INSERT INTO {{TABLE}} (id) VALUES (1)")
  check(res == nil and err:find("Duplicate entry", 1, true), "duplicate key: " .. tostring(err))

  -- an empty result still has its columns.
  res, err = h:query("SELECT id, name FROM {{TABLE}} WHERE id < 0")
  check(err == nil and #res.rows == 0 and #res.columns == 2, "empty result")

  local _, err = h:exec("DROP TABLE {{TABLE}}")
  check(err == nil, "drop at the end: " .. tostring(err))
  h:close()
  check(select(2, h:exec("SELECT 1")) == "db: the handle is closed", "closed handle")
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
