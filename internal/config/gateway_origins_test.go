package config

import (
	"fmt"
	"strings"
	"testing"
)

func originsYAML(body string) string {
	return "definitions:\n  backends:\n    api:\n" + indent(body, 6)
}

func TestOriginsParse(t *testing.T) {
	c := mustParse(t, originsYAML(`origins:
  - http://127.0.0.1:8081
  - origin: http://127.0.0.1:8082
    weight: 3
load_balancing: weighted
retries: 2
beta_health: {}
passive_health:
  consecutive_5xx: 3
`))
	b := c.Definitions.Backends["api"]
	if len(b.Origins) != 2 || b.Origins[0].Origin != "http://127.0.0.1:8081" || *b.Origins[0].Weight != 1 || *b.Origins[1].Weight != 3 {
		t.Fatalf("origins = %+v", b.Origins)
	}
	if b.LoadBalancing != BalanceWeighted || *b.Retries != 2 {
		t.Errorf("load_balancing %q retries %d", b.LoadBalancing, *b.Retries)
	}
	p := b.PassiveHealth
	want := PassiveHealth{Consecutive5xx: 3, Interval: DefaultPassiveInterval, BaseEjectionTime: DefaultBaseEjectionTime,
		MaxEjectionTime: DefaultMaxEjectionTime, MaxEjectionPercent: DefaultMaxEjectionPercent}
	if *p != want {
		t.Errorf("passive_health = %+v, want %+v", *p, want)
	}
}

func TestSingleOriginUnchanged(t *testing.T) {
	c := mustParse(t, originsYAML("origin: http://127.0.0.1:8081\nbeta_health: {}\n"))
	b := c.Definitions.Backends["api"]
	if b.HasSeveralOrigins() || b.Origin != "http://127.0.0.1:8081" || b.LoadBalancing != BalanceRoundRobin || *b.Retries != DefaultRetries {
		t.Errorf("single origin backend = %+v", b.BackendAttrs)
	}
}

func TestOriginsErrors(t *testing.T) {
	for _, tc := range []struct{ body, want string }{
		{"origin: http://a:1\norigins: [http://b:1]\n", "definitions.backends.api.origins (line 5): origin and origins are mutually exclusive; list every origin under origins"},
		{"origins: []\n", "definitions.backends.api.origins (line 4): must list at least one origin"},
		{"origins: http://a:1\n", "definitions.backends.api.origins (line 4): must be a list of origins"},
		{"origins:\n  - ftp://a:1\n", `definitions.backends.api.origins[0] (line 5): the origin attribute has to contain an absolute URL with a valid hostname: "ftp://a:1"`},
		{"origins:\n  - ftp://u:SECRET1@a:1/?token=SECRET2\n", `definitions.backends.api.origins[0] (line 5): the origin attribute has to contain an absolute URL with a valid hostname: "ftp://u:<redacted>@a:1/?token=<redacted>"`},
		{"origin: 'http://u:SECRET3@a:1/%zz?sig=SECRET4'\n", `definitions.backends.api.origin (line 4): invalid url: parse "http://u:<redacted>@a:1/%zz?sig=<redacted>": invalid URL escape "%zz"`},
		{"origin: http://a:1\nproxy: socks5://u:SECRET5@p:1080\n", `definitions.backends.api.proxy (line 5): must be an http:// or https:// URL, got "socks5://u:<redacted>@p:1080"`},
		{"origins:\n  - http://a:1\n  - http://A:1/x\n", "definitions.backends.api.origins[1] (line 6): duplicates origins[0] (http://a:1)"},
		{"origins:\n  - http://a\n  - http://a:80\n", "definitions.backends.api.origins[1] (line 6): duplicates origins[0] (http://a:80)"},
		{"origins:\n  - origin: http://a:1\n    weight: 300\n", "definitions.backends.api.origins[0].weight (line 6): must be 0..256, got 300"},
		{"origins:\n  - origin: http://a:1\n    wieght: 3\n", ""},
		{"origins:\n  - http://${env.X}:1\n", ""},
		{"origins:\n  - [x]\n", "definitions.backends.api.origins[0] (line 5): must be an origin URL or a mapping with origin, weight and backup"},
		{"origins: [http://a:1]\nload_balancing: fastest\n", `definitions.backends.api.load_balancing (line 5): must be one of round_robin, least_connections, weighted, random, p2c, client_ip_hash, header_hash, cookie_hash, uri_hash, got "fastest"`},
		{"origins: [http://a:1]\nretries: 11\n", "definitions.backends.api.retries (line 5): must be 0..10, got 11"},
		{"origin: http://a:1\nretries: 2\n", "definitions.backends.api.retries (line 5): needs origins (a backend with one origin has nothing to balance or retry on)"},
		{"origin: http://a:1\nbeta_health: {}\npassive_health: {}\n", "definitions.backends.api.passive_health (line 6): needs origins (write a single origin as origins: [<url>])"},
		{"origins: [http://a:1]\nbeta_health: {}\npassive_health:\n  consecutive_5xx: 0\n", "definitions.backends.api.passive_health.consecutive_5xx (line 7): must be 1..1000, got 0"},
		{"origins: [http://a:1]\nbeta_health: {}\npassive_health:\n  max_ejection_percent: 101\n", "definitions.backends.api.passive_health.max_ejection_percent (line 7): must be 0..100, got 101"},
		{"origins: [http://a:1]\nbeta_health: {}\npassive_health:\n  base_ejection_time: 1m\n  max_ejection_time: 10s\n", "definitions.backends.api.passive_health.max_ejection_time (line 8): must not be shorter than base_ejection_time (1m0s), got 10s"},
		{"origins: [http://a:1]\nbeta_health: {}\npassive_health:\n  interval: 1ms\n", "definitions.backends.api.passive_health.interval (line 7): must be at least 100ms, got 1ms"},
	} {
		if tc.want == "" {
			parseErrors(t, originsYAML(tc.body)) // must fail; the message is the decoder's
			continue
		}
		wantError(t, originsYAML(tc.body), tc.want)
	}
}

