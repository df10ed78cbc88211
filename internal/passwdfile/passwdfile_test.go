package passwdfile

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// secret is in every password field of the hostile files: no error may
// quote it.
const secret = "S3cr3tHash"

func write(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadAccepts(t *testing.T) {
	long := strings.Repeat("x", 4096)
	for _, tt := range []struct {
		name, content string
		want          []Entry
	}{
		{"empty file", "", nil},
		{"only comments and blanks", "# users\n\n   \n\t# more\n", nil},
		{"CRLF lines", "a:{PLAIN}" + secret + "\r\nb:{PLAIN}x:::::: quota=1G\r\n",
			[]Entry{{User: "a", Password: "{PLAIN}" + secret, Line: 1},
				{User: "b", Password: "{PLAIN}x", Extra: " quota=1G", HasExtra: true, Line: 2}}},
		{"truncated last line", "a:{PLAIN}x\nb:{PLAIN}y",
			[]Entry{{User: "a", Password: "{PLAIN}x", Line: 1}, {User: "b", Password: "{PLAIN}y", Line: 2}}},
		{"a line cut inside its fields", "a:{SHA512-CRYPT}$6$sa",
			[]Entry{{User: "a", Password: "{SHA512-CRYPT}$6$sa", Line: 1}}},
		{"a user without password field", "a\nb:\n", []Entry{{User: "a", Line: 1, Bare: true}, {User: "b", Line: 2}}},
		{"a long line", "a:{PLAIN}" + long + "\n", []Entry{{User: "a", Password: "{PLAIN}" + long, Line: 1}}},
		// Logins arrive as bytes; a Latin-1 file's names match Latin-1 logins.
		{"non-UTF-8 user name", "m\xfcller:{PLAIN}x\n", []Entry{{User: "m\xfcller", Password: "{PLAIN}x", Line: 1}}},
		{"control characters in the password field", "a:{PLAIN}x\x01y\n",
			[]Entry{{User: "a", Password: "{PLAIN}x\x01y", Line: 1}}},
		{"the extra field keeps its colons", "a:p:1:2:g:/h:/s:k=v:w\n",
			[]Entry{{User: "a", Password: "p", Extra: "k=v:w", HasExtra: true, Line: 1}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			f, err := Load(write(t, tt.content))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if len(f.Entries) != len(tt.want) {
				t.Fatalf("entries %+v, want %+v", f.Entries, tt.want)
			}
			for i := range tt.want {
				if f.Entries[i] != tt.want[i] {
					t.Errorf("entry %d: %+v, want %+v", i, f.Entries[i], tt.want[i])
				}
			}
			if f.Size != int64(len(tt.content)) {
				t.Errorf("size %d, want %d", f.Size, len(tt.content))
			}
		})
	}
}

func TestLoadRefuses(t *testing.T) {
	for _, tt := range []struct {
		name, content, want string
	}{
		{"a user listed twice", "# header\nbob:{PLAIN}" + secret + "\nalice:{PLAIN}x\nbob:{PLAIN}" + secret + "2\n",
			`line 4: user "bob" listed twice (first on line 2)`},
		{"a user listed twice, CRLF", "bob:{PLAIN}" + secret + "\r\nbob:{PLAIN}" + secret + "\r\n",
			`line 2: user "bob" listed twice (first on line 1)`},
		{"a user listed twice, the last line truncated", "bob:{PLAIN}" + secret + "\nbob:{PL",
			`line 2: user "bob" listed twice (first on line 1)`},
		{"a line without a colon listed twice", secret + "\n" + secret + "\n",
			`line 2: user (not shown: a line without ":", which may be a password or hash on its own) listed twice (first on line 1)`},
		{"a long user name listed twice", strings.Repeat("u", 100) + ":" + secret + "\n" + strings.Repeat("u", 100) + ":" + secret + "\n",
			`line 2: user (not shown: 100 bytes, longer than a user name) listed twice (first on line 1)`},
		{"a non-UTF-8 user listed twice", "m\xfcller:" + secret + "\nm\xfcller:" + secret + "\n",
			`line 2: user (not shown: a byte that is not UTF-8 at byte 2 is no user name character; a ':' mistyped as it puts the password field into the user field) listed twice (first on line 1)`},
		{"an empty user name", "a:{PLAIN}x\n:{PLAIN}" + secret + "\n", "line 2: empty user name"},
		{"a control character in a user name", "a\x00b:{PLAIN}" + secret + "\n",
			"line 1: the user name has a control character (0x00 at byte 2)"},
		{"an escape in a user name", "ok:x\n\x1b[31mred:{PLAIN}" + secret + "\n",
			"line 2: the user name has a control character (0x1b at byte 1)"},
		{"a bare CR inside a line", "a\rb:{PLAIN}" + secret + "\n",
			"line 1: the user name has a control character (0x0d at byte 2)"},
		{"a line longer than 1 MiB", "a:x\nb:{PLAIN}" + secret + strings.Repeat("y", MaxLineLength) + "\n",
			"line 2: longer than 1 MiB"},
		{"a binary file", "\x7fELF\x02\x01\x01\x00\x00" + secret,
			"line 1: the user name has a control character (0x7f at byte 1)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			path := write(t, tt.content)
			_, err := Load(path)
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Load: %v, want a content error", err)
			}
			want := "passwd-file " + path + " " + tt.want
			if err.Error() != want {
				t.Errorf("error\n%q, want\n%q", err.Error(), want)
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("the error quotes a password field: %v", err)
			}
		})
	}
}

