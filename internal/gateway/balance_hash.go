package gateway

import (
	"crypto/rand"
	"encoding/base64"
	"math"
	"net/http"
	"net/netip"
	"strings"

	"github.com/backline/backline/internal/config"
)

// requestKey is what a hash policy hashes for one request, looked up once
// so that a retry hashes the same key (and so takes the key's next
// origin).
type requestKey struct {
	hash uint64
	ok   bool // false: no usable key; the fallback policy picks
	// setCookie, when not empty, is the Set-Cookie line for the answer:
	// cookie_hash made up a key for a client that sent none.
	setCookie string
}

// hashKeySource finds a request's key.
type hashKeySource interface {
	key(c *call) requestKey
}

func newHashKeySource(b *config.Backend) hashKeySource {
	switch b.LoadBalancing {
	case config.BalanceHeaderHash:
		return headerKey{name: http.CanonicalHeaderKey(b.HashKey)}
	case config.BalanceCookieHash:
		return cookieKey{name: b.HashKey, set: b.HashCookieSet == nil || *b.HashCookieSet}
	case config.BalanceURIHash:
		return uriKey{}
	}
	return clientIPKey{}
}

// clientRequest is the request as the client sent it: a hash key is the
// client's, whatever modifiers later changed on the way upstream.
func (c *call) clientRequest() *http.Request {
	if c.up.data != nil && c.up.data.req != nil {
		return c.up.data.req
	}
	return c.up.req
}

// rendezvousPicker is weighted rendezvous (highest random weight) hashing:
// every candidate scores the key, w / -ln(u) with u a hash of the key and
// the origin's scheme://host:port uniform in (0,1), and the best score
// wins. A key's ranking of origins depends on nothing but the key and each
// origin's own address and weight, so adding, removing, ejecting or
// recovering one origin moves only the keys whose best origin it is or
// becomes; the others stay put, on every gateway instance alike (no
// per-process seed), and come back to the same origin when it recovers.
// Over many keys, an origin's share is its weight's share. A retry leaves
// the origin tried out, so it goes to the key's second-best origin.
//
// A request without a usable key goes round robin.
type rendezvousPicker struct{}

func (rendezvousPicker) pick(s *originSet, cands []candidate, key requestKey) *upstreamOrigin {
	if !key.ok {
		return roundRobinPicker{}.pick(s, cands, key)
	}
	var best *upstreamOrigin
	bestScore := math.Inf(1)
	for _, c := range cands {
		if c.weight <= 0 {
			continue
		}
		if sc := rendezvousScore(key.hash, c.o.seed, c.weight); sc < bestScore {
			best, bestScore = c.o, sc
		}
	}
	if best == nil {
		return roundRobinPicker{}.pick(s, cands, key)
	}
	return best
}

// rendezvousScore is -ln(u)/w, the inverse of the HRW weight (lower
// wins): an exponential draw with rate w, so the smallest of several is
// origin i's with probability w_i / sum(w).
func rendezvousScore(key, seed uint64, weight int) float64 {
	x := mix64(key ^ seed)
	u := (float64(x>>11) + 0.5) / (1 << 53) // in (0, 1), never 0
	return -math.Log(u) / float64(weight)
}

// hashString is 64-bit FNV-1a: fixed, so every instance and every restart
// map a key alike (hash/maphash is seeded per process).
func hashString(s string) uint64 { return hashBytes(s) }

// hashBytes is hashString over a string or a byte slice (an address's
// bytes, without a string of their own).
func hashBytes[T string | []byte](s T) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

// mix64 is the SplitMix64 finalizer: FNV's high bits depend weakly on
// the last bytes, and the score needs every bit to.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// clientIPKey hashes the client's address (client_ip_hash).
type clientIPKey struct{}

func (clientIPKey) key(c *call) requestKey {
	a, ok := clientAddr(c.clientRequest(), c.g.trusted)
	if !ok {
		return requestKey{}
	}
	b := a.As16() // 192.0.2.1 and ::ffff:192.0.2.1 alike
	return requestKey{hash: hashBytes(b[:]), ok: true}
}

