package probe

import (
	"net/url"
	"sort"
	"strings"

	"github.com/backline/backline/internal/redact"
	"github.com/backline/backline/internal/textutil"
)

// shownReason is an HTTP reason phrase as a transcript or an error shows
// it. Servers echo the request target there ("404 Not Found:
// /healthz?api_key=…"), whole or in part, as sent, decoded or encoded
// again, quoted or not. Free-text redaction alone ends a value at a quote
// or a space and cannot tell a value from a word when its name is not
// next to it, so every value the request line withholds is replaced
// wherever one of its forms appears, and what remains is read the way a
// request target is (redact.RequestURI: what follows a '?' is a query,
// whose values run to '&', ';' or '#'), then as free text (a URL's user
// info).
func shownReason(reason, target string) string {
	if forms := withheldForms(target); len(forms) > 0 {
		pairs := make([]string, 0, 2*len(forms))
		for _, f := range forms {
			pairs = append(pairs, f, redact.Placeholder)
		}
		reason = strings.NewReplacer(pairs...).Replace(reason)
	}
	return redact.Text(redact.RequestURI(reason))
}

// targetSeparators end a name=value pair in a request target: query
// separators, and '/' for a path parameter (";jsessionid=…/").
const targetSeparators = "?&;#/"

// withheldForms lists, longest first, the forms in which a server may echo
// a value of target that redaction withholds: as sent, percent-decoded
// (also with '+' as a space), and percent-encoded once more, with its hex
// digits in either case (.NET's UrlEncode writes "%2f"). The target is
// read as sent and decoded up to twice, so a credential nested in a
// harmless value (next=%2Fcb%3Faccess_token%3D…) is found too.
func withheldForms(target string) []string {
	seen := map[string]bool{}
	var forms []string
	add := func(f string) {
		if f != "" && f != redact.Placeholder && !seen[f] {
			seen[f] = true
			forms = append(forms, f)
		}
	}
	for range 3 {
		for _, value := range withheldValues(target) {
			add(value)
			add(url.QueryEscape(value))
			add(url.PathEscape(value))
			for _, decoded := range decodings(value) {
				add(decoded)
				add(url.QueryEscape(decoded))
				add(url.PathEscape(decoded))
			}
		}
		decoded, err := url.PathUnescape(target)
		if err != nil || decoded == target {
			break
		}
		target = decoded
	}
	for _, f := range forms {
		add(hexCase(f, false))
		add(hexCase(f, true))
	}
	// strings.Replacer tries its arguments in order at each position: the
	// longest form must win over a shorter one it contains.
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return forms
}

// withheldValues are the values of target that redaction withholds: what
// the GET line (redact.RequestURI) replaces, all of it (a query value runs
// to '&', ';' or '#', so a base64 token keeps its '/' and a redirect's
// user-info password is found too), and every sensitive pair's value cut
// at any separator, for a target nested in a harmless value.
func withheldValues(target string) []string {
	values := replacedParts(target, redact.RequestURI(target))
	for pair := range strings.FieldsFuncSeq(target, func(r rune) bool { return strings.ContainsRune(targetSeparators, r) }) {
		if name, value, ok := strings.Cut(pair, "="); ok && value != "" && redact.SensitiveParam(name) {
			values = append(values, value)
		}
	}
	return values
}

// replacedParts are the parts of raw that shown, raw with some parts
// replaced by redact.Placeholder, has replaced: the text between two
// placeholders of shown is found in raw, and what lies between is a part.
func replacedParts(raw, shown string) []string {
	if shown == raw {
		return nil
	}
	kept := strings.Split(shown, redact.Placeholder)
	if !strings.HasPrefix(raw, kept[0]) {
		return nil
	}
	var parts []string
	pos := len(kept[0])
	for i, next := range kept[1:] {
		at := strings.Index(raw[pos:], next)
		if i == len(kept)-2 { // the last text ends raw
			at = len(raw) - len(next) - pos
		}
		if at < 0 {
			break
		}
		parts = append(parts, raw[pos:pos+at])
		pos += at + len(next)
	}
	return parts
}

// hexCase is s with the hex digits of its percent-escapes in upper or
// lower case.
func hexCase(s string, upper bool) string {
	if !strings.Contains(s, "%") {
		return s
	}
	b := []byte(s)
	for i := 0; i+2 < len(b); i++ {
		if b[i] != '%' || !textutil.IsHexDigit(b[i+1]) || !textutil.IsHexDigit(b[i+2]) {
			continue
		}
		for _, j := range []int{i + 1, i + 2} {
			switch c := b[j]; {
			case upper && c >= 'a' && c <= 'f':
				b[j] = c - 'a' + 'A'
			case !upper && c >= 'A' && c <= 'F':
				b[j] = c - 'A' + 'a'
			}
		}
		i += 2
	}
	return string(b)
}

// decodings is value percent-decoded as a path and as a query ('+' is a
// space) would be, where it decodes.
func decodings(value string) []string {
	var out []string
	if d, err := url.PathUnescape(value); err == nil && d != value {
		out = append(out, d)
	}
	if d, err := url.QueryUnescape(value); err == nil && d != value {
		out = append(out, d)
	}
	return out
}

// withholdHeader makes what the request's transcript withholds of a
// header's value (an X-Api-Key, a bearer token, a URL's key) a secret of
// the session, so a server echoing it ("401 invalid API key …") shows
// the placeholder there too: in the status line, the transcript and the
// check's error.
func (s *session) withholdHeader(value, shown string) {
	if shown == value {
		return
	}
	withheld := replacedParts(value, shown)
	if shown == redact.Placeholder {
		withheld = []string{value}
		// "Bearer <token>": the token alone is what a server echoes.
		if _, credential, ok := strings.Cut(value, " "); ok {
			withheld = append(withheld, strings.TrimSpace(credential))
		}
	}
	s.withhold(withheld...)
}
