package config

import (
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ReadSecretFile returns the content of a password or token file without one
// trailing newline (editors add it). Errors name the file, never its content.
func ReadSecretFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("cannot read %q: %s", path, fileErrorReason(err))
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
	data, err := os.ReadFile(path)
	if err != nil {
		return fmt.Errorf("cannot read %q: %s", path, fileErrorReason(err))
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

// fileErrorReason drops the path an *fs.PathError repeats.
func fileErrorReason(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
