package integration

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/server"
	"github.com/backline/backline/internal/server/statuspagefake"
	"github.com/backline/backline/internal/testfixture"
)

// The status page in a real browser: Debian's chromium, headless, loads the
// page from backline's own HTTP server fed with fake snapshots, takes a
// screenshot and dumps the DOM after its script ran. Screenshots go to the
// test's temporary directory, or to $BACKLINE_SCREENSHOTS when set (to keep
// them); their paths are logged.

type fixedSnapshot struct{ snap *health.Snapshot }

func (f fixedSnapshot) Snapshot() *health.Snapshot { return f.snap }

// chromiumPath finds the browser. Like the fixture's servers, a missing
// chromium fails the test: only the short suite skips.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if os.Getenv(testfixture.ShortVar) == "1" || testing.Short() {
		t.Skip(testfixture.ShortSkipMessage)
	}
	path, err := exec.LookPath("chromium")
	if err != nil {
		t.Fatalf("chromium not found (%v): run scripts/install-deps.sh (Debian package chromium)", err)
	}
	return path
}

// serveStatus runs backline's HTTP server on a loopback port with a fixed
// snapshot until the test ends, and returns the page's URL.
func serveStatus(t *testing.T, snap *health.Snapshot) string {
	t.Helper()
	return serveStatusWith(t, snap, func(h http.Handler) http.Handler { return noSelfReload(t, h) })
}

// noSelfReload serves the page with its self-reload (data-refresh, 5 s)
// set to an hour. chromium takes its screenshot and DOM whenever it is
// done, in real time: on a loaded machine that was after the page had
// started to reload itself, and the DOM had no rows ("0 rows, want 1000",
// chromium took 56 s). These tests judge one rendering, not the reload.
func noSelfReload(t *testing.T, h http.Handler) http.Handler {
	const from, to = `<body data-refresh="5">`, `<body data-refresh="3600">`
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		body := rec.Body.String()
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/html") {
			if !strings.Contains(body, from) {
				t.Errorf("the status page no longer has %s; adapt noSelfReload", from)
			}
			body = strings.Replace(body, from, to, 1)
		}
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.WriteHeader(rec.Code)
		_, _ = io.WriteString(w, body)
	})
}

// cspOverride replaces the page's Content-Security-Policy with one that
// blocks every script.
type cspOverride struct{ http.ResponseWriter }

func (c *cspOverride) WriteHeader(code int) {
	c.Header().Set("Content-Security-Policy", "script-src 'none'")
	c.ResponseWriter.WriteHeader(code)
}

func (c *cspOverride) Write(b []byte) (int, error) {
	if c.Header().Get("Content-Security-Policy") != "script-src 'none'" {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(b)
}

// serveStatusWith is serveStatus with the handler wrapped by wrap.
func serveStatusWith(t *testing.T, snap *health.Snapshot, wrap func(http.Handler) http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := server.New(server.Options{Snapshot: fixedSnapshot{snap}, Version: "browser-test"})
	if wrap != nil {
		hs := &http.Server{Handler: wrap(srv.Handler()), ReadHeaderTimeout: 10 * time.Second}
		go func() { _ = hs.Serve(ln) }()
		t.Cleanup(func() { _ = hs.Close() })
		return "http://" + ln.Addr().String() + "/"
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.ServeListener(ctx, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("server: %v", err)
		}
	})
	return "http://" + ln.Addr().String() + "/"
}

// browse loads url in headless chromium, writes a screenshot named name and
// returns the DOM after scripts ran.
func browse(t *testing.T, chromium, url, name string, extra ...string) *html.Node {
	t.Helper()
	dir := os.Getenv("BACKLINE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(dir, name+".png")
	// Bounds a hung browser only. Four run at once (parallel subtests), and
	// on a loaded machine the 1,000-backend page took 13.5 s to render
	// under -race and chromium was killed at a 60 s bound.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	args := append([]string{"--headless", "--disable-gpu", "--no-sandbox",
		"--user-data-dir=" + t.TempDir(), "--no-first-run", "--hide-scrollbars",
		"--screenshot=" + shot, "--window-size=1280,2000", "--dump-dom"}, extra...)
	cmd := exec.CommandContext(ctx, chromium, append(args, url)...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	if err := cmd.Run(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", url, err, lastLines(stderr.String(), 20))
	}
	png, err := os.ReadFile(shot)
	if err != nil || !bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")) || len(png) < 5000 {
		t.Fatalf("screenshot %s: %v, %d bytes\n%s", shot, err, len(png), lastLines(stderr.String(), 20))
	}
	t.Logf("screenshot %s (%d KiB, chromium took %v)", shot, len(png)/1024, time.Since(start).Round(time.Millisecond))
	root, err := html.Parse(&stdout)
	if err != nil {
		t.Fatalf("DOM of %s: %v", url, err)
	}
	return root
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

// domRow is a backend row of the dumped DOM.
type domRow struct {
	id, state, admin string
	hidden           bool
}

type domPage struct {
	rows    []domRow
	rollups []string
	count   string
	imgs    int
}

