//go:build unix

package main

import (
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/backline/backline/internal/config"
)

func readLog(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// openTestLogFile opens server.log_file at a fresh path.
func openTestLogFile(t *testing.T) (*logFile, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "backline.log")
	l, err := openLogFile("server.log_file", path)
	if err != nil {
		t.Fatal(err)
	}
	return l, path
}

// logrotate's move and create: the renamed file keeps what was written
// before the reopen, the new one gets what comes after.
func TestLogFileReopenAfterRename(t *testing.T) {
	l, path := openTestLogFile(t)
	defer l.Close()
	fmt.Fprintln(l, "before")
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(l, "renamed, not reopened")
	if err := l.Reopen(); err != nil {
		t.Fatal(err)
	}
	fmt.Fprintln(l, "after")
	if got := readLog(t, rotated); got != "before\nrenamed, not reopened\n" {
		t.Errorf("rotated file: %q", got)
	}
	if got := readLog(t, path); got != "after\n" {
		t.Errorf("new file: %q", got)
	}
	if st, _ := os.Stat(path); st.Mode().Perm()&^0o640 != 0 {
		t.Errorf("new file mode %v, want at most 0640", st.Mode().Perm())
	}
}

// When the path cannot be opened again (here a directory took its place),
// Reopen fails and the lines go on into the old file.
func TestLogFileReopenFailureKeepsOldFile(t *testing.T) {
	l, path := openTestLogFile(t)
	defer l.Close()
	rotated := path + ".1"
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := l.Reopen(); err == nil {
		t.Fatal("reopening onto a directory succeeded")
	}
	if _, err := fmt.Fprintln(l, "still here"); err != nil {
		t.Fatalf("write after the failed reopen: %v", err)
	}
	if got := readLog(t, rotated); got != "still here\n" {
		t.Errorf("old file: %q", got)
	}
}

// reopenLogs (SIGUSR1) writes gathered lines to the old file first, logs
// a failure as an ERROR to the log as it is, and keeps going.
func TestReopenLogsLogsFailure(t *testing.T) {
	dir := t.TempDir()
	good, bad := filepath.Join(dir, "daemon.log"), filepath.Join(dir, "access.log")
	var outs []logOutput
	for _, f := range []struct{ key, path string }{{"server.log_file", good}, {"gateway.access_log_file", bad}} {
		file, err := openLogFile(f.key, f.path)
		if err != nil {
			t.Fatal(err)
		}
		outs = append(outs, logOutput{file: file, lw: newLogWriter(file)})
	}
	defer (&serveLogs{outs: outs}).Close()
	logger := slog.New(slog.NewTextHandler(outs[0].lw, nil))
	fmt.Fprintln(outs[1].lw, "gathered access line")
	for _, p := range []string{good, bad} {
		if err := os.Rename(p, p+".1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(bad, 0o700); err != nil {
		t.Fatal(err)
	}
	logger.Info("before the reopen")
	reopenLogs(logger, outs)
	fmt.Fprintln(outs[1].lw, "later access line")
	for _, o := range outs {
		if err := o.lw.Flush(); err != nil {
			t.Fatal(err)
		}
	}
	if got := readLog(t, good+".1"); !strings.Contains(got, "before the reopen") || strings.Contains(got, "reopened") {
		t.Errorf("old daemon log:\n%s", got)
	}
	daemonLog := readLog(t, good)
	if !strings.Contains(daemonLog, `level=INFO msg="log file reopened" key=server.log_file`) ||
		!strings.Contains(daemonLog, `level=ERROR msg="cannot reopen the log file; still writing to the old one" key=gateway.access_log_file`) {
		t.Errorf("new daemon log:\n%s", daemonLog)
	}
	if got := readLog(t, bad+".1"); got != "gathered access line\nlater access line\n" {
		t.Errorf("access log kept: %q", got)
	}
}

// Writers never stop while the file is renamed and reopened again and
// again: every line lands whole in exactly one of the files. Run with
// -race: the swap and the writes share the file pointer.
func TestLogFileConcurrentWritersAndReopens(t *testing.T) {
	l, path := openTestLogFile(t)
	const writers, lines, reopens = 8, 500, 20
	pad := strings.Repeat("x", 200) // long enough to show a torn line
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range lines {
				fmt.Fprintf(l, "w%d l%d %s\n", w, i, pad)
			}
		})
	}
	for r := range reopens {
		if err := os.Rename(path, fmt.Sprintf("%s.%d", path, r)); err != nil {
			t.Fatal(err)
		}
		if err := l.Reopen(); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	files, _ := filepath.Glob(path + "*")
	for _, f := range files {
		for _, line := range strings.Split(strings.TrimSuffix(readLog(t, f), "\n"), "\n") {
			if line == "" {
				continue
			}
			if !strings.HasSuffix(line, " "+pad) {
				t.Fatalf("torn line in %s: %q", f, line)
			}
			seen[line]++
		}
	}
	for w := range writers {
		for i := range lines {
			if n := seen[fmt.Sprintf("w%d l%d %s", w, i, pad)]; n != 1 {
				t.Fatalf("line w%d l%d found %d times", w, i, n)
			}
		}
	}
}

