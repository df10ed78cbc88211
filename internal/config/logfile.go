package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LogFileMode is the mode serve creates server.log_file and
// gateway.access_log_file with: the access log holds client addresses and
// paths, so it is not world-readable.
const LogFileMode = 0o640

// validateLogFiles checks server.log_file and gateway.access_log_file
// (empty: stderr and the daemon log). A file that cannot be opened for
// appending is an error now rather than a daemon that starts without its
// log. Under --no-secrets a missing directory or a permission is a warning,
// as the file is checked away from the machine it is written on.
func (v *validator) validateLogFiles() {
	v.validateLogFile("server.log_file", v.c.Server.LogFile)
	v.validateLogFile("gateway.access_log_file", v.c.Gateway.AccessLogFile)
	if p := v.c.Gateway.AccessLogFile; p != "" && filepath.Clean(p) == filepath.Clean(v.c.Server.LogFile) {
		// Two descriptors on one file: leave the key out for that.
		v.add("gateway.access_log_file", "is server.log_file; leave it out to write the access lines to the daemon log")
	}
}

func (v *validator) validateLogFile(key, path string) {
	if path == "" {
		return
	}
	switch {
	case strings.ContainsAny(path, "\x00\r\n"):
		v.add(key, "must not contain NUL or line breaks")
		return
	case !filepath.IsAbs(path):
		// A service's working directory is /; a relative path would
		// depend on where backline was started.
		v.add(key, "must be an absolute path, got %q", path)
		return
	case strings.HasSuffix(path, "/"):
		v.add(key, "must name a file, not a directory: %q", path)
		return
	}
	err := checkLogFile(path)
	switch {
	case err == nil:
	case v.noSecrets && absentHere(err):
		v.c.noSecretWarnings = append(v.c.noSecretWarnings, Error{Path: key, Line: v.c.Lines.Line(key),
			Msg: err.Error() + " (--no-secrets: checked without it)"})
	default:
		v.add(key, "%v", err)
	}
}

// checkLogFile reports whether path can be opened the way serve opens it
// (append, created when missing), without leaving a file behind or
// writing to one: a file it had to create for the test is removed again.
func checkLogFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return checkLogDir(path)
	case err != nil:
		return err
	case st.IsDir():
		return fmt.Errorf("%q is a directory; name a file in it", path)
	case !st.Mode().IsRegular() && st.Mode()&fs.ModeCharDevice == 0:
		// Opening a FIFO for writing blocks until a reader comes.
		return fmt.Errorf("%q is not a regular file", path)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

// checkLogDir tries to create path, which did not exist a moment ago.
// O_EXCL: when someone else (logrotate's create) made it meanwhile, that
// file is theirs to keep, and serve reports its own error if it cannot
// open it.
func checkLogDir(path string) error {
	// The directory's own error names it ("stat /var/log/backline: no
	// such file or directory"); a file in its place failed the caller's
	// stat already (ENOTDIR).
	if _, err := os.Stat(filepath.Dir(path)); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, LogFileMode)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return err
	}
	f.Close()
	return os.Remove(path)
}
