package integration

import (
	"net/http"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"
)

// serveProcess is a `backline serve` process that runs until the test
// ends (the runtime-control daemon and the three instances share it).
type serveProcess struct {
	name   string
	cmd    *exec.Cmd
	logs   *lockedBuffer
	exited chan error
	killed bool // by kill9: the cleanup does not ask it to stop
}

// startServe runs `bin serve --config cfgFile` until the test ends and
// returns once http://addr/readyz answers 200 (the first health round is
// done). At the end of the test it stops the process with SIGTERM (killing
// it after 10 s), fails t if its log holds any of secrets, and on failure
// logs its last tailLines lines without the auth request lines.
func startServe(t *testing.T, name, bin, cfgFile, addr string, client *http.Client, tailLines int, secrets ...string) *serveProcess {
	t.Helper()
	p := &serveProcess{name: name, logs: &lockedBuffer{}, exited: make(chan error, 1)}
	p.cmd = exec.Command(bin, "serve", "--config", cfgFile)
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.exited <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if !p.killed {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.exited:
			case <-time.After(10 * time.Second):
				_ = p.cmd.Process.Kill()
				<-p.exited
				t.Errorf("%s did not stop within 10s of SIGTERM", name)
			}
		}
		for _, s := range secrets {
			if strings.Contains(p.logs.String(), s) {
				t.Errorf("%s logged a password", name)
				break
			}
		}
		if t.Failed() {
			t.Logf("%s log without auth request lines:\n%s", name, logTail(p.logs.String(), "auth request", tailLines))
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return p
			}
		}
		select {
		case err := <-p.exited:
			p.exited <- err // for the cleanup, which waits for it (else it blocks forever)
			t.Fatalf("%s exited: %v\n%s", name, err, p.logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not ready within 20s (last: %v)\n%s", name, err, p.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill9 ends the process with SIGKILL: it releases nothing.
func (p *serveProcess) kill9(t *testing.T) {
	t.Helper()
	p.killed = true
	_ = p.cmd.Process.Kill()
	<-p.exited
}
