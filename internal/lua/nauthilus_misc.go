package lua

import (
	"crypto/rand"
	"math/big"
	"net/netip"
	"strings"
	"time"

	glua "github.com/yuin/gopher-lua"
	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

// nauthilus_misc (spec nauthilus-lua-modules §4.12).

func init() {
	registerModule(module{
		Name: "nauthilus_misc", Filter: true, Password: true,
		Functions: map[string]runFunc{
			"scoped_ip":        scopedIP,
			"get_country_name": countryName,
			"wait_random":      waitRandom,
		},
	})
}

// scopedIP is scoped_ip([ctx,] ip) -> (text, nil): the network of ip under
// lua.config.ip_scoping_v4_cidr / _v6_cidr in CIDR form, or ip unchanged
// when no prefix is set for its family. The contexts "rwp" and
// "tolerations" use Nauthilus' brute-force scoping, which backline does
// not have: they return ip unchanged. Any other context is generic. Text
// that is not an IP address comes back unchanged.
func scopedIP(r *scriptRun, L *glua.LState) int {
	scope, ip := "lua_generic", ""
	if L.GetTop() >= 2 {
		scope, ip = L.CheckString(1), L.CheckString(2)
	} else {
		ip = L.CheckString(1)
	}
	L.Push(glua.LString(scopeIP(r, scope, ip)))
	L.Push(glua.LNil)
	return 2
}

func scopeIP(r *scriptRun, scope, ip string) string {
	switch strings.ToLower(scope) {
	case "rwp", "tolerations":
		return ip
	}
	addr, err := netip.ParseAddr(strings.TrimSpace(ip))
	if err != nil {
		return ip
	}
	addr = addr.Unmap()
	bits := r.engine.cfg.Config.IPScopingV6CIDR
	if addr.Is4() {
		bits = r.engine.cfg.Config.IPScopingV4CIDR
	}
	if bits <= 0 || bits > addr.BitLen() {
		return ip
	}
	prefix, err := addr.WithZone("").Prefix(bits)
	if err != nil {
		return ip
	}
	return prefix.String()
}

// countryName is get_country_name(iso2) -> (English name, nil), or
// ("Unknown", nil) for anything that is not a known two-letter region
// code. Names come from the Unicode CLDR (golang.org/x/text), not from a
// GeoIP database; a few differ from Nauthilus' list (see docs/nauthilus.md).
func countryName(_ *scriptRun, L *glua.LState) int {
	code := strings.TrimSpace(L.OptString(1, ""))
	name := "Unknown"
	if len(code) == 2 && isASCIILetters(code) {
		if region, err := language.ParseRegion(code); err == nil && region.IsCountry() {
			if n := display.English.Regions().Name(region); n != "" && n != "Unknown Region" {
				name = n
			}
		}
	}
	L.Push(glua.LString(name))
	L.Push(glua.LNil)
	return 2
}

func isASCIILetters(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i] | 0x20; c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// waitRandom is wait_random(min_ms, max_ms) -> (ms, nil): it sleeps a
// cryptographically random whole number of milliseconds, min <= ms < max.
// A negative bound or min >= max gives (nil, "invalid wait range"). The
// sleep ends with the run's deadline: the call then raises, and the run
// ends as timed out.
func waitRandom(r *scriptRun, L *glua.LState) int {
	lo, hi := float64(L.CheckNumber(1)), float64(L.CheckNumber(2))
	if lo < 0 || hi < 0 || lo >= hi || hi > float64(24*time.Hour/time.Millisecond) {
		L.Push(glua.LNil)
		L.Push(glua.LString("invalid wait range"))
		return 2
	}
	minMS, span := int64(lo), int64(hi)-int64(lo)
	if span < 1 {
		span = 1
	}
	k, err := rand.Int(rand.Reader, big.NewInt(span))
	if err != nil {
		L.RaiseError("wait_random: %v", err)
	}
	ms := minMS + k.Int64()
	timer := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer timer.Stop()
	select {
	case <-timer.C:
	case <-r.ctx.Done():
		L.RaiseError("wait_random: %v", r.ctx.Err())
	}
	L.Push(glua.LNumber(ms))
	L.Push(glua.LNil)
	return 2
}
