package gateway

import (
	"strings"
	"testing"
)

func TestPathSlug(t *testing.T) {
	for in, want := range map[string]string{
		"/":                            "root",
		"/**":                          "root",
		"/api/v1/users/{id}/**":        "api_v1_users_id",
		"/a-b/c.d/{x}/{y}":             "a_b_c_d_x_y",
		"/%C3%A9t%C3%A9":               "C3_A9t_C3_A9",
		"/" + strings.Repeat("x", 300): strings.Repeat("x", maxSlug-9) + "_",
	} {
		got := pathSlug(in)
		if !strings.HasPrefix(got, want) || (len(in) < 100 && got != want) {
			t.Errorf("pathSlug(%q) = %q, want %q", in, got, want)
		}
		if len(got) > maxSlug {
			t.Errorf("pathSlug(%q) is %d bytes", in, len(got))
		}
	}
}

// TestAnonymousNamesSurviveInsertedLines: the name comes from the
// endpoint path, so a config edited above the endpoint keeps its series.
func TestAnonymousNamesSurviveInsertedLines(t *testing.T) {
	o := newEcho(t)
	eps := `    - path: /same
      methods: [GET]
      proxy:
        url: ` + o.URL + `/a
    - path: /same
      methods: [POST]
      proxy:
        backend: {origin: ` + o.URL + `}
    - path: /other/{id}/**
      request:
        url: ` + o.URL + `/b
`
	names := func(yml string) string {
		h := newHarness(t, yml)
		var out []string
		for _, rt := range h.gw.runtimes {
			out = append(out, rt.name)
		}
		return strings.Join(out, ",")
	}
	first := names(gatewayYAML(o.URL, "", eps))
	second := names("# a comment\n\n\n" + gatewayYAML(o.URL, "", eps))
	want := "api,anonymous_same,anonymous_same_2,anonymous_other_id"
	if first != want || second != want {
		t.Fatalf("names %s then %s, want %s", first, second, want)
	}
}
