package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/backline/backline/bench/internal/wrkbench"
)

// wrkScript builds one nginx auth_http request per user once, in init,
// and sends them in turn, so every user logs in equally often.
const wrkScript = `
local reqs = {}
local n = 0
function init(args)
  for i = 1, %d do
    wrk.headers["Auth-Method"] = "plain"
    wrk.headers["Auth-Protocol"] = "imap"
    wrk.headers["Auth-Login-Attempt"] = "1"
    wrk.headers["Client-IP"] = "192.0.2.1"
    wrk.headers["Auth-User"] = "user" .. i
    wrk.headers["Auth-Pass"] = "password-" .. i
    reqs[i] = wrk.format("GET")
  end
end
function request()
  n = n %% #reqs + 1
  return reqs[n]
end
`

func writeWrkScript(dir string, users int) string {
	path := filepath.Join(dir, "users.lua")
	if err := os.WriteFile(path, []byte(fmt.Sprintf(wrkScript, users)), 0o600); err != nil {
		fatalf("%v", err)
	}
	return path
}

// runWrk runs wrk with the per-user script against url for d.
func runWrk(o options, script, url string, d time.Duration) wrkbench.Sample {
	w := wrkbench.Wrk{Bin: o.wrk, CPU: o.clientCPU, Conns: o.conns, Duration: d, Extra: []string{"-s", script}}
	return w.Run(url)
}
