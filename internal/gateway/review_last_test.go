package gateway

import (
	"net/url"
	"strings"
	"testing"

	"fmt"
)

// proxyParseError is the error x/net's httpproxy.parseProxy builds (Go
// 1.26's net/http drops it and goes direct, but proxyEnvError is written
// against this wording): the original value quoted, with url.Parse's error
// of it, when neither it nor "http://"+it parses.
func realProxyError(t *testing.T, raw string) error {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		if _, err := url.Parse("http://" + raw); err == nil {
			return nil
		}
	}
	if err != nil {
		return fmt.Errorf("invalid proxy address %q: %v", raw, err)
	}
	return nil
}

// HTTP_PROXY is often written without its scheme; a value neither form of
// which parses is quoted whole, so its password must be found without
// "://" too.
func TestReviewProxyEnvErrorHidesAPasswordWithoutScheme(t *testing.T) {
	for _, raw := range []string{
		"http://user:pa/ss#SECRET@proxy:3128",
		"http://u:SECRET@proxy:x",
		"http://u:pa ssSECRET@proxy:3128",
		"http://u:pa\"SECRET\\@proxy:3128",
		"http://u:pa\xffSECRET\xfe@proxy:3128",
		"http://u:pa\x7fSECRET@proxy:3128",
		"http://u:pa\tSECRET@proxy:3128",
		"1user:SEC RET@proxy:3128",
		"007:SECRET x@proxy:3128",
		"1user:pa%zzSECRET@proxy:3128",
		"http://u:pa%zzSECRET@proxy:3128",
		"http://u:SECRET@[::1",

		"http://u:pa@ss:SECRET@proxy:x",
		"http://u:\"SECRET\"@proxy:x",
		"\"http://u:SECRET@proxy:x\"",
		"http://u:SECRET\\x22@proxy:x",
		" http://u:SECRET@proxy:3128",
		"http://u:SE\nCRET@proxy:3128",
		"http://u:SE\x00CRET@proxy:3128",
		"http://u:SE CRET@proxy:3128/path",
		"socks5://u:SE CRET@proxy:1080",
		"://u:SECRET@proxy:x",
		"http:/u:SECRET x@proxy",
		"user:SECRET@proxy:x",
		"u:SECRET@[::1",
	} {
		err := realProxyError(t, raw)
		if err == nil {
			continue
		}
		got := proxyEnvError(err)
		for _, part := range []string{"SECRET", "SE", "CRET", "RET"} {
			if strings.Contains(got, part) {
				t.Errorf("%q: %q in %q", raw, part, got)
			}
		}
	}
}
