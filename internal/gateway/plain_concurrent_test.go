package gateway

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestPlainLaneConcurrentRequestsKeepTheirOwnFields: clients on keep-alive
// connections, each request with fields and a body of its own, through
// the lane at once: every upstream request carries its own client's
// fields and body only, and every answer the origin's answer to it.
func TestPlainLaneConcurrentRequestsKeepTheirOwnFields(t *testing.T) {
	var mu sync.Mutex
	var mismatches []string
	o := newPlOrigin(t, func(s plSeen, _ int) string {
		var marker string
		var others []string
		for _, f := range s.fields {
			switch {
			case f.name == "X-Marker":
				if marker != "" {
					others = append(others, "second X-Marker "+f.value)
				}
				marker = f.value
			case strings.HasPrefix(f.name, "X-Field-"):
				if !strings.HasSuffix(f.name, "-"+strings.ReplaceAll(s.body, "/", "-")) {
					others = append(others, f.name)
				}
			}
		}
		if marker != s.body || len(others) > 0 {
			mu.Lock()
			mismatches = append(mismatches, fmt.Sprintf("marker %q body %q extra %v", marker, s.body, others))
			mu.Unlock()
		}
		return fmt.Sprintf("HTTP/1.1 200 OK\r\nX-Echo: %s\r\nX-Echo-%s: 1\r\nContent-Length: %d\r\n\r\n%s",
			marker, strings.ReplaceAll(marker, "/", "-"), len(s.body), s.body)
	})
	addr, _ := plHarness(t, gatewayYAML(o.url(), "", "    - path: /**\n      proxy:\n        backend: api\n"), false)
	const clients, requests = 6, 40
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for g := range clients {
		wg.Go(func() {
			c, err := net.Dial("tcp", addr)
			if err != nil {
				errs <- err
				return
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(60 * time.Second)) // a hang guard
			br := bufio.NewReader(c)
			for i := range requests {
				id := fmt.Sprintf("%d/%d", g, i)
				field := strings.ReplaceAll(id, "/", "-")
				var extra strings.Builder
				for k := range (g*7 + i) % 30 { // heads of different sizes in turn
					fmt.Fprintf(&extra, "X-Field-%d-%s: v\r\n", k, field)
				}
				req := fmt.Sprintf("POST /c/%s HTTP/1.1\r\nHost: gw.test\r\nX-Marker: %s\r\n%sContent-Length: %d\r\n\r\n%s", id, id, extra.String(), len(id), id)
				if _, err := io.WriteString(c, req); err != nil {
					errs <- err
					return
				}
				as, _ := plReadAnswers(br, []string{"POST"})
				if len(as) != 1 || as[0].status != 200 || as[0].body != id {
					errs <- fmt.Errorf("request %s: answer %+v", id, as)
					return
				}
				echoes := 0
				for _, f := range as[0].fields {
					if f.name == "X-Echo" && f.value != id || strings.HasPrefix(f.name, "X-Echo-") && f.name != "X-Echo-"+field {
						errs <- fmt.Errorf("request %s: answer field %s: %s", id, f.name, f.value)
						return
					}
					if strings.HasPrefix(f.name, "X-Echo") {
						echoes++
					}
				}
				if echoes != 2 {
					errs <- fmt.Errorf("request %s: %d echo fields in %v", id, echoes, as[0].fields)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	mu.Lock()
	defer mu.Unlock()
	for _, m := range mismatches {
		t.Errorf("upstream request with another's fields: %s", m)
	}
}
