package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/lua"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/state"
)

// runLuaTest is `backline lua test`: one filter script, one request, a
// made-up backend list, no daemon. Exit 0 when the script ran (whatever it
// decided), 1 when it failed, 2 on a bad command line.
func runLuaTest(args []string) int {
	stdout, stderr := os.Stdout, os.Stderr
	fs := flag.NewFlagSet("backline lua test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	scriptPath := fs.String("script", "", "filter script to run (required)")
	requestPath := fs.String("request", "", "JSON file with the request fields (username, client_ip, ...)")
	backendsPath := fs.String("backends", "", "JSON array of backends {name, protocol, host, port, healthy, ...}")
	packagePath := fs.String("package-path", "", "the Lua package.path (replaces the default)")
	timeout := fs.Duration("timeout", 30*time.Second, "script timeout")
	live := fs.Bool("live-checks", false, "let check_backend_connection really connect")
	expose := fs.Bool("expose-test-credentials", false, "show test_password to the script")
	redisAddr := fs.String("redis", "", "host:port of a Redis for nauthilus_redis's \"default\" (standalone, no password)")
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *scriptPath == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "usage: backline lua test --script FILE [--request R.json] [--backends B.json] [--live-checks] [--redis HOST:PORT]")
		return exitUsage
	}

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
	if *redisAddr != "" {
		r := &config.Redis{Primary: config.RedisNode{Address: *redisAddr}, DialTimeout: config.DefaultRedisDialTimeout,
			ReadTimeout: config.DefaultRedisReadTimeout, WriteTimeout: config.DefaultRedisWriteTimeout, PoolTimeout: config.DefaultRedisPoolTimeout}
		client, err := state.NewRedisClient(r)
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
		ScriptPath: *scriptPath, PackagePath: *packagePath, Request: req, Backends: backends,
		Checker: checker, Timeout: *timeout, ExposeTestCredentials: *expose, Log: stdout, Host: host,
	})
	if err != nil {
		fmt.Fprintf(stderr, "backline lua test: %v\n", err)
		return exitFail
	}
	lua.WriteOutcome(stdout, outcome)
	return exitOK
}
