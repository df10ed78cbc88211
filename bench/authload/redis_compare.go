package main

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/backline/backline/bench/internal/wrkbench"
)

// -mode redis compares the routing filter with a monitoring-style filter
// that makes the same choice but keeps the user's backend in Redis, as
// Nauthilus's monitoring filters do: an HGET of the user's backend on
// every login, an HSET (and EXPIRE) on a miss, and, with -context, the
// choice handed on through nauthilus_context. Both run as backline
// processes on the same CPU, against a redis-server this bench starts on
// 127.0.0.1 (pinned with wrk, as a Redis on another machine would be);
// the rounds interleave and flip order. The target: the Redis
// filter costs at most 1.5x the plain one.

// monitoringFilter is the plain filter's selection plus the Redis round.
const monitoringFilter = `
local nauthilus_backend = require("nauthilus_backend")
local nauthilus_redis = require("nauthilus_redis")
{{CONTEXT_REQUIRE}}

function nauthilus_call_filter(request)
    local servers = nauthilus_backend.get_backend_servers()
    if #servers == 0 then
        return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
    end
    local conn, err = nauthilus_redis.get_redis_connection("default")
    if err ~= nil then error(err) end
    local key = "authload:ds:" .. request.username
    local chosen
    local stored, err = nauthilus_redis.redis_hget(conn, key, request.protocol)
    if err ~= nil and err ~= "redis: nil" then error(err) end
    if stored ~= nil then
        for _, s in ipairs(servers) do
            if s.host .. ":" .. s.port == stored then chosen = s break end
        end
    end
    if chosen == nil then
        local h = 0
        for i = 1, #request.username do
            h = (h * 31 + string.byte(request.username, i)) % 2147483647
        end
        chosen = servers[(h % #servers) + 1]
        local _, err = nauthilus_redis.redis_hset(conn, key, request.protocol, chosen.host .. ":" .. chosen.port)
        if err ~= nil then error(err) end
        nauthilus_redis.redis_expire(conn, key, 3600)
    end
{{CONTEXT_USE}}
    nauthilus_backend.select_backend_server(chosen.host, chosen.port)
    return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end
`

const contextRequire = `local nauthilus_context = require("nauthilus_context")`

const contextUse = `    nauthilus_context.context_set("authload_backend", chosen.host .. ":" .. chosen.port)
    if nauthilus_context.context_get("authload_backend") == nil then error("context lost the value") end`

func monitoringScript(withContext bool) string {
	req, use := "", ""
	if withContext {
		req, use = contextRequire, contextUse
	}
	return strings.NewReplacer("{{CONTEXT_REQUIRE}}", req, "{{CONTEXT_USE}}", use).Replace(monitoringFilter)
}

