package redact

import (
	"context"
	"net"
	"net/http"
	"strings"
	"testing"
)

const P = Placeholder

func TestSensitiveParam(t *testing.T) {
	for _, name := range []string{
		"access_token", "id_token", "refresh_token", "code", "client_secret", "password", "passwd", "pass",
		"token", "api_key", "apikey", "apiKey", "key", "secret", "signature", "sig", "Signature",
		"X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "X-Goog-Signature", "X-Goog-Credential",
		"ACCESS_TOKEN", "acc%65ss_token", "%74oken", "%54OKEN", "pass%77ord", "to+ken", "to%00ken",
		"code_verifier", "client_assertion", "oauth_verifier", "oauth_signature", "ticket", "SAMLResponse",
		"PHPSESSID", "jsessionid", "hmac", "otp", "nonce", "jwt", "auth",
		"%zz", "%7", "%", "%2574oken", // undecodable or encoded twice: unknown, so withheld
	} {
		if !SensitiveParam(name) {
			t.Errorf("SensitiveParam(%q) = false", name)
		}
	}
	for _, name := range []string{"", "a", "page", "q", "state", "redirect_uri", "scope", "response_type", "client_id",
		"X-Amz-Algorithm", "X-Amz-Date", "X-Amz-Expires", "lang", "caf%C3%A9", "a%3Db"} {
		if SensitiveParam(name) {
			t.Errorf("SensitiveParam(%q) = true", name)
		}
	}
}

func TestQuery(t *testing.T) {
	for in, want := range map[string]string{
		"":                                "",
		"a=1&b=2":                         "a=1&b=2",
		"token=x":                         "token=" + P,
		"TOKEN=x&t=":                      "TOKEN=" + P + "&t=",
		"apiKey=1&apikey&code=9":          "apiKey=" + P + "&apikey&code=" + P,
		"a%3Db=1":                         "a%3Db=1",
		"acc%65ss_token=SECRET&x=1":       "acc%65ss_token=" + P + "&x=1",
		"&&=&":                            "&&=&",
		"token=":                          "token=",
		"a=1;token=SECRET;b=2":            "a=1;token=" + P + ";b=2",
		"token=a=b=c&x=y":                 "token=" + P + "&x=y",
		"token=1&token=2&TOKEN=3":         "token=" + P + "&token=" + P + "&TOKEN=" + P,
		"a=1#access_token=SECRET&state=s": "a=1#access_token=" + P + "&state=s",
		"x=1&access_token=" + P:           "x=1&access_token=" + P,
		"X-Amz-Credential=AKIA%2F20260101&X-Amz-Date=20260101T000000Z&X-Amz-Signature=ab12": "X-Amz-Credential=" + P + "&X-Amz-Date=20260101T000000Z&X-Amz-Signature=" + P,
		"redirect_uri=https%3A%2F%2Fa%2Fcb&state=s&code=c0de":                               "redirect_uri=https%3A%2F%2Fa%2Fcb&state=s&code=" + P,
	} {
		if got := Query(in); got != want {
			t.Errorf("Query(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestText(t *testing.T) {
	for in, want := range map[string]string{
		"no pairs here": "no pairs here",
		`Get "https://h/p?access_token=S1&x=1": dial tcp 127.0.0.1:1: connection refused`: `Get "https://h/p?access_token=` + P + `&x=1": dial tcp 127.0.0.1:1: connection refused`,
		`Get "https://h/p?a=1&sig=S\"2": EOF`:                                             `Get "https://h/p?a=1&sig=` + P + `": EOF`,
		"https://idp/cb#access_token=S3&token_type=bearer&state=x":                        "https://idp/cb#access_token=" + P + "&token_type=" + P + "&state=x",
		"/cb?redirect_uri=/next?code=S4":                                                  "/cb?redirect_uri=/next?code=" + P,
		"0; url=https://h/?key=S5":                                                        "0; url=https://h/?key=" + P,
		"Location: https://h/?password=S6 and more":                                       "Location: https://h/?password=" + P + " and more",
		"https://alice:S7@h:8080/p?q=1":                                                   "https://alice:" + P + "@h:8080/p?q=1",
		"https://alice@h/":                                                                "https://alice@h/",
		`"ftp://u:S8@x" and "http://v:S9@y/"`:                                             `"ftp://u:` + P + `@x" and "http://v:` + P + `@y/"`,
		"a=1 token=" + P + " b=2":                                                         "a=1 token=" + P + " b=2",
		"https://u:" + P + "@h/":                                                          "https://u:" + P + "@h/",
		"=x ==y token==z":                                                                 "=x ==y token=" + P,
	} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q)\n = %q\nwant %q", in, got, want)
		}
		if again := Text(Text(in)); again != Text(in) {
			t.Errorf("Text(Text(%q)) = %q changed again", in, again)
		}
	}
}

// Go's HTTP client quotes the whole request URL in its errors (url.Error):
// ErrorText, which every such error passes through before a log, an
// answer or a Lua script sees it, keeps the URL without the credentials.
func TestErrorTextOfHTTPClientErrors(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close() // nothing listens: the request fails at dial
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet,
		"http://user:SECRET1@"+addr+"/cb?access_token=SECRET2&page=2&X-Amz-Signature=SECRET3#id_token=SECRET4", nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = http.DefaultClient.Do(req)
	if err == nil {
		t.Fatal("the request reached something")
	}
	if !strings.Contains(err.Error(), "SECRET2") {
		t.Fatalf("the test needs an error that quotes the query: %v", err)
	}
	got := ErrorText(err.Error())
	if strings.Contains(got, "SECRET") {
		t.Errorf("ErrorText kept a secret: %s", got)
	}
	if want := "/cb?access_token=" + P + "&page=2&X-Amz-Signature=" + P; !strings.Contains(got, want) {
		t.Errorf("ErrorText lost the URL's shape (want %q): %s", want, got)
	}
}

func TestHeaderValueKeepsURLsWithoutCredentials(t *testing.T) {
	for _, c := range []struct{ name, value, want string }{
		{"Location", "https://app/cb?code=SECRET&state=abc", "https://app/cb?code=" + P + "&state=abc"},
		{"Content-Location", "/r?sig=SECRET", "/r?sig=" + P},
		{"Refresh", "0; url=/next?token=SECRET", "0; url=/next?token=" + P},
		{"Content-Type", "text/html; charset=utf-8", "text/html; charset=utf-8"},
		{"Cache-Control", "max-age=60, private", "max-age=60, private"},
	} {
		if got := HeaderValue(c.name, c.value); got != c.want {
			t.Errorf("HeaderValue(%q, %q) = %q, want %q", c.name, c.value, got, c.want)
		}
		if got := HeaderLine(c.name + ": " + c.value); got != c.name+": "+c.want {
			t.Errorf("HeaderLine(%s: %s) = %q", c.name, c.value, got)
		}
	}
}

func TestQueryOversized(t *testing.T) {
	secret := strings.Repeat("S", 1<<20)
	q := strings.Repeat("a=1&", 1<<16) + "token=" + secret + strings.Repeat(";token="+secret[:100], 1000)
	got := Query(q)
	if strings.Contains(got, "SS") {
		t.Fatal("an oversized or repeated secret survived")
	}
	if !strings.HasPrefix(got, "a=1&a=1&") || !strings.HasSuffix(got, ";token="+P) {
		t.Fatalf("shape lost: %q…%q", got[:16], got[len(got)-16:])
	}
	if got := Text(q); strings.Contains(got, "SS") {
		t.Fatal("Text kept a secret")
	}
}
