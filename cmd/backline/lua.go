package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/lua"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/state"
)

// runLuaTest is `backline lua test`: one filter script, one request, a
// made-up backend list, no daemon. Exit 0 when the script ran (whatever it
// decided), 1 when it failed, 2 on a bad command line.
func runLuaTest(args []string, stdout, stderr io.Writer) int {
	fs := newCommandFlags("lua test", stderr)
	var o luaTestOptions
	o.register(fs)
	if code, ok := parseCommand(fs, args, stdout); !ok {
		return code
	}
	if o.script == "" {
		fmt.Fprintln(stderr, "backline lua test: --script FILE is required")
		fmt.Fprintln(stderr, "Usage: backline lua test --script FILE [--request R.json] [--backends B.json] [--live-checks] [--redis HOST:PORT]")
		return exitUsage
	}
	scriptPath, requestPath, backendsPath, packagePath := &o.script, &o.request, &o.backends, &o.packagePath
	timeout, live, expose := &o.timeout, &o.live, &o.expose

	req := &lua.Request{}
	if *requestPath != "" {
		data, err := os.ReadFile(*requestPath)
		if err == nil {
			req, err = lua.ParseRequestJSON(data)
		}
		if err != nil {
			fmt.Fprintf(stderr, "backline lua test: %v\n", err)
			return exitUsage
		}
	}
	var backends []lua.OfflineBackend
	if *backendsPath != "" {
		data, err := os.ReadFile(*backendsPath)
		if err == nil {
			backends, err = lua.ParseBackendsJSON(data)
		}
		if err != nil {
			fmt.Fprintf(stderr, "backline lua test: %v\n", err)
			return exitUsage
		}
	}
	var checker probe.Checker
	if *live {
		checker = &probe.Prober{}
	}

	host := lua.NewHost()
	defer host.CloseDBPools()
	if redisAddr := o.redis; redisAddr != "" {
		r := &config.Redis{Primary: config.RedisNode{Address: redisAddr}, Prefix: o.redisPrefix, DialTimeout: config.DefaultRedisDialTimeout,
			ReadTimeout: config.DefaultRedisReadTimeout, WriteTimeout: config.DefaultRedisWriteTimeout, PoolTimeout: config.DefaultRedisPoolTimeout}
		client, err := state.NewGuardedRedisClient(r, host.RedisReplyGuard())
		if err != nil {
			fmt.Fprintf(stderr, "backline lua test: --redis: %v\n", err)
			return exitUsage
		}
		defer client.Close()
		host.SetRedis(client, r, nil)
		defer host.CloseRedisPools()
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	outcome, err := lua.RunOffline(ctx, lua.OfflineOptions{
		ScriptPath: *scriptPath, PackagePath: *packagePath, InitScripts: o.inits, Request: req, Backends: backends,
		Checker: checker, Timeout: *timeout, ExposeTestCredentials: *expose, Log: stdout, Host: host,
	})
	if err != nil {
		fmt.Fprintf(stderr, "backline lua test: %v\n", err)
		return exitFail
	}
	lua.WriteOutcome(stdout, outcome)
	return exitOK
}
