package auth

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"strconv"
)

// resolver turns a backend host into the IP literal nginx insists on.
type resolver interface {
	resolve(ctx context.Context, host string) (string, error)
}

type netResolver struct{}

func (netResolver) resolve(ctx context.Context, host string) (string, error) {
	if addr, err := netip.ParseAddr(host); err == nil {
		return addr.WithZone("").String(), nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return "", err
	}
	// Prefer IPv4: a backend reachable on both is usually configured for it.
	for _, a := range addrs {
		if a.Unmap().Is4() {
			return a.Unmap().String(), nil
		}
	}
	if len(addrs) > 0 {
		return addrs[0].WithZone("").String(), nil
	}
	return "", fmt.Errorf("%s has no address", host)
}

func joinHostPort(host string, port int) string {
	return net.JoinHostPort(host, strconv.Itoa(port))
}
