package gateway

import (
	"net/http"
	"strings"
	"testing"
)

// cookie_hash with hash_cookie_set: the gateway's own lb cookie is not
// part of the origin's answer, so an operator's rule removing the
// origin's Set-Cookie (on the backend, the proxy or the endpoint) must
// not take it along: it used to, and stickiness silently stopped as
// every request came without a cookie and got a new random token.
func TestHashCookieSurvivesResponseModifiers(t *testing.T) {
	setter := func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Set-Cookie", "tracking=1; Path=/")
		w.WriteHeader(200)
	}
	for _, where := range []string{"backend", "proxy", "endpoint"} {
		t.Run(where, func(t *testing.T) {
			tr := &transcript{}
			backend := "      load_balancing: cookie_hash\n"
			if where == "backend" {
				backend += "      remove_response_headers: [Set-Cookie]\n"
			}
			yml := originsYAML(backend, tr.origin(t, "a", setter), tr.origin(t, "b", setter), tr.origin(t, "c", setter))
			switch where {
			case "proxy":
				yml = strings.Replace(yml, "        backend: api\n", "        backend: api\n        remove_response_headers: [set-cookie]\n", 1)
			case "endpoint":
				yml = strings.Replace(yml, "    - path: /**\n", "    - path: /**\n      remove_response_headers: [SET-COOKIE]\n", 1)
			}
			h := newHarness(t, yml)
			first, resp := originOf(t, h, tr, "/a", nil)
			got := resp.Header.Values("Set-Cookie")
			if len(got) != 1 || !strings.HasPrefix(got[0], "lb=") {
				t.Fatalf("Set-Cookie %q, want only the gateway's lb (the origin's removed)", got)
			}
			cookie := strings.SplitN(got[0], ";", 2)[0]
			for range 5 {
				again, resp := originOf(t, h, tr, "/b", map[string]string{"Cookie": cookie})
				if again != first {
					t.Fatalf("with %s: %s, then %s", cookie, first, again)
				}
				if v := resp.Header.Values("Set-Cookie"); len(v) != 0 {
					t.Fatalf("a client with a usable cookie got Set-Cookie %q", v)
				}
			}
		})
	}
}

// A response modifier that sets the hash cookie itself wins over the
// gateway's token, as an origin's own cookie of that name does.
func TestHashCookieModifierSetsSameName(t *testing.T) {
	tr := &transcript{}
	yml := originsYAML("      load_balancing: cookie_hash\n      set_response_headers: {Set-Cookie: \"lb=pinned; Path=/\"}\n", threeOrigins(t, tr)...)
	h := newHarness(t, yml)
	_, resp := originOf(t, h, tr, "/", nil)
	if got := resp.Header.Values("Set-Cookie"); len(got) != 1 || got[0] != "lb=pinned; Path=/" {
		t.Errorf("Set-Cookie %q, want only the operator's", got)
	}
}

// The 101 answer of a websocket upgrade gets the cookie after the
// websockets block's own response modifiers too.
func TestHashCookieSurvivesWebsocketModifiers(t *testing.T) {
	_, srv := newWSOrigin(t)
	h := newHarness(t, `definitions:
  backends:
    ws:
      origins: [`+srv.URL+`]
      load_balancing: cookie_hash
gateway:
  address: 127.0.0.1:18999
  endpoints:
    - path: /chat/**
      remove_response_headers: [Set-Cookie]
      proxy:
        backend: ws
        websockets:
          remove_response_headers: [Set-Cookie]
`)
	conn, _, resp := wsDial(t, h, "/chat/x", "websocket", nil)
	defer conn.Close()
	if resp.StatusCode != 101 {
		t.Fatalf("answer %d", resp.StatusCode)
	}
	if got := resp.Header.Values("Set-Cookie"); len(got) != 1 || !strings.HasPrefix(got[0], "lb=") {
		t.Errorf("Set-Cookie on the 101: %q, want the gateway's lb", got)
	}
}
