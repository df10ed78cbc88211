package gateway

import (
	"net/http"
	"net/url"
	"testing"
)

// TestPlainOriginFormMatchesParseRequestURI checks the own server's
// shortcut for plain targets against url.ParseRequestURI, byte by byte in
// the path and in the query, and on the edge shapes ("?" alone, "//",
// several "?").
func TestPlainOriginFormMatchesParseRequestURI(t *testing.T) {
	targets := []string{"/", "/a", "//a//b", "/a?", "/a??", "/a?b?c", "/?", "/a?x=1&y=2", "/a;b=c/d:e@f", "/a+b,c$d&e"}
	for c := 0; c < 256; c++ {
		targets = append(targets, "/a"+string(rune(c))+"b", "/a?x"+string(byte(c))+"y", "/a"+string(byte(c)))
	}
	shortcuts := 0
	for _, target := range targets {
		want, werr := url.ParseRequestURI(target)
		var got url.URL
		r := &http.Request{Method: http.MethodGet}
		err := parseTarget(r, target, &got)
		if (err != nil) != (werr != nil) {
			t.Fatalf("%q: error %v, url.ParseRequestURI's %v", target, err, werr)
		}
		if err != nil {
			continue
		}
		if plainOriginForm(target) {
			shortcuts++
			if r.URL != &got {
				t.Fatalf("%q: the shortcut did not fill the URL kept with the head", target)
			}
		}
		if *r.URL != *want {
			t.Fatalf("%q:\n got  %#v\n want %#v", target, *r.URL, *want)
		}
	}
	if shortcuts < 100 {
		t.Fatalf("only %d targets took the shortcut", shortcuts)
	}
}
