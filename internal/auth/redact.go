package auth

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"strings"
)

// minContainedPassword is the shortest password searched for inside free
// text (status messages, custom log fields). Shorter ones are only matched
// whole: a one-letter password is in most sentences.
const minContainedPassword = 4

// redactedValue replaces a withheld custom log field.
const redactedValue = "[redacted]"

// withholdPassword keeps the request's password out of the answer and the
// log line, whatever a filter or password database put into the decision:
//
//   - an attribute with a value (or a list element, at any depth) equal to
//     the password, or a name equal to it, is dropped;
//   - a status message that contains the password is dropped, so the
//     configured failure message is sent;
//   - an account name equal to the password turns the answer into a
//     tempfail, because the account cannot be left out of a success;
//   - a custom log field containing the password is logged as [redacted],
//     and so is the password inside a logged reason (a script error).
//
// Each is logged at WARN with what was withheld, never the value. A password
// equal to the user name is not withheld: the caller sent it as the name, and
// withholding the name would break the login without hiding anything.
func (h *Handler) withholdPassword(req *Request, d *decision, session string) {
	pw := req.Password
	if pw == "" || pw == req.Username {
		return
	}
	warn := func(what, name string) {
		attrs := []slog.Attr{slog.String("session", session), slog.String("what", what)}
		if name != "" && !carriesPassword(name, pw, false) {
			attrs = append(attrs, slog.String("name", headerText(name, maxEchoBytes)))
		}
		h.log.LogAttrs(context.Background(), slog.LevelWarn, "password withheld from the answer", attrs...)
	}
	for _, name := range sortedAttributeNamesAll(d.attributes) {
		if carriesPassword(name, pw, false) || valueCarriesPassword(d.attributes[name], pw) {
			delete(d.attributes, name)
			warn("attribute", name)
		}
	}
	if d.statusMessage != "" && carriesPassword(d.statusMessage, pw, true) {
		d.statusMessage = ""
		warn("status_message", "")
	}
	if carriesPassword(d.reason, pw, true) {
		// A script error may quote the request; the reason is only logged.
		d.reason = strings.ReplaceAll(d.reason, pw, redactedValue)
		warn("reason", "")
	}
	if d.outcome == outcomeOK && d.account == pw {
		d.outcome, d.reason, d.account = outcomeTempfail, "account name equals the password", ""
		warn("account", "")
	}
	withholdFromLogFields(d.passdbLogs, pw, warn)
	if f := d.filter; f != nil {
		withholdFromLogFields(f.LogFields, pw, warn)
	}
}

// withholdFromLogFields redacts, in place, custom_log_add pairs whose key
// or value carries the password (the Lua side has scrubbed string values
// already; this also covers a key, and any other runner).
func withholdFromLogFields(fields []any, pw string, warn func(what, name string)) {
	for i := 0; i+1 < len(fields); i += 2 {
		key, _ := fields[i].(string)
		if carriesPassword(key, pw, true) {
			fields[i] = "redacted"
			fields[i+1] = redactedValue
			warn("log_field", "")
		} else if valueCarriesPassword(fields[i+1], pw) || carriesPassword(fmt.Sprint(fields[i+1]), pw, true) {
			fields[i+1] = redactedValue
			warn("log_field", key)
		}
	}
}

// carriesPassword reports whether s is the password, or with contained set
// holds it (for passwords of at least minContainedPassword bytes).
func carriesPassword(s, pw string, contained bool) bool {
	if s == pw {
		return true
	}
	return contained && len(pw) >= minContainedPassword && strings.Contains(s, pw)
}

// valueCarriesPassword looks through attribute values as the answers
// render them: lists and maps (Lua tables) element by element.
func valueCarriesPassword(v any, pw string) bool {
	switch x := v.(type) {
	case string:
		return x == pw
	case []any:
		for _, e := range x {
			if valueCarriesPassword(e, pw) {
				return true
			}
		}
		return false
	case map[string]any:
		for k, e := range x {
			if k == pw || valueCarriesPassword(e, pw) {
				return true
			}
		}
		return false
	case nil:
		return false
	}
	return fmt.Sprint(v) == pw
}

// sortedAttributeNamesAll lists every attribute name, secrets included, in
// a stable order so the warnings come out the same way each time.
func sortedAttributeNamesAll(a Attributes) []string {
	names := make([]string, 0, len(a))
	for k := range a {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