// maxForwardedHops bounds the walk through X-Forwarded-For: a longer
// chain of trusted proxies is not a real setup, and a client behind one
// may write as many trusted-looking entries as its header allows.
const maxForwardedHops = 32

// clientAddr is the client's address as the gateway sees it: the TCP
// peer, or, when the peer is in gateway.trusted_proxies, the address its
// X-Forwarded-For names. The list is read from the right (the entry the
// nearest proxy wrote) past every trusted proxy to the first address that
// is not one, as nginx's real_ip_recursive and Caddy's
// trusted_proxies_strict do: entries to its left are the client's own
// claims. An entry that is not an address (an empty one too) ends the
// walk at the last hop known. When every entry is trusted, the leftmost
// is the client.
func clientAddr(r *http.Request, trusted trustedProxies) (netip.Addr, bool) {
	v := newForwardedView(r, trusted)
	addr, _, ok := v.clientPlace()
	return addr, ok
}

// walkForwardedFor is clientAddr with the client's place in
// X-Forwarded-For (forwardedView.clientPlace, which runs it once per
// request). X-Forwarded-Proto and -Host are read at the same place
// (forwardedView.listElement).
func (v *forwardedView) walkForwardedFor() (addr netip.Addr, pos int, ok bool) {
	addr, ok = v.peerAddr()
	if !ok {
		return netip.Addr{}, 0, false
	}
	if !v.fromTrustedProxy() {
		return addr, 0, true
	}
	for l := newListFromRight(v.r.Header["X-Forwarded-For"]); ; {
		entry, more := l.next()
		if !more {
			return addr, pos, true
		}
		// An empty entry (an empty line too) is a hop whose address is
		// missing, and ends the walk like any entry that is not an
		// address: skipping it, as RFC 9110 5.6.1 allows for lists read
		// as sets, would take the entry left of it, the client's own
		// claim when a trusted proxy appended the empty one. It keeps
		// the walk in step with X-Forwarded-Proto (elementFromRight).
		a, isAddr := parseForwardedAddr(strings.TrimSpace(entry))
		if !isAddr {
			return addr, pos, true
		}
		addr = a
		if pos++; !v.trusted.containsAddr(a) || pos >= maxForwardedHops {
			return addr, pos, true
		}
	}
}

// parseForwardedAddr reads one X-Forwarded-For entry: an address, or
// address and port as some proxies write ("192.0.2.1:5678", "[2001:db8::1]:80").
func parseForwardedAddr(s string) (netip.Addr, bool) {
	if len(s) > 64 {
		return netip.Addr{}, false
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		ap, err := netip.ParseAddrPort(s)
		if err != nil {
			return netip.Addr{}, false
		}
		a = ap.Addr()
	}
	return trustForm(a), true
}

// headerKey hashes a request header (header_hash). A repeated header
// counts by its first line, as Caddy's header policy reads it; an empty
// or missing one has no key.
type headerKey struct{ name string }

func (k headerKey) key(c *call) requestKey {
	r := c.clientRequest()
	if k.name == "Host" {
		// net/http moves Host (HTTP/2's :authority) out of the header
		// map into r.Host; Caddy's header policy reads it there too.
		if r.Host == "" {
			return requestKey{}
		}
		return requestKey{hash: hashString(r.Host), ok: true}
	}
	v := r.Header[k.name]
	if len(v) == 0 || v[0] == "" {
		return requestKey{}
	}
	return requestKey{hash: hashString(v[0]), ok: true}
}

// cookieKey hashes a cookie (cookie_hash). A client without it (or with
// a value no browser would send back) gets one when set is on, as Caddy's
// cookie policy does: a random token, hashed like any value, so this
// first request already goes where the following ones will. The token
// says nothing about the origins (no address, no ID), and a user whose
// origin is ejected comes back to it when it recovers.
type cookieKey struct {
	name string
	set  bool
}

