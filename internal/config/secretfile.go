package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"strings"
	"sync/atomic"

	"github.com/backline/backline/internal/safefile"
)

// ReadSecretFile returns the content of a password or token file without one
// trailing newline (editors add it). Errors name the file, never its content.
func ReadSecretFile(path string) (string, error) {
	data, err := readFileLimited(path, MaxSecretFileSize)
	if err != nil {
		return "", err
	}
	s := string(data)
	if t, ok := strings.CutSuffix(s, "\r\n"); ok {
		s = t
	} else {
		s = strings.TrimSuffix(s, "\n")
	}
	if s == "" {
		return "", fmt.Errorf("file %q is empty", path)
	}
	return s, nil
}

// CheckCAFile verifies that path is readable and holds at least one PEM
// certificate, so a wrong path fails at start-up rather than at every probe.
func CheckCAFile(path string) error {
	data, err := readFileLimited(path, MaxPEMFileSize)
	if err != nil {
		return err
	}
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return fmt.Errorf("file %q contains no PEM certificate", path)
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return fmt.Errorf("file %q holds a certificate that does not parse: %v", path, err)
		}
		return nil
	}
}

// Size limits of the files the configuration names. Each is read whole, so
// a path to a device (/dev/zero) or a wrong, huge file must fail at once.
const (
	// MaxConfigFileSize bounds the YAML file: parsing 1 MiB takes yaml.v3
	// about 0.5 s and 120 MiB before the node limit can refuse it. A file
	// with a thousand targets is about 150 KiB.
	MaxConfigFileSize = 1 << 20
	MaxSecretFileSize = 64 << 10 // a password or token file
	MaxPEMFileSize    = 1 << 20  // a certificate, CA bundle or private key
)

// readFileLimited reads a regular file of at most limit bytes. A device or
// a FIFO is refused before it is opened: /dev/zero never ends, and opening
// a FIFO blocks until someone writes to it.
func readFileLimited(path string, limit int64) ([]byte, error) {
	filesRead.Add(1)
	// A directory is let through to fail at the read, as "is a directory".
	f, _, err := safefile.Open(path, func(st fs.FileInfo) error {
		if !st.Mode().IsRegular() && !st.IsDir() {
			return fmt.Errorf("%q is not a regular file", path)
		}
		return nil
	})
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return nil, cannotRead(path, err)
		}
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	switch {
	case err != nil:
		return nil, cannotRead(path, err)
	case int64(len(data)) > limit:
		return nil, fmt.Errorf("file %q is larger than %d KiB", path, limit>>10)
	}
	return data, nil
}

// filesRead counts readFileLimited calls, so a test can tell that a file
// shared by many targets is read once, without a wall-clock bound.
var filesRead atomic.Int64

// cannotRead names path and why it cannot be read; errors.Is still finds
// fs.ErrNotExist or fs.ErrPermission in it (check --no-secrets asks).
func cannotRead(path string, err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	return fmt.Errorf("cannot read %q: %w", path, err)
}

// fileErrorReason drops the path an *fs.PathError repeats.
func fileErrorReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// fileCache reads each file once per load: a thousand targets naming one
// password file or CA bundle would otherwise read it a thousand times and
// hold a thousand copies of the password.
type fileCache map[string]fileResult

type fileResult struct {
	content string
	err     error
}

func (fc *fileCache) get(key string, read func() (string, error)) (string, error) {
	if r, ok := (*fc)[key]; ok {
		return r.content, r.err
	}
	if *fc == nil {
		*fc = fileCache{}
	}
	content, err := read()
	(*fc)[key] = fileResult{content, err}
	return content, err
}

func (fc *fileCache) readSecret(path string) (string, error) {
	return fc.get("secret:"+path, func() (string, error) { return ReadSecretFile(path) })
}

func (fc *fileCache) checkCA(path string) error {
	_, err := fc.get("ca:"+path, func() (string, error) { return "", CheckCAFile(path) })
	return err
}
