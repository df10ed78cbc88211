package gateway

import (
	"crypto/tls"
	"net"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

// The forwarded-field functions as they were before the forwarded view
// (46383f1), under other names: the differential tests below hold the
// view to their trust decisions, with the one change the merge meant to
// make (a trusted proxy's X-Forwarded-Host must be a host[:port], and a
// single value is trimmed).

func oldPeerAddr(remoteAddr string) (netip.Addr, bool) {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}, false
	}
	return trustForm(a), true
}

func oldContains(t trustedProxies, remoteAddr string) bool {
	if len(t) == 0 {
		return false
	}
	a, ok := oldPeerAddr(remoteAddr)
	return ok && t.containsAddr(a)
}

func oldClientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return ""
	}
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host = host[:i]
	}
	return host
}

func oldForwardedClient(r *http.Request, trusted trustedProxies) (addr netip.Addr, pos int, ok bool) {
	addr, ok = oldPeerAddr(r.RemoteAddr)
	if !ok {
		return netip.Addr{}, 0, false
	}
	if !trusted.containsAddr(addr) {
		return addr, 0, true
	}
	values := r.Header["X-Forwarded-For"]
	hops := 0
	for i := len(values) - 1; i >= 0; i-- {
		list := values[i]
		for more := true; more; {
			entry := list
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				entry, list = list[j+1:], list[:j]
			} else {
				more = false
			}
			a, ok := parseForwardedAddr(strings.TrimSpace(entry))
			if !ok {
				return addr, hops, true
			}
			addr = a
			if hops++; !trusted.containsAddr(a) || hops >= maxForwardedHops {
				return addr, hops, true
			}
		}
	}
	return addr, hops, true
}

func oldProtoElement(values []string, k int) string {
	last := ""
	for i := len(values) - 1; i >= 0; i-- {
		list := values[i]
		for more := true; more; {
			entry := list
			if j := strings.LastIndexByte(list, ','); j >= 0 {
				entry, list = list[j+1:], list[:j]
			} else {
				more = false
			}
			entry = strings.Trim(entry, " \t")
			if k == 0 {
				return entry
			}
			last = entry
			k--
		}
	}
	return last
}

func oldTrustedProto(r *http.Request, trusted trustedProxies) []string {
	values := r.Header["X-Forwarded-Proto"]
	if len(values) == 0 {
		return nil
	}
	var elem string
	if len(values) == 1 && strings.IndexByte(values[0], ',') < 0 {
		elem = values[0]
	} else {
		_, pos, _ := oldForwardedClient(r, trusted)
		elem = oldProtoElement(values, max(pos-1, 0))
	}
	return schemeValue(strings.Trim(elem, " \t"))
}

func oldTrustedHost(values []string, r *http.Request, trusted trustedProxies) string {
	if len(values) == 1 && strings.IndexByte(values[0], ',') < 0 {
		return strings.Trim(values[0], " \t")
	}
	_, pos, _ := oldForwardedClient(r, trusted)
	return oldProtoElement(values, max(pos-1, 0))
}

func oldKeepForwarded(h http.Header, r *http.Request, trusted trustedProxies) {
	if v := oldTrustedProto(r, trusted); v != nil {
		h["X-Forwarded-Proto"] = v
	} else {
		h["X-Forwarded-Proto"] = forwardedProtoValue(r)
	}
	v := h["X-Forwarded-Host"]
	if len(v) == 1 && strings.IndexByte(v[0], ',') < 0 {
		h["X-Forwarded-Host"] = v[:1:1]
		return
	}
	value := ""
	if len(v) > 0 {
		value = oldTrustedHost(v, r, trusted)
	}
	if value == "" {
		if r.Host == "" {
			delete(h, "X-Forwarded-Host")
			return
		}
		value = headerValue(r.Host)
	}
	h["X-Forwarded-Host"] = []string{value}
}

func oldSetForwardedProtoHost(h http.Header, r *http.Request, trusted trustedProxies) {
	dropForwardedAliases(h)
	if oldContains(trusted, r.RemoteAddr) {
		oldKeepForwarded(h, r, trusted)
		return
	}
	h["X-Forwarded-Proto"] = forwardedProtoValue(r)
	if r.Host == "" {
		delete(h, "X-Forwarded-Host")
		return
	}
	h["X-Forwarded-Host"] = []string{headerValue(r.Host)}
}

func oldForwardedOf(r *http.Request, trusted trustedProxies) (proto []string, host string) {
	proto, host = forwardedProtoValue(r), headerValue(r.Host)
	if !oldContains(trusted, r.RemoteAddr) {
		return proto, host
	}
	if v := oldTrustedProto(r, trusted); v != nil {
		proto = v
	}
	if v := r.Header["X-Forwarded-Host"]; len(v) > 0 {
		if e := oldTrustedHost(v, r, trusted); e != "" {
			host = e
		}
	}
	return proto, host
}

