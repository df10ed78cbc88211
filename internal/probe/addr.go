package probe

import (
	"net"
	"strconv"
	"strings"
)

// joinHostPort keeps a trailing dot (an explicit FQDN) as the operator wrote it.
func joinHostPort(host string, port int) string {
	return net.JoinHostPort(strings.TrimSuffix(strings.TrimPrefix(host, "["), "]"), strconv.Itoa(port))
}
