package config

import "testing"

func healthYAML(body string) string {
	return originsYAML("origin: https://127.0.0.1:8443\nbeta_health:\n" + indent(body, 2))
}

func TestHealthPortSchemeInitialState(t *testing.T) {
	h := mustParse(t, healthYAML("port: 9000\nscheme: \" HTTP \"\ninitial_state: Unhealthy\n")).Definitions.Backends["api"].Health
	if h.Port != 9000 || h.Scheme != "http" || h.InitialState != InitialUnhealthy {
		t.Errorf("port %d scheme %q initial_state %q", h.Port, h.Scheme, h.InitialState)
	}
	h = mustParse(t, healthYAML("path: /h\n")).Definitions.Backends["api"].Health
	if h.Port != 0 || h.Scheme != "" || h.InitialState != InitialHealthy {
		t.Errorf("defaults: port %d scheme %q initial_state %q", h.Port, h.Scheme, h.InitialState)
	}
	// Surrounding white space is trimmed, as for the mail checks' words.
	if h := mustParse(t, healthYAML("scheme: \"https\\n\"\n")).Definitions.Backends["api"].Health; h.Scheme != "https" {
		t.Errorf("scheme %q", h.Scheme)
	}
	// With several origins the keys apply to each; nothing more to check.
	mustParse(t, originsYAML("origins: [http://127.0.0.1:1, http://127.0.0.1:2]\nbeta_health:\n  port: 9000\n  scheme: https\n"))
}

func TestHealthPortSchemeInitialStateErrors(t *testing.T) {
	const p = "definitions.backends.api.beta_health."
	for _, tc := range []struct{ body, want string }{
		{"port: 0\n", p + "port (line 6): must be 1..65535, got 0"},
		{"port: 70000\n", p + "port (line 6): must be 1..65535, got 70000"},
		{"port: -1\n", p + "port (line 6): must be 1..65535, got -1"},
		{"scheme: ftp\n", p + `scheme (line 6): must be http or https, got "ftp"`},
		{"scheme: \"\"\n", p + `scheme (line 6): must be http or https, got ""`},
		{"scheme: ~\n", p + `scheme (line 6): must be http or https, got ""`},
		{"initial_state: down\n", p + `initial_state (line 6): must be healthy or unhealthy, got "down"`},
		{"initial_state: \"\"\n", p + `initial_state (line 6): must be healthy or unhealthy, got ""`},
	} {
		wantOnlyError(t, healthYAML(tc.body), tc.want)
	}
	for _, body := range []string{
		"port: \"\"\n",
		"port: x\n",
		"port: 99999999999999999999\n",
		"port: [1]\n",
		"scheme: [http]\n",
		"initial_state: {a: b}\n",
		"ports: 9000\n",
	} {
		parseErrors(t, healthYAML(body)) // each refused by the decoder, with a key path
	}
}