func TestLoadRefusesFiles(t *testing.T) {
	dir := t.TempDir()
	if _, err := Load(dir); err == nil || err.Error() != "passwd-file "+dir+": a directory, not a regular file" {
		t.Errorf("a directory: %v", err)
	}
	missing := filepath.Join(dir, "missing")
	if _, err := Load(missing); !errors.Is(err, fs.ErrNotExist) ||
		err.Error() != "cannot read passwd-file "+missing+": no such file or directory" {
		t.Errorf("a missing file: %v", err)
	}
	if _, err := Load("/dev/null"); err == nil || !strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("a device: %v", err)
	}
	big := filepath.Join(dir, "big")
	if err := os.WriteFile(big, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(big, MaxSize+1); err != nil { // sparse: no disk used
		t.Fatal(err)
	}
	if _, err := Load(big); err == nil || err.Error() != "passwd-file "+big+": larger than 64 MiB" {
		t.Errorf("a file too large: %v", err)
	}
	if os.Geteuid() == 0 {
		t.Log("running as root: the unreadable file case is not tested")
		return
	}
	locked := write(t, "a:{PLAIN}"+secret+"\n")
	if err := os.Chmod(locked, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(locked); !errors.Is(err, fs.ErrPermission) ||
		err.Error() != "cannot read passwd-file "+locked+": permission denied" {
		t.Errorf("an unreadable file: %v", err)
	}
}

// FuzzParse: any bytes give entries or an *Error, never a panic; an error
// never quotes a password field, is valid UTF-8 and one line; entries
// are unique, in line order, and hold no newline.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "a:{PLAIN}x\n", "a:x\r\nb:y", "a:x\na:y\n", ":x\n", "a\x00:x", "# c\n\n a:b:c:d:e:f:g:h:i",
		"m\xfcller:x\n", "x\ny\nx\n", "a:" + secret + "\na:" + secret} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		entries, err := Parse(raw, "f")
		if err != nil {
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("not an *Error: %v", err)
			}
			msg := err.Error()
			if !utf8.ValidString(msg) || strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error %q not one valid line", msg)
			}
			// No password field of the failing line (or an earlier one)
			// appears in the error, unless it also is a user name shown
			// or a word of the message itself.
			for _, line := range strings.Split(string(raw), "\n") {
				fields := strings.SplitN(line, ":", 8)
				if len(fields) > 1 && len(fields[1]) >= 8 && strings.Contains(msg, fields[1]) &&
					!strings.Contains(fields[0], fields[1]) && !strings.Contains("passwd-file f line listed twice (first on) longer than 1 MiB", fields[1]) {
					t.Fatalf("error %q quotes the password field %q", msg, fields[1])
				}
			}
			return
		}
		seen := map[string]bool{}
		last := 0
		lines := strings.Split(string(raw), "\n")
		for _, e := range entries {
			if seen[e.User] || e.User == "" || e.Line <= last || strings.ContainsAny(e.User+e.Password+e.Extra, "\n") {
				t.Fatalf("bad entry %+v after line %d", e, last)
			}
			seen[e.User] = true
			last = e.Line
			// The fields are those strings.SplitN gives (the parser the
			// auth passdb had before this package).
			fields := strings.SplitN(strings.TrimRight(lines[e.Line-1], "\r"), ":", 8)
			want := Entry{User: fields[0], Line: e.Line, Bare: len(fields) == 1}
			if len(fields) > 1 {
				want.Password = fields[1]
			}
			if len(fields) == 8 {
				want.Extra, want.HasExtra = fields[7], true
			}
			if e != want {
				t.Fatalf("entry %+v, SplitN gives %+v", e, want)
			}
		}
	})
}
