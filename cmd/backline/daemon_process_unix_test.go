//go:build unix

package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The test binary doubles as the daemon: with these variables set, TestMain
// runs `backline <args>` instead of the tests (see runAsDaemonSubprocess).
const (
	envDaemonArgs   = "BACKLINE_TEST_DAEMON_ARGS"   // arguments, one per line
	envDaemonNoFile = "BACKLINE_TEST_DAEMON_NOFILE" // RLIMIT_NOFILE to run under
)

// runAsDaemonSubprocess is the child side; ok is false in a normal test run.
func runAsDaemonSubprocess() (code int, ok bool) {
	args := os.Getenv(envDaemonArgs)
	if args == "" {
		return 0, false
	}
	if s := os.Getenv(envDaemonNoFile); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err == nil {
			err = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &syscall.Rlimit{Cur: n, Max: n})
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "setrlimit:", err)
			return 1, true
		}
	}
	return run(strings.Split(args, "\n"), os.Stdout, os.Stderr), true
}

// daemonProcess is `backline serve` in a child process.
type daemonProcess struct {
	cmd    *exec.Cmd
	stderr *syncBuffer
	api    string
	path   string // the configuration file, for reload tests
	exited chan struct{}
}

// freePort returns a loopback address that was free a moment ago (the
// configuration cannot say port 0).
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startServeProcess runs serve on yaml, where {api} and {gateway} stand for
// free loopback addresses, and waits until /healthz answers. A port that was
// free a moment ago can be taken by another test process's listener before
// the daemon binds it (go test runs packages in parallel): a daemon that
// exits with "address already in use" is started again on new ports.
func startServeProcess(t *testing.T, yaml string, nofile int) (*daemonProcess, string) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		p, gateway, err := tryServeProcess(t, yaml, nofile)
		if err == nil {
			return p, gateway
		}
		if attempt < 3 && strings.Contains(err.Error(), "address already in use") {
			t.Logf("attempt %d: %v; again on other ports", attempt, err)
			continue
		}
		t.Fatal(err)
	}
}

func tryServeProcess(t *testing.T, yaml string, nofile int) (*daemonProcess, string, error) {
	t.Helper()
	api, gateway := freePort(t), freePort(t)
	yaml = strings.NewReplacer("{api}", api, "{gateway}", gateway).Replace(yaml)
	path := filepath.Join(t.TempDir(), "backline.yml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := &daemonProcess{stderr: &syncBuffer{}, api: api, path: path, exited: make(chan struct{})}
	p.cmd = exec.Command(os.Args[0], "-test.run=^$")
	p.cmd.Env = append(os.Environ(), envDaemonArgs+"=serve\n--config\n"+path)
	if nofile > 0 {
		p.cmd.Env = append(p.cmd.Env, envDaemonNoFile+"="+strconv.Itoa(nofile))
	}
	p.cmd.Stdout, p.cmd.Stderr = p.stderr, p.stderr
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = p.cmd.Wait(); close(p.exited) }()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = p.cmd.Process.Kill()
			<-p.exited
		}
	})
	client := &http.Client{Timeout: time.Second}
	for range 600 { // 30 s and more: bounds a broken daemon only
		select {
		case <-p.exited:
			return nil, "", fmt.Errorf("daemon exited (%v):\n%s", p.cmd.ProcessState, p.stderr.String())
		default:
		}
		if resp, err := client.Get("http://" + api + "/healthz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return p, gateway, nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return nil, "", fmt.Errorf("gave up waiting for the daemon's /healthz:\n%s", p.stderr.String())
}

func (p *daemonProcess) healthz(t *testing.T) {
	t.Helper()
	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := client.Get("http://" + p.api + "/healthz")
	if err != nil {
		t.Fatalf("/healthz: %v\ndaemon log:\n%s", err, p.stderr.String())
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("/healthz: status %d", resp.StatusCode)
	}
}

// stop sends SIGTERM and wants a clean exit.
func (p *daemonProcess) stop(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("daemon still running 20 s after SIGTERM:\n%s", p.stderr.String())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != exitOK {
		t.Errorf("exit %d (%v), want 0:\n%s", code, p.cmd.ProcessState, p.stderr.String())
	}
}

const idleDaemon = `
server:
  address: {api}
auth:
  services:
    enabled: []
`

// Under a low descriptor limit, a flood of idle connections to the gateway
// used to take every descriptor: /healthz then hung in accept (EMFILE). The
// default caps, derived from the limit, keep the API listener answering.
func TestGatewayFloodUnderLowFileLimit(t *testing.T) {
	const nofile = 128
	p, gateway := startServeProcess(t, idleDaemon+"gateway:\n  address: {gateway}\n", nofile)
	dialIdle(t, gateway, 2*nofile)
	p.healthz(t)
	if !strings.Contains(p.stderr.String(), fmt.Sprintf("file_descriptor_limit=%d server_max_connections=16 gateway_max_connections=16", nofile)) {
		t.Errorf("caps not derived from the limit:\n%s", p.stderr.String())
	}
	p.stop(t)
}
