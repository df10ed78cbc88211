package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"sync"

	"github.com/backline/backline/internal/config"
)

// logFile is a log file (server.log_file, gateway.access_log_file) that
// can be opened again under the same path: logrotate renames the file,
// creates a new one and sends SIGUSR1; until then lines go on landing in
// the renamed one, which is what keeps them from being lost.
type logFile struct {
	key  string // the configuration key, for messages
	path string

	// mu makes a write and the swap exclusive: a line goes whole to the
	// old file or whole to the new one, and the old one is closed only
	// when no write into it runs.
	mu sync.Mutex
	f  *os.File
}

func openLogFile(key, path string) (*logFile, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &logFile{key: key, path: path, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, config.LogFileMode)
}

func (l *logFile) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Write(p)
}

// Reopen opens the path again and swaps the new file in. On an error
// (the directory is gone, a permission) the old file stays in use: a log
// in the rotated file is better than none.
func (l *logFile) Reopen() error {
	// Opened outside the lock: a slow open (NFS) does not stop writers.
	f, err := openAppend(l.path)
	if err != nil {
		return err
	}
	l.mu.Lock()
	old := l.f
	l.f = f
	l.mu.Unlock()
	return old.Close()
}

func (l *logFile) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// logOutput is a log file behind the writer that gathers its lines.
type logOutput struct {
	file *logFile
	lw   *logWriter
}

// reopenLogs reopens every file (SIGUSR1). Lines gathered before are
// written to the old file first, so that a line goes where it would have
// gone without the gathering. A failure is logged to the log as it is.
func reopenLogs(logger *slog.Logger, outs []logOutput) {
	for _, o := range outs {
		_ = o.lw.Flush()
		if err := o.file.Reopen(); err != nil {
			logger.Error("cannot reopen the log file; still writing to the old one", "key", o.file.key, "error", err)
			continue
		}
		logger.Info("log file reopened", "key", o.file.key, "file", o.file.path)
	}
}

// serveLogs are where serve logs: stderr or server.log_file, and the
// gateway's access lines when gateway.access_log_file is set.
type serveLogs struct {
	daemon io.Writer
	access io.Writer // nil: the daemon log
	outs   []logOutput
}

// openServeLogs opens the files cfg names, each behind its own gathering
// writer (logwriter.go) as stderr is.
func openServeLogs(cfg *config.Config, stderr io.Writer) (*serveLogs, error) {
	s := &serveLogs{daemon: stderr}
	for _, f := range []struct {
		key, path string
		w         *io.Writer
	}{
		{"server.log_file", cfg.Server.LogFile, &s.daemon},
		{"gateway.access_log_file", cfg.Gateway.AccessLogFile, &s.access},
	} {
		if f.path == "" {
			continue
		}
		file, err := openLogFile(f.key, f.path)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%s: %w", f.key, err)
		}
		lw := newLogWriter(file)
		s.outs = append(s.outs, logOutput{file: file, lw: lw})
		*f.w = lw
	}
	return s, nil
}

// Close writes what waits and closes the files.
func (s *serveLogs) Close() {
	for _, o := range s.outs {
		_ = o.lw.Close()
		_ = o.file.Close()
	}
}