// maxCookieValue: a longer value is not one the gateway set; treated as
// missing.
const maxCookieValue = 4096

func (k cookieKey) key(c *call) requestKey {
	r := c.clientRequest()
	if v, ok := cookieValue(r.Header["Cookie"], k.name); ok {
		return requestKey{hash: hashString(v), ok: true}
	}
	if !k.set {
		return requestKey{}
	}
	token := newCookieToken()
	proto, _ := forwardedOf(r, c.g.trusted)
	return requestKey{hash: hashString(token), ok: true, setCookie: hashCookieLine(k.name, token, len(proto) > 0 && strings.EqualFold(proto[0], "https"))}
}

// hashCookieLine is the Set-Cookie for a new token: a session cookie for
// the whole site, not readable by scripts, Secure when the client came
// over https (its own TLS, or a trusted proxy's X-Forwarded-Proto) and
// always for a name with the __Secure- or __Host- prefix: browsers drop
// such a cookie without Secure (RFC 6265bis 4.1.3; __Host- also needs
// Path=/ and no Domain, which every line has). Browsers match the
// prefixes without regard to case, so this does too.
func hashCookieLine(name, token string, secure bool) string {
	line := name + "=" + token + "; Path=/; HttpOnly; SameSite=Lax"
	if secure || config.HasSecureCookiePrefix(name) {
		line += "; Secure"
	}
	return line
}

// addStickyCookie puts the gateway's cookie_hash cookie on the answer
// once every response modifier (backend, proxy, endpoint, websockets) has
// run: like HAProxy's inserted persistence cookie, which http-response
// rules never see, and Caddy's cookie policy, which header_down never
// sees, it is the gateway's own and not part of the origin's answer. A
// rule that removes Set-Cookie therefore leaves it; one that sets the
// same cookie name wins, as an origin's own cookie does (setsCookie).
func (ex *exchange) addStickyCookie(h http.Header) {
	if ex.stickyCookie != "" && h != nil && !setsCookie(h, ex.stickyCookie) {
		h.Add("Set-Cookie", ex.stickyCookie)
	}
}

// setsCookie reports whether h (an origin's answer, after the response
// modifiers) sets the cookie that line sets: then the application's
// value stays, as the browser would keep the last of two and the
// gateway's comes last.
func setsCookie(h http.Header, line string) bool {
	name, _, _ := strings.Cut(line, "=")
	for _, v := range h["Set-Cookie"] {
		if n, _, ok := strings.Cut(v, "="); ok && strings.TrimSpace(n) == name {
			return true
		}
	}
	return false
}

// newCookieToken is 128 random bits, URL-safe base64 (cookie octets only).
func newCookieToken() string {
	var b [16]byte
	_, _ = rand.Read(b[:]) // never fails (crypto/rand, Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// cookieValue finds name's value in the Cookie header lines (RFC 6265
// 5.4: "a=1; b=2"; HTTP/2 clients may send one line per cookie). The first
// occurrence wins. A value that is empty, longer than maxCookieValue, or
// has a byte outside RFC 6265's cookie-octets (control bytes, spaces,
// commas, semicolons, backslashes, quotes inside) is treated as missing.
func cookieValue(lines []string, name string) (string, bool) {
	for _, line := range lines {
		for line != "" {
			part := line
			if j := strings.IndexByte(line, ';'); j >= 0 {
				part, line = line[:j], line[j+1:]
			} else {
				line = ""
			}
			part = strings.TrimLeft(part, " \t")
			eq := strings.IndexByte(part, '=')
			if eq < 0 || part[:eq] != name {
				continue
			}
			v := strings.TrimRight(part[eq+1:], " \t")
			if len(v) >= 2 && v[0] == '"' && v[len(v)-1] == '"' {
				v = v[1 : len(v)-1]
			}
			if v == "" || len(v) > maxCookieValue || !cookieOctets(v) {
				return "", false
			}
			return v, true
		}
	}
	return "", false
}

func cookieOctets(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == ',' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}