// diffTrustSets are the trusted_proxies the differential checks run with.
var diffTrustSets = []trustedProxies{
	nil,
	{netip.MustParsePrefix("10.0.0.0/8")},
	{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.0/24"), netip.MustParsePrefix("fe80::/10"), netip.MustParsePrefix("::1/128")},
	{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")},
	{netip.MustParsePrefix("127.0.0.1/32")},
}

// diffLines splits a fuzz string into header lines ('\n' between them);
// absent is the header not sent at all.
func diffLines(s string, absent bool) []string {
	if absent {
		return nil
	}
	return strings.Split(s, "\n")
}

// checkForwardedDiff compares the view with the old functions for one
// request, and reports each difference the merge did not mean to make.
// hopHost drops X-Forwarded-Host from the proxied copy only, as when the
// client's Connection names it (stripHopHeaders runs before the fields
// are set).
func checkForwardedDiff(t *testing.T, trusted trustedProxies, r *http.Request, hopHost bool) {
	t.Helper()
	// Peer, trust, client address and place.
	if got, want := trusted.contains(r.RemoteAddr), oldContains(trusted, r.RemoteAddr); got != want {
		t.Errorf("contains(%q) = %v, was %v", r.RemoteAddr, got, want)
	}
	if got, want := clientIP(r), oldClientIP(r); got != want {
		t.Errorf("clientIP(%q) = %q, was %q", r.RemoteAddr, got, want)
	}
	v := newForwardedView(r, trusted)
	ga, gp, gok := v.clientPlace()
	wa, wp, wok := oldForwardedClient(r, trusted)
	if ga != wa || gp != wp || gok != wok {
		t.Errorf("clientPlace = %v %d %v, was %v %d %v (peer %q, XFF %q)", ga, gp, gok, wa, wp, wok, r.RemoteAddr, r.Header["X-Forwarded-For"])
	}
	if a, ok := clientAddr(r, trusted); a != wa || ok != wok {
		t.Errorf("clientAddr = %v %v, was %v %v", a, ok, wa, wok)
	}
	if got, want := trustedProto(r, trusted), oldTrustedProto(r, trusted); !slices.Equal(got, want) {
		t.Errorf("trustedProto = %q, was %q (XFP %q)", got, want, r.Header["X-Forwarded-Proto"])
	}

	// The host a trusted proxy's X-Forwarded-Host tells: as before, but
	// only when it is a host[:port], else the request's Host.
	fallback := headerValue(r.Host)
	expectHost := func(old string) string {
		if old == "" || !validForwardedHost(old) {
			return ""
		}
		return old
	}

	// Request blocks.
	gotProto, gotHost := forwardedOf(r, trusted)
	wantProto, wantHost := oldForwardedOf(r, trusted)
	if oldContains(trusted, r.RemoteAddr) {
		wantHost = fallback
		if xfh := r.Header["X-Forwarded-Host"]; len(xfh) > 0 {
			if e := expectHost(oldTrustedHost(xfh, r, trusted)); e != "" {
				wantHost = e
			}
		}
	}
	if !slices.Equal(gotProto, wantProto) || gotHost != wantHost {
		t.Errorf("forwardedOf = %q %q, want %q %q (XFH %q)", gotProto, gotHost, wantProto, wantHost, r.Header["X-Forwarded-Host"])
	}

	// Proxy blocks.
	gotH, wantH := r.Header.Clone(), r.Header.Clone()
	if gotH == nil {
		gotH, wantH = http.Header{}, http.Header{}
	}
	if hopHost {
		delete(gotH, "X-Forwarded-Host")
		delete(wantH, "X-Forwarded-Host")
	}
	cloneHost := gotH["X-Forwarded-Host"]
	setForwardedProtoHost(gotH, r, nil, trusted)
	oldSetForwardedProtoHost(wantH, r, trusted)
	if oldContains(trusted, r.RemoteAddr) {
		host := ""
		if xfh := cloneHost; len(xfh) > 0 {
			host = expectHost(oldTrustedHost(xfh, r, trusted))
		}
		switch {
		case host != "":
			wantH["X-Forwarded-Host"] = []string{host}
		case r.Host == "": // HTTP/1.0 without Host
			delete(wantH, "X-Forwarded-Host")
		default:
			wantH["X-Forwarded-Host"] = []string{fallback}
		}
	}
	if !headersEqual(gotH, wantH) {
		t.Errorf("setForwardedProtoHost: got %q, want %q (peer %q, header %q, host %q)", gotH, wantH, r.RemoteAddr, r.Header, r.Host)
	}
}

func diffRequest(remoteAddr, host string, useTLS bool, xff, xfp, xfh []string) *http.Request {
	r := &http.Request{RemoteAddr: remoteAddr, Host: host, Header: http.Header{}}
	if useTLS {
		r.TLS = &tls.ConnectionState{}
	}
	if xff != nil {
		r.Header["X-Forwarded-For"] = xff
	}
	if xfp != nil {
		r.Header["X-Forwarded-Proto"] = xfp
	}
	if xfh != nil {
		r.Header["X-Forwarded-Host"] = xfh
	}
	return r
}

// TestForwardedViewMatchesOldReview runs the differential check over
// peers (IPv4, IPv6, zones, IPv4-mapped, Unix sockets, odd values) and
// forwarded fields (lists, several lines, empty elements, client claims).
func TestForwardedViewMatchesOldReview(t *testing.T) {
	peers := []string{
		"10.0.0.5:1234", "203.0.113.9:4000", "192.0.2.7:1",
		"[::1]:80", "[fe80::1%eth0]:443", "[fe80::1%25eth0]:443", "[::ffff:10.0.0.5]:9",
		"[::ffff:203.0.113.9]:9", "[2001:db8::1]:5",
		"@", "/run/backline.sock", "", "10.0.0.5", "10.0.0.5:", ":80", "[10.0.0.5]:80",
		"pipe", "unix:/x", "[::1%]:1", "10.0.0.5:1234:5",
	}
	lists := [][]string{
		nil, {""}, {"203.0.113.1"}, {"1.1.1.1, 10.0.0.1"}, {"1.1.1.1", "10.0.0.1"},
		{"1.1.1.1,,10.0.0.1"}, {"10.0.0.2, 10.0.0.1"}, {"", "10.0.0.1"}, {"garbage, 10.0.0.1"},
		{"[2001:db8::9]:80, 10.0.0.1"}, {"::ffff:10.0.0.3, 10.0.0.1"}, {" 1.1.1.1 ,\t10.0.0.1 "},
		{"fe80::2%eth1, 192.0.2.3"}, {"1.1.1.1, 10.0.0.1", "10.0.0.2"},
	}
	protos := [][]string{nil, {""}, {"https"}, {" HTTPS "}, {"http, https"}, {"https", "http"}, {"https,,http"}, {"ftp"}, {"https, "}, {"httpſ"}}
	hosts := [][]string{nil, {""}, {"a.example"}, {" a.example "}, {"a.example:8443"}, {"evil, a.example"},
		{"a.example", "b.example"}, {"a.example,,b.example"}, {"[2001:db8::1]:443"}, {"2001:db8::1"},
		{"a b"}, {"a.example/x"}, {"user@a.example"}, {"a.example:99999"}, {",a.example"}, {"\ta.example,b.example "}}
	reqHosts := []string{"gw.example", "", "gw.example:8080", "[::1]:8080"}
	// Every scheme with every host claim; with -short each host claim
	// with one scheme and two request Hosts (the peers and lists still
	// all crossed).
	type claims struct{ xfp, xfh []string }
	var pairs []claims
	for i, xfh := range hosts {
		if testing.Short() {
			pairs = append(pairs, claims{protos[i%len(protos)], xfh})
			continue
		}
		for _, xfp := range protos {
			pairs = append(pairs, claims{xfp, xfh})
		}
	}
	if testing.Short() {
		reqHosts = reqHosts[:2]
	}
	for _, trusted := range diffTrustSets {
		for _, peer := range peers {
			for _, xff := range lists {
				for _, c := range pairs {
					for _, host := range reqHosts {
						r := diffRequest(peer, host, len(host)%2 == 0, xff, c.xfp, c.xfh)
						checkForwardedDiff(t, trusted, r, false)
						checkForwardedDiff(t, trusted, r, true)
					}
				}
			}
		}
	}
}

// FuzzForwardedViewDiffReview is the differential check for
// arbitrary peers and fields ('\n' separates a field's lines).
func FuzzForwardedViewDiffReview(f *testing.F) {
	f.Add(uint8(2), "10.0.0.5:1", "gw.example", true, "1.1.1.1, 10.0.0.1", false, "http, https", false, "evil, a.example", false, false)
	f.Add(uint8(3), "[::ffff:1.2.3.4]:1", "", false, "\n10.0.0.1", false, "https", true, " a.example ", false, true)
	f.Add(uint8(1), "[fe80::1%eth0]:443", "h", false, "", true, "", true, "", true, false)
	f.Fuzz(func(t *testing.T, set uint8, peer, host string, useTLS bool, xff string, noXFF bool, xfp string, noXFP bool, xfh string, noXFH, hopHost bool) {
		trusted := diffTrustSets[int(set)%len(diffTrustSets)]
		checkForwardedDiff(t, trusted, diffRequest(peer, host, useTLS, diffLines(xff, noXFF), diffLines(xfp, noXFP), diffLines(xfh, noXFH)), hopHost)
	})
}
