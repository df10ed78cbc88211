package server

import (
	"bytes"
	"html/template"
	"unicode/utf8"
)

// The rows are written directly rather than through html/template: with
// 1,000 backends and a dozen values per row, the template's reflection and
// per-value escaper calls were most of the page's server time. The rules
// that keep this safe are simple and fixed: every value from a snapshot
// goes through escapeHTML (the same escaping html/template applies to text
// and quoted attributes), and only into element text or a double-quoted
// attribute value; the sparkline (numbers only) is the one value written
// as is.

// writeRows renders the table rows.
func writeRows(rows []statusRow) template.HTML {
	var b bytes.Buffer
	b.Grow(1400 * len(rows))
	for i := range rows {
		writeRow(&b, &rows[i])
	}
	return template.HTML(b.String()) //nolint:gosec // every value escaped by escapeHTML
}

func writeRow(b *bytes.Buffer, r *statusRow) {
	b.WriteString(`<tr class="s-`)
	escapeHTML(b, r.State)
	if r.Problem {
		b.WriteString(" p")
	}
	b.WriteString(`" data-id="`)
	escapeHTML(b, r.ID)
	b.WriteString(`" data-k="`)
	escapeHTML(b, r.Key)
	b.WriteString("\">\n<td class=\"st\">")
	escapeHTML(b, r.State)
	b.WriteString("</td>\n<td class=\"id\">")
	escapeHTML(b, r.ID)
	b.WriteString("<br><small>")
	escapeHTML(b, r.Protocol)
	b.WriteByte(' ')
	escapeHTML(b, r.Detail)
	b.WriteString("</small></td>\n<td>")
	escapeHTML(b, r.GroupShown)
	b.WriteString("</td>\n<td class=\"nw\">")
	escapeHTML(b, r.Addr)
	b.WriteString("</td>\n<td>")
	escapeHTML(b, r.InState)
	b.WriteString("</td>\n<td class=\"adm")
	if !r.AdminSet {
		b.WriteString(" cfg")
	}
	b.WriteString(`">`)
	escapeHTML(b, r.AdminText)
	if r.Until != "" {
		b.WriteString("<br><small>")
		escapeHTML(b, r.Until)
		b.WriteString("</small>")
	}
	b.WriteString("</td>\n<td class=\"c-")
	escapeHTML(b, r.Check)
	b.WriteString(`">`)
	escapeHTML(b, r.Check)
	if r.Reason != "" {
		b.WriteString(" <small>(")
		escapeHTML(b, r.Reason)
		b.WriteString(")</small>")
	}
	b.WriteString("<br><small>")
	escapeHTML(b, r.CheckAgo)
	b.WriteString("</small></td>\n<td class=\"err\">")
	escapeHTML(b, r.Error)
	b.WriteString("</td>\n<td class=\"nw\">")
	b.WriteString(string(r.Spark)) // numbers and constant text only
	b.WriteString(" <small>")
	escapeHTML(b, r.Latency)
	b.WriteString("</small></td>\n<td class=\"nw\">")
	escapeHTML(b, r.Up1h)
	b.WriteString(" / ")
	escapeHTML(b, r.Up24h)
	b.WriteString(" / ")
	escapeHTML(b, r.Up7d)
	b.WriteString("</td>\n<td class=\"cert ")
	escapeHTML(b, r.CertClass)
	b.WriteString(`">`)
	escapeHTML(b, r.Cert)
	b.WriteString("</td>\n" + `<td class="act"><button type="button" data-act="drain">drain</button>` +
		`<button type="button" data-act="maint">maint</button>` +
		`<button type="button" data-act="ready">ready</button></td>` + "\n</tr>\n")
}

// escapeHTML writes s escaped for HTML text and quoted attribute values,
// exactly as template.HTMLEscapeString does: the five markup characters
// become entities and NUL becomes U+FFFD.
func escapeHTML(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var rep string
		switch s[i] {
		case '<':
			rep = "&lt;"
		case '>':
			rep = "&gt;"
		case '&':
			rep = "&amp;"
		case '"':
			rep = "&#34;"
		case '\'':
			rep = "&#39;"
		case 0:
			rep = string(utf8.RuneError)
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(rep)
		last = i + 1
	}
	b.WriteString(s[last:])
}
