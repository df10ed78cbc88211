package passwdfile

import (
	"bufio"
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Parse's memory follows the users in the file, not its line count: a file
// under MaxSize that is mostly blank or comment lines (or a log file named
// by mistake) must not make check or serve allocate gigabytes. 64 MiB of
// "\n" is 64 Mi lines; an entry and a map slot per line reserved up front
// is about 7 GiB.
func TestParseMemoryFollowsUsersNotLines(t *testing.T) {
	const size = 1 << 20
	for _, tt := range []struct{ name, content string }{
		{"blank lines", strings.Repeat("\n", size)},
		{"comment lines", strings.Repeat("#\n", size/2)},
		{"one user among blank lines", "a:{PLAIN}x\n" + strings.Repeat("\n", size)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			raw := []byte(tt.content)
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			entries, err := Parse(raw, "f")
			runtime.ReadMemStats(&after)
			if err != nil || len(entries) > 1 {
				t.Fatalf("Parse: %d entries, %v", len(entries), err)
			}
			// The one copy of the text, and room to spare.
			if got, limit := after.TotalAlloc-before.TotalAlloc, uint64(4*len(raw)); got > limit {
				t.Errorf("parsing %d bytes allocated %d bytes (%dx), want at most %d",
					len(raw), got, got/uint64(len(raw)), limit)
			}
		})
	}
}

// oldParse is how the auth passdb split lines before this package
// (b14a1a2 internal/auth/passdb_file.go parsePasswdFile, without the
// password checks): what it accepted, the new parser reads field for field.
func oldParse(raw []byte) ([]Entry, error) {
	var out []Entry
	seen := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(raw))
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimRight(sc.Text(), "\r")
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		fields := strings.SplitN(line, ":", 8)
		if fields[0] == "" || seen[fields[0]] {
			return nil, errors.New("refused")
		}
		seen[fields[0]] = true
		e := Entry{User: fields[0], Line: n, Bare: len(fields) == 1}
		if len(fields) > 1 {
			e.Password = fields[1]
		}
		if len(fields) == 8 {
			e.Extra, e.HasExtra = fields[7], true
		}
		out = append(out, e)
	}
	return out, sc.Err()
}

// Files that loaded before the shared parser load the same now: comments
// and blank lines with white space, white space kept in fields as written
// (Dovecot trims nothing either), Dovecot's uid:gid:gecos:home:shell and
// extra fields, {SCHEME} prefixes, '@' and domains, and case: "Bob" and
// "bob" are two users (the lookup compares bytes, as the old map did and
// Dovecot's passwd-file does), not one listed twice.
func TestParseReadsWhatTheOldParserRead(t *testing.T) {
	for _, content := range []string{
		"# users of example.org\n\n   \n  # indented comment\n\t#tab comment\nalice@example.org:{SHA512-CRYPT}$6$salt$hash\n",
		"bob:{PLAIN}pw\nBob:{PLAIN}pw2\nBOB@Example.ORG:{PLAIN}pw3\nbob@example.org:{PLAIN}pw4\n",
		"alice:{BLF-CRYPT}$2y$05$abc:1000:1000:Alice A.:/home/alice:/bin/sh:userdb_quota_rule=*:storage=1G nopassword\n",
		"alice:$6$salt$hash::::::\n",                 // empty uid..shell, empty extra
		"alice:{PLAIN}a b :1:2\n",                    // fewer fields than seven
		" alice :{PLAIN}x\nalice:{PLAIN}y\n",         // " alice " is its own (unreachable) user
		"alice:{PLAIN}x:1:2:g:/h:/s:a=b:c=d:e\r\n",   // colons in the extra fields
		"alice:{PLAIN}x\r\r\n",                       // CRs before the newline
		"alice:{PLAIN}x#not a comment\n#alice:dup\n", // '#' only starts a line's comment
		"alice\nbob:\n",                              // no password field: known, unusable
		"\xef\xbb\xbfalice:{PLAIN}x\n",               // a BOM stays part of the first name
		"alice:{PLAIN}x",                             // no final newline
	} {
		old, oldErr := oldParse([]byte(content))
		got, err := Parse([]byte(content), "f")
		if oldErr != nil || err != nil {
			t.Errorf("%q: old parser %v, new %v", content, oldErr, err)
			continue
		}
		if len(got) != len(old) {
			t.Errorf("%q: %+v, the old parser read %+v", content, got, old)
			continue
		}
		for i := range old {
			if got[i] != old[i] {
				t.Errorf("%q entry %d: %+v, the old parser read %+v", content, i, got[i], old[i])
			}
		}
	}
}

// Symbolic links are followed: to a regular file it loads, to a directory
// it is refused as one, and a dangling link is a missing file (which
// check --no-secrets passes over, as it does any absent secret file).
func TestLoadFollowsSymlinks(t *testing.T) {
	dir := t.TempDir()
	target := write(t, "alice:{PLAIN}"+secret+"\n")
	link := filepath.Join(dir, "to-file")
	toDir := filepath.Join(dir, "to-dir")
	dangling := filepath.Join(dir, "dangling")
	for name, to := range map[string]string{link: target, toDir: t.TempDir(), dangling: filepath.Join(dir, "gone")} {
		if err := os.Symlink(to, name); err != nil {
			t.Skipf("symlink: %v", err)
		}
	}
	if f, err := Load(link); err != nil || len(f.Entries) != 1 || f.Entries[0].User != "alice" {
		t.Errorf("a link to a file: %+v, %v", f, err)
	}
	if _, err := Load(toDir); err == nil || err.Error() != "passwd-file "+toDir+": a directory, not a regular file" {
		t.Errorf("a link to a directory: %v", err)
	}
	if _, err := Load(dangling); !errors.Is(err, fs.ErrNotExist) ||
		err.Error() != "cannot read passwd-file "+dangling+": no such file or directory" {
		t.Errorf("a dangling link: %v", err)
	}
}

// A file of exactly MaxSize bytes loads (the limit is "larger than", and
// it is checked on what was read, not only on what stat said).
func TestLoadAcceptsExactlyMaxSize(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: writes and reads 64 MiB")
	}
	var sb strings.Builder
	sb.Grow(MaxSize)
	sb.WriteString("alice:{PLAIN}" + secret + "\n")
	comment := "#" + strings.Repeat("-", 1<<16-2) + "\n"
	for sb.Len()+len(comment) <= MaxSize {
		sb.WriteString(comment)
	}
	sb.WriteString("#" + strings.Repeat("-", MaxSize-sb.Len()-1))
	if sb.Len() != MaxSize {
		t.Fatalf("built %d bytes", sb.Len())
	}
	path := write(t, sb.String())
	f, err := Load(path)
	if err != nil || len(f.Entries) != 1 || f.Size != MaxSize {
		t.Fatalf("a file of MaxSize bytes: %v", err)
	}
	if err := os.WriteFile(path, []byte(sb.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); err == nil || err.Error() != "passwd-file "+path+": larger than 64 MiB" {
		t.Errorf("one byte more: %v", err)
	}
}
