package redact

import (
	"net/url"
	"strings"
	"testing"
)

// A harmless parameter's value can carry a URL with a credential in its
// own query: a login's next=/cb?access_token=…, a %26-joined pair, or the
// whole URL percent-encoded (return_to=https%3A%2F%2F…%3Fcode%3D…), once
// or twice. The access log's query (Query) must withhold it as Text does.
func TestReviewQueryHidesCredentialsInsideAHarmlessValue(t *testing.T) {
	const secret = "S3cr3tV4lue"
	for _, q := range []string{
		"next=/login?access_token=" + secret + "&page=2",
		"a=1%26token=" + secret,
		"next=%2Fcb%3Faccess_token%3D" + secret + "&page=2",
		"next=%2Fcb%3FACCESS_TOKEN%3d" + secret,
		"return_to=https%3A%2F%2Fapp.example%2Fcb%3Fx%3D1%26code%3D" + secret,
		"return_to=https%3A%2F%2Fu%3A" + secret + "%40app.example%2F",
		"next=https://u:" + secret + "@app.example/",
		"r=%252Fcb%253Fcode%253D" + secret,
		"state=s#next=%2F%3Fsig%3D" + secret,
		`next=/cb?token=abc"` + secret,
		`next=/cb?token=abc\` + secret,
	} {
		got := Query(q)
		if strings.Contains(got, secret) {
			t.Errorf("Query(%q) = %q keeps the credential", q, got)
		}
		if !strings.Contains(got, strings.SplitN(q, "=", 2)[0]+"=") {
			t.Errorf("Query(%q) = %q lost the parameter name", q, got)
		}
	}
	for _, text := range []string{
		`Get "https://h/p?next=%2Fcb%3Faccess_token%3D` + secret + `": EOF`,
		`Location: /login?return_to=https%3A%2F%2Fh%2F%3Fcode%3D` + secret,
	} {
		if got := Text(text); strings.Contains(got, secret) {
			t.Errorf("Text(%q) = %q keeps the credential", text, got)
		}
	}
}

// What carries no credential stays readable, encoded or not.
func TestReviewQueryKeepsHarmlessNestedValues(t *testing.T) {
	for _, q := range []string{
		"q=50%25%20off&redirect=%2Fhome%3Fpage%3D2",
		"redirect_uri=https%3A%2F%2Fa%2Fcb&state=s",
		"next=/list?page=2&sort=name",
		"email=a%40b.example",
	} {
		if got := Query(q); got != q {
			t.Errorf("Query(%q) = %q, want it unchanged", q, got)
		}
		if got := Text("GET /?" + q); got != "GET /?"+q {
			t.Errorf("Text(%q) = %q, want it unchanged", q, got)
		}
	}
}

// Hostile: a value encoded many times over is decoded a bounded number of
// times, so a long one costs no more than a few passes.
func TestReviewQueryDeeplyEncodedValue(t *testing.T) {
	q := "a=" + strings.Repeat("%2525", 20000) + "41"
	if got := Query(q); got != q {
		t.Errorf("Query changed a harmless deeply encoded value to %.40q…", got)
	}
	if got := Text("x " + q); got != "x "+q {
		t.Errorf("Text changed a harmless deeply encoded value to %.40q…", got)
	}
}

func BenchmarkReviewQuery(b *testing.B) {
	for _, c := range []struct{ name, q string }{
		{"plain", "page=2&sort=name&filter=active&lang=en"},
		{"secret", "page=2&sort=name&access_token=eyJhbGciOiJIUzI1NiJ9.abc.def&lang=en"},
		{"encoded", "q=caf%C3%A9%20au%20lait&redirect=%2Fhome%3Fpage%3D2&lang=en"},
	} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				_ = Query(c.q)
			}
		})
	}
}

func TestReviewRequestURI(t *testing.T) {
	for in, want := range map[string]string{
		"/healthz":                        "/healthz",
		"/h?api_key=abc def&v=1":          "/h?api_key=" + P + "&v=1",
		`/h?token=abc"def`:                "/h?token=" + P,
		"/h#access_token=abc def&state=s": "/h#access_token=" + P + "&state=s",
		"/h?a=1#token=abc def":            "/h?a=1#token=" + P,
		"/app;jsessionid=abc/x?page=2":    "/app;jsessionid=" + P + "?page=2",
		"/h?next=%2F%3Fcode%3Dabc&page=2": "/h?next=" + P + "&page=2",
	} {
		if got := RequestURI(in); got != want {
			t.Errorf("RequestURI(%q) = %q, want %q", in, got, want)
		}
	}
}

// The access log asks Query for every logged request and the gateway's
// error log Text for the path: what holds no credential costs no
// allocation (encoded values are decoded only with an encoded '=', '@'
// or '%' in them).
func TestReviewHarmlessInputsDoNotAllocate(t *testing.T) {
	for _, c := range []struct {
		name string
		f    func()
	}{
		{"Query plain", func() { _ = Query("page=2&sort=name&filter=active&lang=en") }},
		{"Query encoded", func() { _ = Query("q=caf%C3%A9%20au%20lait&lang=en") }},
		{"Query nested harmless", func() { _ = Query("next=/list?page=2&sort=name") }},
		{"Text path", func() { _ = Text("/things/1/parts") }},
	} {
		if n := testing.AllocsPerRun(100, c.f); n != 0 {
			t.Errorf("%s: %v allocations", c.name, n)
		}
	}
}

// Hostile: a long run of '=' (or of short pairs inside one value) is what
// a health-checked server can put in a Location header (64 KiB) and a
// client in a query (the access log): each '=' must not rescan the rest
// of its value. A scan that does takes minutes on these; a linear one
// milliseconds (no threshold here: go test's timeout catches a hang).
func TestReviewLongValuesAreScannedOnce(t *testing.T) {
	const n = 1 << 18
	for name, s := range map[string]string{
		"equals":         "a=" + strings.Repeat("=", n),
		"pairs":          "a=" + strings.Repeat("b=", n/2),
		"pairs encoded":  "a=" + strings.Repeat("b=", n/2) + "%3Dtoken%3Dx",
		"names":          "a=" + strings.Repeat("b=c", n/3) + "&token=x",
		"nameless first": "=" + strings.Repeat("b=", n/2),
	} {
		got := Text("Location: /cb?" + s)
		if name == "names" && !strings.HasSuffix(got, "&token="+P) {
			t.Errorf("%s: Text lost the token's redaction", name)
		}
		_ = Query(s)
	}
}

func TestReviewURLWithAnUnparsablePassword(t *testing.T) {
	for raw, want := range map[string]string{
		"https://u:PW1/SECRETTAIL@h/x?token=t": "https://u:" + P + "@h/x?token=" + P,
		"https://u:PW1 SECRETTAIL@h/":          "https://u:" + P + "@h/",
		"https://u:pw@h/p@x":                   "https://u:" + P + "@h/p@x", // parses: the path keeps its '@'
		"https://h:8080/p":                     "https://h:8080/p",
	} {
		if got := URL(raw); got != want {
			t.Errorf("URL(%q) = %q, want %q", raw, got, want)
		}
	}
	for _, raw := range []string{"https://u:PW1/SECRETTAIL@h/", "https://u:PW1#SECRETTAIL@h:zz/", "http://u:PW1%zzSECRETTAIL@h/"} {
		_, err := url.Parse(raw)
		if err == nil {
			t.Fatalf("%q parses", raw)
		}
		if got := URLParseError(raw, err); strings.Contains(got, "PW1") || strings.Contains(got, "SECRETTAIL") {
			t.Errorf("URLParseError(%q) = %s", raw, got)
		}
	}
}