// serve with server.log_file and gateway.access_log_file: the access lines
// go to their own file, and after logrotate's move SIGUSR1 moves both logs
// to new files while the daemon keeps serving.
func TestServeProcessReopensLogFilesOnSIGUSR1(t *testing.T) {
	dir := t.TempDir()
	daemonLog, accessLog := filepath.Join(dir, "backline.log"), filepath.Join(dir, "access.log")
	yaml := "server:\n  address: {api}\n  log_file: " + daemonLog + "\n" +
		"auth:\n  services:\n    enabled: []\n" +
		"gateway:\n  address: {gateway}\n  access_log_file: " + accessLog + "\n"
	p, gateway := startServeProcess(t, yaml, 0)
	contains := func(path, s string) bool {
		data, _ := os.ReadFile(path)
		return strings.Contains(string(data), s)
	}
	if status, _ := httpGet(t, "http://"+gateway+"/before"); status != 404 {
		t.Fatalf("gateway: %d", status)
	}
	waitFor(t, "the first access line", func() bool { return contains(accessLog, "path=/before") })
	waitFor(t, "the start line", func() bool { return contains(daemonLog, `msg="backline started"`) })
	if contains(daemonLog, "gateway access") || !contains(accessLog, `msg="gateway access" component=gateway`) {
		t.Errorf("access lines not apart:\ndaemon log:\n%s\naccess log:\n%s", readLog(t, daemonLog), readLog(t, accessLog))
	}
	if p.stderr.String() != "" {
		t.Errorf("stderr is not empty:\n%s", p.stderr.String())
	}

	for _, f := range []string{daemonLog, accessLog} {
		if err := os.Rename(f, f+".1"); err != nil {
			t.Fatal(err)
		}
	}
	if err := p.cmd.Process.Signal(syscall.SIGUSR1); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "both reopened", func() bool {
		select {
		case <-p.exited:
			t.Fatalf("daemon exited on SIGUSR1 (%v)", p.cmd.ProcessState)
		default:
		}
		return contains(daemonLog, `msg="log file reopened" key=gateway.access_log_file`)
	})
	if status, _ := httpGet(t, "http://"+gateway+"/after"); status != 404 {
		t.Fatalf("gateway after SIGUSR1: %d", status)
	}
	waitFor(t, "the access line in the new file", func() bool { return contains(accessLog, "path=/after") })
	if contains(accessLog+".1", "path=/after") || contains(accessLog, "path=/before") {
		t.Errorf("access lines in the wrong file:\nold:\n%s\nnew:\n%s", readLog(t, accessLog+".1"), readLog(t, accessLog))
	}
	if !contains(daemonLog+".1", `msg="SIGUSR1 received; reopening the log files" files=2`) || contains(daemonLog, `msg="backline started"`) {
		t.Errorf("daemon lines in the wrong file:\nold:\n%s\nnew:\n%s", readLog(t, daemonLog+".1"), readLog(t, daemonLog))
	}
	p.stop(t)
	if !contains(daemonLog, `msg="backline stopped"`) {
		t.Errorf("the last line is not in the new file:\n%s", readLog(t, daemonLog))
	}
}

// serve opens the log files once: a reload refuses a changed path, with
// its key and line, instead of logging to a file it never opened.
func TestReloadRefusesLogFileChange(t *testing.T) {
	dir := t.TempDir()
	parse := func(daemonLog, accessLog string) *config.Config {
		t.Helper()
		c, err := config.Parse([]byte("server:\n  log_file: " + daemonLog + "\ngateway:\n  access_log_file: " + accessLog + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log")
	d := &daemon{opts: daemonOptions{level: new(slog.LevelVar)}}
	if errs := d.restartOnly(parse(a, b), parse(a, b)); len(errs) != 0 {
		t.Errorf("no change: %q", errs)
	}
	errs := d.restartOnly(parse(a, b), parse(b, a))
	want := []string{
		`server.log_file (line 2): changed from "` + a + `" to "` + b + `"; a running daemon cannot apply this, restart backline`,
		`gateway.access_log_file (line 4): changed from "` + b + `" to "` + a + `"; a running daemon cannot apply this, restart backline`,
	}
	if strings.Join(errs, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(errs, "\n"), strings.Join(want, "\n"))
	}
}

// backline check refuses a log file serve could not open, naming the key
// and line.
func TestCheckRefusesLogFileDirectory(t *testing.T) {
	dir := t.TempDir()
	path := writeFile(t, "backline.yml", "server:\n  log_file: "+dir+"\nauth:\n  services:\n    enabled: []\n")
	code, _, stderr := backline(t, "check", "--config", path)
	if want := `server.log_file (line 2): "` + dir + `" is a directory; name a file in it`; code != exitFail || !strings.Contains(stderr, want) {
		t.Errorf("exit %d, stderr:\n%s\nwant %s", code, stderr, want)
	}
}