func runRedisCompare(o wrkOptions, withContext bool, redisServer string) {
	dir, targets, cleanup := prepareWrkRun(&o, "authload-redis")
	defer cleanup()
	redisAddr, stopRedis := startRedisServer(o.wrkCPU, redisServer, dir)
	defer stopRedis()

	// Both on storage.redis, so that only the filter differs (the daemon's
	// own use of Redis, shared admin state and probe leases, is in both).
	plainCfg := writeFilterConfig(dir, "plain", filterScript, targets, o.logLevel, redisAddr)
	redisCfg := writeFilterConfig(dir, "redis", monitoringScript(withContext), targets, o.logLevel, redisAddr)
	plain := startProcess(o.serverCPU, o.backline, "serve", "--config", plainCfg)
	defer plain.stop()
	plainURL := "http://" + plain.waitAddress(plainCfg) + "/api/v1/auth/nginx"
	withRedis := startProcess(o.serverCPU, o.backline, "serve", "--config", redisCfg)
	defer withRedis.stop()
	redisURL := "http://" + withRedis.waitAddress(redisCfg) + "/api/v1/auth/nginx"
	waitAuthOK(plainURL)
	waitAuthOK(redisURL)

	hz := wrkbench.ClockTicks()
	what := "HGET (+HSET/EXPIRE on a miss)"
	if withContext {
		what += " + nauthilus_context set/get"
	}
	fmt.Printf("authload -mode redis: filter with %s vs the same selection without; backline on CPU %d, wrk and redis-server on CPU %d, %d round(s) of %s, wrk -t1\n",
		what, o.serverCPU, o.wrkCPU, o.rounds, o.duration)
	fmt.Printf("%-6s %-5s %12s %12s %9s %13s %13s %9s\n",
		"conns", "round", "plain req/s", "redis req/s", "slowdown", "plain CPU/req", "redis CPU/req", "CPU cost")
	for _, c := range o.conns {
		var sumP, sumR float64
		var cpuP, cpuR, reqP, reqR int64
		for round := range o.rounds {
			var p, r wrkSample
			if round%2 == 0 {
				p = runWrk(o, plain.pid(), plainURL, c)
				r = runWrk(o, withRedis.pid(), redisURL, c)
			} else {
				r = runWrk(o, withRedis.pid(), redisURL, c)
				p = runWrk(o, plain.pid(), plainURL, c)
			}
			if p.Non2xx > 0 || r.Non2xx > 0 || p.SockErrs != "" || r.SockErrs != "" {
				fmt.Printf("  warning: non-2xx %d/%d, socket errors %q/%q\n", p.Non2xx, r.Non2xx, p.SockErrs, r.SockErrs)
			}
			fmt.Printf("%-6d %-5d %12.0f %12.0f %9.2f %13s %13s %9.2f\n", c, round+1, p.RPS, r.RPS, p.RPS/r.RPS,
				wrkbench.PerReq(p.cpuTicks, p.Requests, hz), wrkbench.PerReq(r.cpuTicks, r.Requests, hz), ratioCPU(r, p))
			sumP, sumR = sumP+p.RPS, sumR+r.RPS
			cpuP, cpuR, reqP, reqR = cpuP+p.cpuTicks, cpuR+r.cpuTicks, reqP+p.Requests, reqR+r.Requests
		}
		fmt.Printf("%-6d %-5s %12.0f %12.0f %9.2f %13s %13s %9.2f\n", c, "mean", sumP/float64(o.rounds), sumR/float64(o.rounds), sumP/sumR,
			wrkbench.PerReq(cpuP, reqP, hz), wrkbench.PerReq(cpuR, reqR, hz),
			ratioCPU(wrkSample{cpuTicks: cpuR, Sample: wrkbench.Sample{Requests: reqR}}, wrkSample{cpuTicks: cpuP, Sample: wrkbench.Sample{Requests: reqP}}))
	}
	waitAuthOK(redisURL)
	fmt.Println("\nslowdown = plain/redis req/s; CPU cost = redis/plain backline CPU per request (target <= 1.5 for both)")
}

// writeFilterConfig is writeWrkConfig's configuration with one filter of
// the given source and, when redisAddr is set, storage.redis.
func writeFilterConfig(dir, name, src string, targets []string, logLevel, redisAddr string) string {
	passwd := filepath.Join(dir, "passwd")
	if err := os.WriteFile(passwd, []byte("user1:{PLAIN}password-1\n"), 0o600); err != nil {
		fatalf("%v", err)
	}
	script := filepath.Join(dir, name+".lua")
	if err := os.WriteFile(script, []byte(src), 0o600); err != nil {
		fatalf("%v", err)
	}
	var b strings.Builder
	b.WriteString(wrkbench.ConfigHead(wrkbench.FreeLoopbackPort(), logLevel, targets))
	fmt.Fprintf(&b, "  passdb:\n    - type: passwd_file\n      path: %s\nlua:\n  filters:\n    - name: %s\n      script_path: %s\n", passwd, name, script)
	if redisAddr != "" {
		fmt.Fprintf(&b, "storage:\n  redis:\n    primary:\n      address: \"%s\"\n", redisAddr)
	}
	path := filepath.Join(dir, "backline-"+name+".yml")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		fatalf("%v", err)
	}
	return path
}

// startRedisServer runs redis-server on a free loopback port without
// persistence, pinned to cpu.
func startRedisServer(cpu int, bin, dir string) (string, func()) {
	addr := wrkbench.FreeLoopbackPort()
	_, port, _ := net.SplitHostPort(addr)
	cmd := wrkbench.Pinned(cpu, bin, "--port", port, "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir)
	if err := wrkbench.Start(cmd); err != nil {
		fatalf("starting %s: %v", bin, err)
	}
	stop := func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			return addr, stop
		}
		if time.Now().After(deadline) {
			stop()
			fatalf("redis-server did not listen on %s", addr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
