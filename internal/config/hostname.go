package config

import (
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// CheckHost returns "" when host is an RFC 1123 hostname (a trailing dot,
// which stops resolvers appending search domains, is allowed) or an IPv4 or
// IPv6 literal without brackets, and otherwise a message saying what is wrong.
func CheckHost(host string) string {
	if host == "" {
		return "must not be empty"
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return ""
	}
	if h, p, err := net.SplitHostPort(host); err == nil && h != "" && p != "" {
		return fmt.Sprintf("must be a host name or IP address without a port, got %q (put the port in port)", host)
	}
	return checkHostname(host)
}

// checkHostname validates an RFC 1123 hostname with an optional trailing dot.
func checkHostname(host string) string {
	name := strings.TrimSuffix(host, ".")
	if name == "" || len(name) > 253 {
		return fmt.Sprintf("must be a valid hostname of 1..253 characters, got %q", host)
	}
	allNumeric := true
	for _, label := range strings.Split(name, ".") {
		if msg := checkLabel(label); msg != "" {
			return fmt.Sprintf("is not a valid hostname (%s): %q", msg, host)
		}
		if strings.Trim(label, "0123456789") != "" {
			allNumeric = false
		}
	}
	if allNumeric {
		return fmt.Sprintf("looks like an IPv4 address but is not a valid one: %q", host)
	}
	return ""
}

func checkLabel(label string) string {
	switch {
	case label == "":
		return "empty label"
	case len(label) > 63:
		return "label longer than 63 characters"
	case label[0] == '-' || label[len(label)-1] == '-':
		return "label starts or ends with '-'"
	}
	for i := 0; i < len(label); i++ {
		c := label[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Sprintf("character %q is not allowed", c)
		}
	}
	return ""
}

// IsLoopbackHost reports whether host stays on this machine: 127.0.0.0/8,
// ::1 or the name localhost.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}
