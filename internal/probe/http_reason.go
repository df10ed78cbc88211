package probe

import (
	"net/url"
	"sort"
	"strings"

	"github.com/backline/backline/internal/redact"
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
// (also with '+' as a space), and percent-encoded once more. The target is
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
		for pair := range strings.FieldsFuncSeq(target, func(r rune) bool { return strings.ContainsRune(targetSeparators, r) }) {
			name, value, ok := strings.Cut(pair, "=")
			if !ok || value == "" || !redact.SensitiveParam(name) {
				continue
			}
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
	// strings.Replacer tries its arguments in order at each position: the
	// longest form must win over a shorter one it contains.
	sort.SliceStable(forms, func(i, j int) bool { return len(forms[i]) > len(forms[j]) })
	return forms
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
