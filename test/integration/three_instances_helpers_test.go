package integration

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// Helpers for TestThreeInstancesOneRedis: a private redis-server, fake IMAP
// backends that count deep probes, and `backline serve` processes that
// share the Redis.

// privateRedis is a redis-server of this test alone: the test freezes it,
// so the shared fixture's Redis must not be used.
type privateRedis struct {
	port int
	dir  string
	cmd  *exec.Cmd
}

func startPrivateRedis(t *testing.T) *privateRedis {
	t.Helper()
	if _, err := os.Stat(redisServerBin); err != nil {
		t.Fatalf("redis-server is required (scripts/install-deps.sh installs it; only BACKLINE_SHORT=1 skips this test): %v", err)
	}
	r := &privateRedis{port: freePort(t), dir: t.TempDir()}
	r.start(t)
	t.Cleanup(r.kill)
	return r
}

const redisServerBin = "/usr/bin/redis-server"

// start runs redis-server on r.port (again, after kill: empty, as a Redis
// without persistence comes back) and waits for its PONG.
func (r *privateRedis) start(t *testing.T) {
	t.Helper()
	r.cmd = exec.Command(redisServerBin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", filepath.Join(r.dir, "redis.log"))
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// 20 s, as for backline: only a broken start takes long, and a loaded
	// machine (CI runs everything with -race) can take seconds to exec it.
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", r.addr(), time.Second)
		if err == nil {
			_, _ = c.Write([]byte("PING\r\n"))
			_ = c.SetReadDeadline(time.Now().Add(time.Second))
			line, _ := bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.HasPrefix(line, "+PONG") {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("redis-server not up within 20s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill ends the current redis-server (a frozen one too) and waits for it.
func (r *privateRedis) kill() {
	if r.cmd == nil || r.cmd.ProcessState != nil {
		return
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT)
	_ = r.cmd.Process.Kill()
	_ = r.cmd.Wait()
}

func (r *privateRedis) addr() string { return fmt.Sprintf("127.0.0.1:%d", r.port) }

// get runs GET key on a fresh connection (RESP by hand: no client needed for
// one command); "" for a missing key.
func (r *privateRedis) get(t *testing.T, key string) string {
	t.Helper()
	c, err := net.DialTimeout("tcp", r.addr(), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	fmt.Fprintf(c, "*2\r\n$3\r\nGET\r\n$%d\r\n%s\r\n", len(key), key)
	rd := bufio.NewReader(c)
	head, err := rd.ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(strings.TrimPrefix(head, "$")))
	if err != nil || n < 0 {
		return ""
	}
	buf := make([]byte, n+2)
	if _, err := io.ReadFull(rd, buf); err != nil {
		t.Fatal(err)
	}
	return string(buf[:n])
}

// fakeIMAP is a backend that counts the deep probes (logins) it gets.
type fakeIMAP struct {
	port int
	mu   sync.Mutex
	// logins are the times of successful AUTHENTICATE or LOGIN commands.
	logins []time.Time
}

func startFakeIMAP(t *testing.T) *fakeIMAP {
	t.Helper()
	f := &fakeIMAP{}
	f.port = serveLoopback(t, 0, f.serve).port()
	return f
}

const fakeIMAPCaps = "IMAP4rev1 SASL-IR LITERAL+ AUTH=PLAIN"

func (f *fakeIMAP) serve(c net.Conn) {
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	rd := bufio.NewReader(c)
	send := func(lines ...string) error {
		_, err := io.WriteString(c, strings.Join(lines, "\r\n")+"\r\n")
		return err
	}
	if send("* OK [CAPABILITY "+fakeIMAPCaps+"] fake ready.") != nil {
		return
	}
	for {
		line, err := rd.ReadString('\n')
		if err != nil {
			return
		}
		tag, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
		cmd, arg, _ := strings.Cut(rest, " ")
		switch strings.ToUpper(cmd) {
		case "CAPABILITY":
			err = send("* CAPABILITY "+fakeIMAPCaps, tag+" OK done.")
		case "NOOP", "ID":
			err = send(tag + " OK done.")
		case "AUTHENTICATE":
			if _, _, hasIR := strings.Cut(arg, " "); !hasIR {
				if send("+ ") != nil {
					return
				}
				if _, err := rd.ReadString('\n'); err != nil {
					return
				}
			}
			f.count()
			err = send(tag + " OK Logged in")
		case "LOGIN":
			f.count()
			err = send(tag + " OK Logged in")
		case "LOGOUT":
			_ = send("* BYE Logging out", tag+" OK Logout completed.")
			return
		default:
			err = send(tag + " BAD unknown command")
		}
		if err != nil {
			return
		}
	}
}

func (f *fakeIMAP) count() {
	f.mu.Lock()
	f.logins = append(f.logins, time.Now())
	f.mu.Unlock()
}

// between counts the deep probes in [from, to).
func (f *fakeIMAP) between(from, to time.Time) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, at := range f.logins {
		if !at.Before(from) && at.Before(to) {
			n++
		}
	}
	return n
}

// firstAfter is the time of the first deep probe at or after from, or zero.
func (f *fakeIMAP) firstAfter(from time.Time) time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, at := range f.logins {
		if !at.Before(from) {
			return at
		}
	}
	return time.Time{}
}

// instance is one `backline serve` process of the three.
type instance struct {
	*serveProcess
	addr string
}

// threeConfig is the configuration every instance shares but its address.
// The fakes never fail, so failure_threshold only decides how long a
// starved machine must miss the 500 ms / 900 ms probe timeouts before a
// fake is taken out: at 1 a single late deep probe (the fakes run in this
// -race process, which CI loads with every other package) could move a
// sticky user or fail the one-backend outage tests' logins.
func threeConfig(dir, apiAddr string, redisAddr string, backends []*fakeIMAP) string {
	var b strings.Builder
	fmt.Fprintf(&b, `server:
  address: "%s"
  log_level: info
  api_auth:
    username: %s
    password_file: "%s"
storage:
  redis:
    primary:
      address: "%s"
    prefix: "three:"
auth:
  cache:
    ttl: 60s
    hmac_key_file: "%s"
  services:
    enabled: [backend_health_checks]
    backend_health_checks:
      connect_interval: 1s
      deep_interval: 1s
      connect_timeout: 500ms
      tls_timeout: 400ms
      deep_timeout: 900ms
      failure_threshold: 5
      recovery_threshold: 1
      initial_state: healthy
      jitter: 0
      targets:
`, apiAddr, apiUser, filepath.Join(dir, "api.pw"), redisAddr, filepath.Join(dir, "cache.key"))
	for i, f := range backends {
		fmt.Fprintf(&b, "        - {name: m%02d, protocol: imap, host: 127.0.0.1, port: %d, tls_mode: plain, deep_check: true,"+
			" test_username: probe, test_password_file: \"%s\", allow_plaintext_auth: true}\n",
			i, f.port, filepath.Join(dir, "probe.pw"))
	}
	fmt.Fprintf(&b, `  passdb:
    - {type: passwd_file, path: "%s"}
  nginx:
    default_policy: sticky
`, filepath.Join(dir, "passwd"))
	return b.String()
}

// startInstance runs `backline serve` on cfg (its own API address) until
// the test ends, and returns once /readyz answers 200.
func startInstance(t *testing.T, bin, name, dir, addr, cfg string) *instance {
	t.Helper()
	cfgFile := filepath.Join(dir, name+".yml")
	writeFile(t, cfgFile, cfg)
	client := &http.Client{Timeout: 2 * time.Second}
	p := startServe(t, name, bin, cfgFile, addr, client, 80, threeUserPassword, threeAPIPassword)
	return &instance{serveProcess: p, addr: addr}
}

const (
	threeAPIPassword  = "three-api-password"
	threeUserPassword = "three-user-password"
)

var threeHTTP = &http.Client{Timeout: 10 * time.Second}

// call sends an authenticated API request and returns status and body.
func (in *instance) call(t *testing.T, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+in.addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(apiUser, threeAPIPassword)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := threeHTTP.Do(req)
	if err != nil {
		t.Fatalf("%s %s %s: %v", in.name, method, path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// metric returns the value of a gauge without labels, or -1.
func (in *instance) metric(t *testing.T, name string) float64 {
	t.Helper()
	_, body := in.call(t, http.MethodGet, "/metrics", "")
	m := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return -1
	}
	v, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return -1
	}
	return v
}

// nginxLogin asks the nginx endpoint where user's IMAP login goes; it
// returns Auth-Status and Auth-Port, or an error for a failed request.
func (in *instance) nginxLogin(user, password string) (status, port string, err error) {
	req, err := http.NewRequest(http.MethodGet, "http://"+in.addr+"/api/v1/auth/nginx", nil)
	if err != nil {
		return "", "", err
	}
	req.SetBasicAuth(apiUser, threeAPIPassword)
	for k, v := range map[string]string{"Auth-Method": "plain", "Auth-User": user, "Auth-Pass": password,
		"Auth-Protocol": "imap", "Auth-Login-Attempt": "1", "Client-IP": "127.0.0.1"} {
		req.Header.Set(k, v)
	}
	resp, err := threeHTTP.Do(req)
	if err != nil {
		return "", "", err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return "", "", fmt.Errorf("nginx endpoint: HTTP %d", resp.StatusCode)
	}
	return resp.Header.Get("Auth-Status"), resp.Header.Get("Auth-Port"), nil
}

// loginLoad sends nginx logins for users through every instance until
// stopped, and counts the answers.
type loginLoad struct {
	stop       chan struct{}
	wg         sync.WaitGroup
	ok, failed atomic.Int64
	mu         sync.Mutex
	errs       []string
}

func startLoginLoad(ins []*instance, users []string, password string) *loginLoad {
	l := &loginLoad{stop: make(chan struct{})}
	for i, in := range ins {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for n := 0; ; n++ {
				select {
				case <-l.stop:
					return
				default:
				}
				u := users[(i+n)%len(users)]
				status, _, err := in.nginxLogin(u, password)
				if err != nil || status != "OK" {
					l.failed.Add(1)
					l.mu.Lock()
					l.errs = append(l.errs, fmt.Sprintf("%s %s: %q %v", in.name, u, status, err))
					l.mu.Unlock()
					continue
				}
				l.ok.Add(1)
				time.Sleep(20 * time.Millisecond)
			}
		}()
	}
	return l
}

// end stops the load and fails t if any login failed.
func (l *loginLoad) end(t *testing.T) {
	t.Helper()
	close(l.stop)
	l.wg.Wait()
	t.Logf("logins during and after the outage: %d ok, %d failed", l.ok.Load(), l.failed.Load())
	if l.failed.Load() != 0 {
		t.Errorf("failed logins: %v", l.errs[:min(len(l.errs), 10)])
	}
}

// waitShared waits until every instance's backline_state_redis_up and
// backline_probe_leases_shared are want (1 shared, 0 local).
func waitShared(t *testing.T, ins []*instance, want float64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for _, in := range ins {
		for _, m := range []string{"backline_state_redis_up", "backline_probe_leases_shared"} {
			for in.metric(t, m) != want {
				if time.Now().After(deadline) {
					t.Errorf("%s: %s not %v within %v", in.name, m, want, within)
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}
}
