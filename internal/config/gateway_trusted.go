package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
)

// TrustedProxiesPrivate is the gateway.trusted_proxies entry that stands
// for every private and local range (Caddy's private_ranges).
const TrustedProxiesPrivate = "private_ranges"

// privateRanges are the ranges TrustedProxiesPrivate stands for: RFC 1918,
// loopback, RFC 4193 unique local and link-local addresses.
var privateRanges = []string{
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "127.0.0.0/8",
	"169.254.0.0/16", "::1/128", "fc00::/7", "fe80::/10",
}

// maxTrustedProxies bounds gateway.trusted_proxies (each request's client
// address is compared against every entry).
const maxTrustedProxies = 1000

// TrustedProxyPrefixes parses gateway.trusted_proxies: each entry an IP
// address, a CIDR prefix or private_ranges. Call it on a validated Config.
// Duplicates (private_ranges written twice, an address inside a listed
// range written again) are dropped: each request's peer is compared with
// every prefix left.
func (g *Gateway) TrustedProxyPrefixes() []netip.Prefix {
	out, _ := parseTrustedProxies(g.TrustedProxies)
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Bits() - b.Bits() })
	kept := out[:0]
	for _, p := range out {
		if !slices.ContainsFunc(kept, func(k netip.Prefix) bool { return k.Contains(p.Addr()) }) {
			kept = append(kept, p)
		}
	}
	return kept
}

// parseTrustedProxies returns the prefixes and, per bad entry, its index
// and message.
func parseTrustedProxies(entries []string) ([]netip.Prefix, map[int]string) {
	var out []netip.Prefix
	var bad map[int]string
	fail := func(i int, format string, args ...any) {
		if bad == nil {
			bad = map[int]string{}
		}
		bad[i] = fmt.Sprintf(format, args...)
	}
	for i, e := range entries {
		switch {
		case e == TrustedProxiesPrivate:
			for _, r := range privateRanges {
				out = append(out, netip.MustParsePrefix(r))
			}
		case strings.Contains(e, "/"):
			p, err := netip.ParsePrefix(e)
			if err != nil {
				fail(i, "is not an IP prefix (like 10.0.0.0/8): %q", e)
				continue
			}
			out = append(out, unmapPrefix(p.Masked()))
		default:
			a, err := netip.ParseAddr(e)
			if err != nil || a.Zone() != "" {
				fail(i, "must be an IP address, a CIDR prefix or %s, got %q", TrustedProxiesPrivate, e)
				continue
			}
			out = append(out, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
		}
	}
	return out, bad
}

func (v *gatewayValidator) validateTrustedProxies(g *Gateway) {
	if len(g.TrustedProxies) > maxTrustedProxies {
		v.add("gateway.trusted_proxies", "at most %d entries, got %d", maxTrustedProxies, len(g.TrustedProxies))
		return
	}
	_, bad := parseTrustedProxies(g.TrustedProxies)
	for i := range g.TrustedProxies {
		if msg, ok := bad[i]; ok {
			v.add(fmt.Sprintf("gateway.trusted_proxies[%d]", i), "%s", msg)
		}
	}
}

// unmapPrefix is p with an IPv4-mapped IPv6 prefix (::ffff:10.0.0.0/104)
// as the IPv4 prefix it covers (10.0.0.0/8): the gateway judges a peer
// with an IPv4-mapped address as IPv4, which an IPv6 prefix never
// contains, so the entry would silently trust nobody.
func unmapPrefix(p netip.Prefix) netip.Prefix {
	if p.Addr().Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
	}
	return p
}
