// Package passwdfile reads a Dovecot-style passwd-file into its entries.
// It is the one parser both config validation (backline check, serve's
// start and every reload) and the auth passdb use, so a file check accepts
// is a file the daemon loads, and the same bytes are refused with the same
// words everywhere.
//
// Errors name the file and its line, and quote a user name at most; they
// never hold a password field: the field is a secret (a hash, or {PLAIN}).
package passwdfile

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/backline/backline/internal/safefile"
)

// MaxSize bounds a passwd-file: about half a million users at 120 bytes a
// line. A file growing past it while being read (or a device named by
// mistake) is refused instead of read until memory runs out.
const MaxSize = 64 << 20

// MaxLineLength bounds one line (1 MiB): a longer one is not a user but a
// file of another kind.
const MaxLineLength = 1 << 20

// maxShownUser bounds how much of a user name an error quotes.
const maxShownUser = 64

// Entry is one user's line, its fields as written.
type Entry struct {
	User string
	// Password is the password field (a hash or {SCHEME}value): a secret,
	// never to be printed.
	Password string
	// Extra holds the extra fields after the seventh colon ("" without).
	Extra    string
	HasExtra bool
	// Bare: the line has no ":", so User is all of it. It may be a
	// password or hash written on its own line: logs and errors do not
	// quote a bare line's user.
	Bare bool
	// Line is the entry's line number in the file, from 1.
	Line int
}

// File is a loaded passwd-file.
type File struct {
	Entries []Entry
	ModTime time.Time
	Size    int64
}

// Error is a problem with the file's content at one line.
type Error struct {
	Path string
	Line int
	Msg  string
}

func (e *Error) Error() string {
	return fmt.Sprintf("passwd-file %s line %d: %s", e.Path, e.Line, e.Msg)
}

// Load reads and parses the passwd-file at path. The error is one of:
// "cannot read passwd-file PATH: ..." (wrapping the os error, so errors.Is
// finds fs.ErrNotExist and fs.ErrPermission), a file that is no regular
// file or too large, or an *Error for its content.
func Load(path string) (*File, error) {
	// Judged by kind before and after the open; the open does not wait
	// on a FIFO (safefile.Open).
	fh, st, err := safefile.Open(path, func(st fs.FileInfo) error { return checkRegular(path, st) })
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, cannotRead(path, err)
		}
		return nil, err
	}
	defer fh.Close()
	raw, err := readAll(fh, path, st.Size())
	if err != nil {
		return nil, err
	}
	entries, err := Parse(raw, path)
	if err != nil {
		return nil, err
	}
	return &File{Entries: entries, ModTime: st.ModTime(), Size: st.Size()}, nil
}

// cannotRead names the file and why it cannot be read, once (an
// *fs.PathError repeats the path); errors.Is still finds fs.ErrNotExist or
// fs.ErrPermission in it (check --no-secrets asks).
func cannotRead(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot read passwd-file %s: %w", path, err)
}

// checkRegular refuses what is no regular file: a directory, a device (
// /dev/zero never ends), a FIFO or a socket.
func checkRegular(path string, st os.FileInfo) error {
	switch {
	case st.Mode().IsRegular():
		return nil
	case st.IsDir():
		return fmt.Errorf("passwd-file %s: a directory, not a regular file", path)
	default:
		return fmt.Errorf("passwd-file %s: not a regular file", path)
	}
}

var errTooLarge = fmt.Errorf("larger than %d MiB", MaxSize>>20)

func readAll(fh *os.File, path string, size int64) ([]byte, error) {
	if size > MaxSize {
		return nil, fmt.Errorf("passwd-file %s: %w", path, errTooLarge)
	}
	var buf bytes.Buffer
	buf.Grow(int(size) + 1)
	n, err := buf.ReadFrom(io.LimitReader(fh, MaxSize+1))
	if err != nil {
		return nil, cannotRead(path, err)
	}
	if n > MaxSize {
		return nil, fmt.Errorf("passwd-file %s: %w", path, errTooLarge)
	}
	return buf.Bytes(), nil
}

// Parse reads "user:password[:uid:gid:gecos:home:shell:extra]" lines.
// Blank lines and lines starting with "#" (after white space) are skipped;
// a trailing CR (CRLF files) is dropped; the last line needs no newline.
// It refuses a line without a user name, a user name with a control
// character, a user listed twice and a line longer than MaxLineLength.
// What the password field holds is not looked at here: an unusable hash
// leaves the user known but unable to log in (the auth passdb's rule).
func Parse(raw []byte, path string) ([]Entry, error) {
	// One copy of the file; the entries' fields are substrings of it.
	text := string(raw)
	users := countUsers(text)
	entries := make([]Entry, 0, users)
	first := make(map[string]int, users) // user -> line of its entry
	for n := 1; len(text) > 0; n++ {
		line, rest, _ := strings.Cut(text, "\n")
		text = rest
		if len(line) > MaxLineLength {
			return nil, &Error{path, n, fmt.Sprintf("longer than %d MiB", MaxLineLength>>20)}
		}
		line = strings.TrimRight(line, "\r")
		trimmed := strings.TrimSpace(line)
		if trimmed == "" || trimmed[0] == '#' {
			continue
		}
		e := splitFields(line)
		e.Line = n
		if err := checkUser(e.User); err != "" {
			return nil, &Error{path, n, err}
		}
		if at, dup := first[e.User]; dup {
			return nil, &Error{path, n, fmt.Sprintf("user %s listed twice (first on line %d)", showUser(e), at)}
		}
		first[e.User] = n
		entries = append(entries, e)
	}
	return entries, nil
}

