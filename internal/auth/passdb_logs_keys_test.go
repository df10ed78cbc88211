package auth

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/fastlog"
	"github.com/backline/backline/internal/lua"
)

// The request line carries each key once in both formats, whatever the
// scripts add twice (the passdb "backend_dup" twice, the passdb and the
// filter "shared"): a JSON object with a key twice is resolved
// differently by each log shipper, and the text line says the same as the
// JSON one. The later value is kept.
func TestRequestLineKeysUnique(t *testing.T) {
	for _, format := range []string{"text", "json"} {
		t.Run(format, func(t *testing.T) {
			logs := &syncBuffer{}
			env := newLuaEnvWith(t, func(c *config.Config, o *Options) {
				c.Auth.Passdb = append(c.Auth.Passdb, config.Passdb{Type: config.PassdbLua, ScriptPath: "testdata/passdb_logs.lua"})
				c.Auth.Cache.TTL = new(time.Duration)
				o.Logger = slog.New(fastlog.Wrap(logs, format == "json", nil))
			}, "log_filter.lua")
			env.logs = logs // the cleanup's password check reads this log
			if w := env.do(nginxRequest("logger", testPassword, "imap", "1")); w.Header().Get("Auth-Status") != "OK" {
				t.Fatalf("logger: %v", w.Header())
			}
			var line string
			for _, l := range strings.Split(logs.String(), "\n") {
				if strings.Contains(l, "auth request") {
					line = l
				}
			}
			var fields []logField
			var err error
			if format == "json" {
				fields, err = jsonLineFields(line)
			} else {
				fields, err = textLineFields(line)
			}
			if err != nil {
				t.Fatalf("%v in %.500q", err, line)
			}
			seen := map[string]int{}
			for _, f := range fields {
				seen[f.key]++
			}
			for k, n := range seen {
				if n != 1 {
					t.Errorf("key %q appears %d times", k, n)
				}
			}
			got := map[string]string{}
			for _, f := range fields {
				got[f.key] = f.value
			}
			for k, want := range map[string]string{
				"lua_backend_dup": "second", "lua_shared": "from filter", "lua_filter_only": "logger",
				"lua_backend_num": "42", "lua_backend_bool": "true", "lua_ctrl\nkey": "v", "msg": "auth request",
			} {
				if got[k] != want {
					t.Errorf("%q = %q, want %q", k, got[k], want)
				}
			}
		})
	}
}

// Across runs the line takes a key's later value at its first place and
// adds up the runs' dropped counts, also for keys withholdPassword made
// equal ("redacted").
func TestAppendLuaLogFieldsOncePerKey(t *testing.T) {
	attrs := []slog.Attr{slog.String("session", "s")}
	attrs = appendLuaLogFields(attrs, []any{"a", "passdb", lua.LogFieldsDroppedKey, float64(3), "redacted", "[redacted]"})
	attrs = append(attrs, slog.String("filter_results", "f:ok"))
	attrs = appendLuaLogFields(attrs, []any{"b", 1.5, "a", "filter", "redacted", "[redacted]", lua.LogFieldsDroppedKey, float64(5)})
	var got []string
	for _, a := range attrs {
		got = append(got, a.Key+"="+a.Value.String())
	}
	want := []string{"session=s", "lua_a=filter", "lua_log_fields_dropped=8", "lua_redacted=[redacted]", "filter_results=f:ok", "lua_b=1.5"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

type logField struct{ key, value string }

// jsonLineFields reads one JSON log line token by token: decoding into a
// map would hide a repeated key.
func jsonLineFields(line string) ([]logField, error) {
	dec := json.NewDecoder(strings.NewReader(line))
	dec.UseNumber()
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []logField
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		s, ok := v.(string)
		if !ok {
			b, _ := json.Marshal(v)
			s = string(b)
		}
		out = append(out, logField{tok.(string), s})
	}
	if _, err := dec.Token(); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("more than one JSON value")
	}
	return out, nil
}

// textLineFields splits one slog text line into key=value pairs; a key or
// value with spaces, quotes or control characters is Go-quoted.
func textLineFields(line string) ([]logField, error) {
	var out []logField
	next := func(stop string) (string, error) {
		if strings.HasPrefix(line, `"`) {
			q, err := strconv.QuotedPrefix(line)
			if err != nil {
				return "", err
			}
			line = line[len(q):]
			return strconv.Unquote(q)
		}
		i := strings.IndexAny(line, stop)
		if i < 0 {
			i = len(line)
		}
		s := line[:i]
		line = line[i:]
		return s, nil
	}
	for line != "" {
		k, err := next("= ")
		if err != nil {
			return nil, err
		}
		if !strings.HasPrefix(line, "=") {
			return nil, errors.New("key " + strconv.Quote(k) + " has no value")
		}
		line = line[1:]
		v, err := next(" ")
		if err != nil {
			return nil, err
		}
		out = append(out, logField{k, v})
		line = strings.TrimPrefix(line, " ")
	}
	if slices.ContainsFunc(out, func(f logField) bool { return f.key == "" }) {
		return nil, errors.New("an empty key")
	}
	return out, nil
}
