package config

import (
	"strings"
	"testing"
)

// A Nauthilus file gets the pointer to `backline migrate nauthilus` once,
// on its first Nauthilus-only key, and a backline file with a plain typo
// does not.
func TestNauthilusKeysGetOneHint(t *testing.T) {
	cases := map[string]struct {
		in       string
		hintPath string // "" for no hint
	}{
		"1.x file":            {"server:\n  address: 127.0.0.1:9080\n  features: [backend_server_monitoring]\nldap:\n  config: {}\nbackend_server_monitoring:\n  backend_servers: []\n", "server.features"},
		"1.x monitoring only": {"backend_server_monitoring:\n  backend_servers:\n    - {protocol: imap, host: a, port: 143}\n", "backend_server_monitoring"},
		"3.x file":            {"runtime:\n  servers: {http: {address: 127.0.0.1:9080}}\nauth:\n  controls: {enabled: [brute_force]}\n", "runtime"},
		"1.x service name":    {"auth:\n  services:\n    enabled: [backend_server_monitoring]\n", "auth.services.enabled[0]"},
		"backline typo":       {"server:\n  adress: 127.0.0.1:9080\n", ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := Parse([]byte(tc.in))
			if err == nil {
				t.Fatal("accepted")
			}
			errs := err.(Errors)
			hinted := 0
			for _, e := range errs {
				if strings.Contains(e.Msg, MigrateHint) {
					hinted++
					if e.Path != tc.hintPath {
						t.Errorf("hint on %s, want %s", e.Path, tc.hintPath)
					}
				}
			}
			want := 1
			if tc.hintPath == "" {
				want = 0
			}
			if hinted != want {
				t.Errorf("%d hints, want %d:\n%v", hinted, want, err)
			}
		})
	}
}
