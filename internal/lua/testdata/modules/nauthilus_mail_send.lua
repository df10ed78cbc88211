-- nauthilus_mail.send_mail against in-process fake servers (the Go test
-- checks their transcripts). Ports are filled in by the test.
local mail = require("nauthilus_mail")

local function send(extra)
  local p = {server = "127.0.0.1", port = {{PLAIN}}, from = "a@example.com", to = {"b@example.com"},
             subject = "s", body = "b"}
  for k, v in pairs(extra) do p[k] = v end
  return mail.send_mail(p)
end

function nauthilus_call_filter(request)
  -- plain SMTP: headers, two recipients, a body with a leading dot
  local err = mail.send_mail({
    server = "127.0.0.1", port = {{PLAIN}}, helo_name = "backline.test",
    from = "Backline Alerts <alerts@example.com>", to = {"ops@example.com", "second@example.com"},
    subject = "Login from München", body = "line one\n.leading dot",
  })
  assert(err == nil, tostring(err))
  -- LMTP speaks LHLO; the default helo name is "localhost"
  assert(send({port = {{LMTP}}, lmtp = true}) == nil)
  -- STARTTLS with AUTH PLAIN
  err = send({port = {{STARTTLS}}, starttls = true, helo_name = "backline.test",
              username = "mailer", password = "m41l-secret"})
  assert(err == nil, tostring(err))
  -- implicit TLS, by name (allowed as "localhost", certificate for localhost)
  assert(send({server = "localhost", port = {{IMPLICIT}}, tls = true}) == nil)
  -- a refused recipient comes back as the error text
  err = send({port = {{REJECT}}, to = {"reject@example.com"}})
  assert(err and err:find("550"), tostring(err))
  -- a server that never answers: stopped by lua.config.mail.timeout
  err = send({port = {{SILENT}}})
  assert(err and err:find("sending mail stopped"), tostring(err))

  -- argument errors are returned, never raised
  assert(send({port = "25"}) == "'port' must be a number")
  assert(send({to = "b@example.com"}) == "'to' must be a table")
  assert(send({to = {}}) == "'to' has no recipients")
  local many = {}
  for i = 1, 101 do many[i] = "u" .. i .. "@example.com" end
  assert(send({to = many}) == "'to' has more than 100 recipients")
  -- CR/LF injection into headers or commands is refused
  assert(send({subject = "hi\r\nBcc: victim@example.com"}) == "'subject' must not contain CR or LF")
  assert(send({helo_name = "x\r\nRSET"}) == "'helo_name' must not contain CR or LF")
  assert(send({to = {"b@example.com\nBcc: c@example.com"}}) == "'to' must not contain CR or LF")
  assert(send({from = "a@example.com\r\n"}) == "'from' must not contain CR or LF")
  err = send({from = "not an address"})
  assert(err and err:find("invalid 'from' address"), tostring(err))
  err = send({to = {"@@"}})
  assert(err and err:find("invalid 'to' address"), tostring(err))
  assert(send({lmtp = true, starttls = true}):find("starttls over LMTP is not supported"))
  -- only allowed hosts: 127.0.0.2 and other names are refused before connecting
  err = send({server = "127.0.0.2"})
  assert(err and err:find("127.0.0.2:{{PLAIN}} is not allowed (lua.config.mail.allowed_hosts)", 1, true), tostring(err))
  err = send({server = "smtp.example.com"})
  assert(err and err:find("is not allowed"), tostring(err))
  -- a wrong password: the server's answer, without the password
  err = send({port = {{STARTTLS}}, starttls = true, username = "mailer", password = "wrong-pass"})
  assert(err and err:find("535") and not err:find("wrong-pass", 1, true), tostring(err))
  -- the request's own password never appears in an error
  err = send({server = request.password})
  assert(err and not err:find(request.password, 1, true), tostring(err))
  -- params must be a table
  assert(not pcall(mail.send_mail, "x"))
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