func TestOriginsRefinementForbidden(t *testing.T) {
	yml := `definitions:
  backends:
    api:
      origins: [http://127.0.0.1:1]
gateway:
  address: 127.0.0.1:0
  endpoints:
    - path: /x
      proxy:
        backend:
          label: api
          origins: [http://127.0.0.1:2]
`
	wantError(t, yml, `gateway.endpoints[0].proxy.backend.origins (line 12): backend reference: refinement for "api" is not permitted (origins)`)
}

func TestOriginsHostile(t *testing.T) {
	var many strings.Builder
	many.WriteString("origins:\n")
	for i := range MaxOrigins + 1 {
		fmt.Fprintf(&many, "  - http://127.0.0.1:%d\n", 1000+i)
	}
	wantError(t, originsYAML(many.String()), "definitions.backends.api.origins (line 4): must list at most 256 origins, got 257")
	for _, body := range []string{
		"origins:\n  - \"http://a:1/\\x00\"\n",                                 // control character
		"origins:\n  - \"http://a b:1\"\n",                                     // space in the host
		"origins:\n  - origin: http://a:1\n    weight: 99999999999999999999\n", // overflows
		"origins:\n  - origin: http://a:1\n    weight: x\n",
		"origins:\n  - ~\n",
		"origins:\n  - http://a:1\n  - http://a:1\n",
		"origins: [http://a:1]\nload_balancing: \"round_robin\\n\"\n",
	} {
		parseErrors(t, originsYAML(body)) // each must be refused, with a key path
	}
}

func TestOriginsPassiveWarning(t *testing.T) {
	c := mustParse(t, originsYAML("origins: [http://127.0.0.1:1]\npassive_health: {}\n")+usedByAGateway)
	want := "definitions.backends.api.passive_health (line 5): max_ejection_percent 50 of 1 origin(s) allows no ejection: passive health never takes an origin out (100 allows all)"
	if w := c.Warnings(); len(w) != 1 || w[0] != want {
		t.Errorf("warnings %q", w)
	}
	c = mustParse(t, originsYAML("origins: [http://127.0.0.1:1, http://127.0.0.1:2]\npassive_health: {}\n")+usedByAGateway)
	if w := c.Warnings(); len(w) != 0 {
		t.Errorf("warnings %q", w)
	}
}

func TestPanicThreshold(t *testing.T) {
	c := mustParse(t, originsYAML("origins: [http://a:1, http://b:1]\npanic_threshold: 50\nbeta_health: {}\n"))
	if got := c.Definitions.Backends["api"].PanicThresholdOf(); got != 50 {
		t.Errorf("panic_threshold %d", got)
	}
	if got := mustParse(t, originsYAML("origins: [http://a:1]\n")).Definitions.Backends["api"].PanicThresholdOf(); got != 0 {
		t.Errorf("default panic_threshold %d, want 0 (off)", got)
	}
	for _, tc := range []struct{ body, want string }{
		{"origins: [http://a:1]\npanic_threshold: 101\n", "definitions.backends.api.panic_threshold (line 5): must be 0..100 (percent), got 101"},
		{"origins: [http://a:1]\npanic_threshold: -1\n", "definitions.backends.api.panic_threshold (line 5): must be 0..100 (percent), got -1"},
		{"origins: [http://a:1]\npanic_threshold: 50%\n", `definitions.backends.api.panic_threshold (line 5): must be a whole number, got "50%"`},
		{"origin: http://a:1\npanic_threshold: 50\n", "definitions.backends.api.panic_threshold (line 5): needs origins (panic mode balances over a backend's origins; write a single origin as origins: [<url>])"},
	} {
		got := parseErrors(t, originsYAML(tc.body))
		if len(got) != 1 || got[0] != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.body, got, tc.want)
		}
	}
	c = mustParse(t, originsYAML("origins: [http://127.0.0.1:1, http://127.0.0.1:2]\npanic_threshold: 50\n")+usedByAGateway)
	want := "definitions.backends.api.panic_threshold (line 5): panic_threshold has no effect: without beta_health or passive_health every origin counts as eligible (only an operator takes one out, and those stay out in panic too)"
	if w := c.Warnings(); len(w) != 1 || w[0] != want {
		t.Errorf("warnings %q", w)
	}
}