func readDOM(root *html.Node) domPage {
	var p domPage
	for n := range root.Descendants() {
		if n.Type != html.ElementNode {
			continue
		}
		switch {
		case n.Data == "img":
			p.imgs++
		case n.Data == "tr" && domAttr(n, "data-id") != "":
			r := domRow{id: domAttr(n, "data-id")}
			_, r.hidden = domHasAttr(n, "hidden")
			for c := range n.Descendants() {
				switch domAttr(c, "class") {
				case "st":
					r.state = domText(c)
				case "adm":
					r.admin = domText(c)
				}
			}
			p.rows = append(p.rows, r)
		case n.Data == "li" && n.Parent != nil && domAttr(n.Parent, "id") == "rollups":
			p.rollups = append(p.rollups, domText(n))
		case domAttr(n, "id") == "count":
			p.count = domText(n)
		}
	}
	return p
}

func domAttr(n *html.Node, key string) string {
	v, _ := domHasAttr(n, key)
	return v
}

func domHasAttr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func domText(n *html.Node) string {
	var b strings.Builder
	for d := range n.Descendants() {
		if d.Type == html.TextNode {
			b.WriteString(d.Data)
		} else if d.Type == html.ElementNode && d.Data == "br" {
			b.WriteString(" ")
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func (p domPage) states() string {
	var s []string
	for _, r := range p.rows {
		s = append(s, r.state)
	}
	return strings.Join(s, ",")
}

func TestStatusPageInChromium(t *testing.T) {
	chromium := chromiumPath(t)
	now := time.Now()

	t.Run("all healthy", func(t *testing.T) {
		t.Parallel()
		p := readDOM(browse(t, chromium, serveStatus(t, statuspagefake.AllHealthy(now)), "all-healthy"))
		if p.states() != "up,up,up,up,up,up,up" {
			t.Errorf("states %s", p.states())
		}
		if strings.Join(p.rollups, "|") != "imap: 4/4 up|pop3: 2/2 up|gateway:web: 1/1 up" {
			t.Errorf("roll-ups %q", p.rollups)
		}
	})

	t.Run("broken", func(t *testing.T) {
		t.Parallel()
		url := serveStatus(t, statuspagefake.Broken(now))
		p := readDOM(browse(t, chromium, url, "broken"))
		if got, want := p.states(), "down,down,down,stale,up,up,up,up"; got != want {
			t.Errorf("row order by state %s, want problems first: %s", got, want)
		}
		if len(p.rollups) == 0 || p.rollups[0] != "imap: 3/5 up, 2 eligible" {
			t.Errorf("roll-ups %q", p.rollups)
		}
		if p.imgs != 0 || p.rows[len(p.rows)-1].id != statuspagefake.Hostile {
			t.Errorf("hostile name: %d img elements, last row id %q", p.imgs, p.rows[len(p.rows)-1].id)
		}
		// The script filters rows: a filter from the URL fragment hides
		// every row that does not match.
		p = readDOM(browse(t, chromium, url+"#q=pop", "broken-filtered"))
		var visible []string
		for _, r := range p.rows {
			if !r.hidden {
				visible = append(visible, r.id)
			}
		}
		if strings.Join(visible, ",") != "pop01,pop02" || p.count != "2 of 8 shown" {
			t.Errorf("filter #q=pop: visible %v, count %q", visible, p.count)
		}
		// With its script blocked (headless chromium cannot dump a page
		// with JavaScript switched off, so a policy blocks the script) the
		// fragment does nothing, the server-side filter works, and the
		// page is all there.
		blocked := serveStatusWith(t, statuspagefake.Broken(now), func(h http.Handler) http.Handler {
			return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				h.ServeHTTP(&cspOverride{ResponseWriter: w}, r)
			})
		})
		p = readDOM(browse(t, chromium, blocked+"?q=imap#q=pop", "broken-script-blocked"))
		visible = visible[:0]
		for _, r := range p.rows {
			if !r.hidden {
				visible = append(visible, r.id)
			}
		}
		if len(visible) != 5 || p.count != "5 of 8 shown" {
			t.Errorf("script blocked, ?q=imap: visible %v, count %q", visible, p.count)
		}
	})

	t.Run("drained", func(t *testing.T) {
		t.Parallel()
		p := readDOM(browse(t, chromium, serveStatus(t, statuspagefake.Drained(now)), "drained"))
		if got, want := p.states(), "draining,up,up,up,up,up,up"; got != want {
			t.Errorf("states %s, want the drained backend first: %s", got, want)
		}
		if len(p.rows) > 0 && (p.rows[0].id != statuspagefake.DrainedID ||
			!strings.HasPrefix(p.rows[0].admin, "drain by alice: disk swap until ")) {
			t.Errorf("drained row %+v", p.rows[0])
		}
	})

	t.Run("1000 backends", func(t *testing.T) {
		t.Parallel()
		url := serveStatus(t, statuspagefake.Many(1000, now))
		resp, err := http.Get(url)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		t.Logf("1,000 backends: server time %s, %s bytes", resp.Header.Get("Server-Timing"), resp.Header.Get("Content-Length"))
		p := readDOM(browse(t, chromium, url, "many"))
		if len(p.rows) != 1000 {
			t.Fatalf("%d rows, want 1000", len(p.rows))
		}
		ok := false
		for _, r := range p.rows {
			if r.state == "up" {
				ok = true
			} else if ok {
				t.Fatalf("problem row %s (%s) after a healthy one", r.id, r.state)
			}
		}
		if p.rollups[0] != "imap: 196/200 up, 194 eligible" || p.count != "1000 of 1000 shown" {
			t.Errorf("roll-ups %q, count %q", p.rollups, p.count)
		}
	})
}