// countUsers is how many lines Parse makes an entry of, to size its
// entries and index once. The newlines would be the wrong count: a file
// of blank or comment lines (64 Mi of them fit in MaxSize) would reserve
// an entry and an index slot for each, gigabytes. This scan is cheap
// next to the parse (about 3 ms of 40+ for 100k users); one pass that
// grows the entries as it goes allocated twice the memory (54 MB against
// 26 MB for 100k users) and was no faster.
func countUsers(text string) int {
	users := 0
	for len(text) > 0 {
		var line string
		line, text, _ = strings.Cut(text, "\n")
		if trimmed := strings.TrimSpace(line); trimmed != "" && trimmed[0] != '#' {
			users++
		}
	}
	return users
}

// splitFields cuts user:password:uid:gid:gecos:home:shell:extra; the extra
// fields are all after the seventh colon, colons included.
func splitFields(line string) Entry {
	user, rest, found := strings.Cut(line, ":")
	e := Entry{User: user, Bare: !found}
	e.Password, rest, found = strings.Cut(rest, ":")
	// uid, gid, gecos, home, shell: five more colons before the extra.
	for i := 0; found && i < 5; i++ {
		_, rest, found = strings.Cut(rest, ":")
	}
	if found {
		e.Extra, e.HasExtra = rest, true
	}
	return e
}

// checkUser says what is wrong with a user name, without quoting it: a
// name with a control character is a file of another kind (or a binary
// one), and no login can carry it.
func checkUser(user string) string {
	if user == "" {
		return "empty user name"
	}
	for i := 0; i < len(user); i++ {
		if c := user[i]; c < 0x20 || c == 0x7f {
			return fmt.Sprintf("the user name has a control character (0x%02x at byte %d)", c, i+1)
		}
	}
	return ""
}

// showUser quotes a user name for an error when it looks like one: short,
// and only letters, digits and . _ - @ +. Anything else may hold a hash
// ("bob,{SHA512-CRYPT}$6$…:" or "bob=hunter2:": a mistyped first separator
// put the password field into the user's; a line without ":" is all
// "user"), so it is not shown, and the message says why by position only.
// A name with . _ - @ + is shown only when the line's password field is a
// hash: those are user name characters, but also where a ':' is mistyped
// (Shift missed on a keyboard with ':' over '.'), and "bob.5f4dcc3b…:" or
// "bob.hunter2::::::" then holds a digest or password written without a
// scheme.
func showUser(e Entry) string {
	user := e.User
	if e.Bare {
		return "(not shown: a line without \":\", which may be a password or hash on its own)"
	}
	if len(user) > maxShownUser {
		return fmt.Sprintf("(not shown: %d bytes, longer than a user name)", len(user))
	}
	for i, r := range user {
		if !userNameRune(r) {
			return fmt.Sprintf("(not shown: %s at byte %d is no user name character; a ':' mistyped as it puts the password field into the user field)", showRune(r), i+1)
		}
	}
	if i := strings.IndexAny(user, "._-@+"); i >= 0 && !looksLikeHash(e.Password) {
		return fmt.Sprintf("(not shown: the password field is no {SCHEME} or $id$ hash, so the %q at byte %d may be a mistyped ':' with the password after it)", user[i], i+1)
	}
	return fmt.Sprintf("%q", user)
}

// looksLikeHash: a password field as written when the separator before it
// was typed right, "{SCHEME}…" or a "$id$…" crypt hash.
func looksLikeHash(field string) bool {
	return strings.HasPrefix(field, "{") || strings.HasPrefix(field, "$")
}

// userNameRune is a character of the login names people write, letters of
// any script included. '$', '{', '/', '=' and the like are hash characters.
func userNameRune(r rune) bool {
	switch r {
	case '.', '_', '-', '@', '+':
		return true
	}
	return r != utf8.RuneError && (unicode.IsLetter(r) || unicode.IsDigit(r))
}

// showRune names one character: a single one tells where the separator
// went wrong, not what the hash is.
func showRune(r rune) string {
	switch {
	case r == utf8.RuneError:
		return "a byte that is not UTF-8"
	case !unicode.IsPrint(r):
		return "an unprintable character"
	}
	return fmt.Sprintf("%q", r)
}
