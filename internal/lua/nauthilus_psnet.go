package lua

import (
	"bufio"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	glua "github.com/yuin/gopher-lua"
)

// nauthilus_psnet (spec nauthilus-lua-modules §4.11). Nauthilus counts
// established TCP connections to registered targets in the background and
// exports a gauge. backline keeps the registrations (process-wide, at most
// maxPsnetTargets) and counts on demand in get_connection_target, from
// /proc/net/tcp and /proc/net/tcp6 (Linux; elsewhere the count is an
// error). No gauge is exported. register_connection_target never raises:
// Nauthilus calls it from init scripts, which backline runs per request.

const (
	maxPsnetTargets = 256
	// maxPsnetTargetLen bounds one target ("[v6 address]:port" fits).
	maxPsnetTargetLen = 255
	// psnetScanTTL: one /proc scan serves every call within this time.
	psnetScanTTL = time.Second
)

func init() {
	registerModule(module{
		Name: "nauthilus_psnet", Filter: true, Password: true,
		Functions: map[string]runFunc{
			// A dry run (dryrun.go) does not add to the process-wide
			// targets; get_connection_target reads those real runs added.
			"register_connection_target": sideEffect("nauthilus_psnet.register_connection_target",
				registerConnectionTarget, dryReturns()),
			"get_connection_target": getConnectionTarget,
		},
	})
}

type psnetTarget struct {
	direction, description string
}

type psnetState struct {
	mu      sync.Mutex
	targets map[string]psnetTarget
	scanned time.Time
	// remote and local count established connections by address.
	remote, local map[netip.AddrPort]int
	scanErr       error
	// procFiles are read by scan (tests point them elsewhere).
	procFiles []string
}

func (r *scriptRun) psnet() *psnetState {
	return hostValue(r.engine.host, "nauthilus_psnet", func() *psnetState {
		return &psnetState{targets: map[string]psnetTarget{}, procFiles: []string{"/proc/net/tcp", "/proc/net/tcp6"}}
	})
}

// registerConnectionTarget is register_connection_target(target,
// direction, description) -> nothing. Bad arguments are logged at WARN and
// ignored.
func registerConnectionTarget(r *scriptRun, L *glua.LState) int {
	target, direction, desc := L.Get(1), L.Get(2), L.Get(3)
	t, ok := target.(glua.LString)
	dir := strings.ToLower(glua.LVAsString(direction))
	if !ok || len(t) > maxPsnetTargetLen || (dir != "remote" && dir != "local") {
		r.engine.logger.Warn("nauthilus_psnet.register_connection_target: ignored (want \"host:port\", \"remote\" or \"local\")",
			"script", r.script.name, "target", r.redact(truncateText(glua.LVAsString(target), 64)), "direction", truncateText(dir, 16))
		return 0
	}
	s := r.psnet()
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, have := s.targets[string(t)]; !have && len(s.targets) >= maxPsnetTargets {
		r.engine.logger.Warn("nauthilus_psnet: too many connection targets, ignored", "script", r.script.name, "limit", maxPsnetTargets)
		return 0
	}
	// Copies: kept for the daemon's life, and a Lua string may share the
	// bytes of a far larger one.
	s.targets[strings.Clone(string(t))] = psnetTarget{direction: dir, description: strings.Clone(truncateText(glua.LVAsString(desc), 128))}
	return 0
}

// getConnectionTarget is get_connection_target(target) -> (count, nil) or
// (nil, err). target must be registered and be "ip:port".
func getConnectionTarget(r *scriptRun, L *glua.LState) int {
	target := L.CheckString(1)
	s := r.psnet()
	s.mu.Lock()
	defer s.mu.Unlock()
	reg, ok := s.targets[target]
	if !ok {
		return pushNilErr(L, "connection target is not registered")
	}
	ap, err := netip.ParseAddrPort(target)
	if err != nil {
		return pushNilErr(L, "connection target must be ip:port to be counted")
	}
	if time.Since(s.scanned) > psnetScanTTL {
		s.remote, s.local, s.scanErr = scanProcNet(s.procFiles)
		s.scanned = time.Now()
	}
	if s.scanErr != nil {
		return pushNilErr(L, s.scanErr.Error())
	}
	counts := s.remote
	if reg.direction == "local" {
		counts = s.local
	}
	L.Push(glua.LNumber(counts[netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())]))
	L.Push(glua.LNil)
	return 2
}

// scanProcNet counts ESTABLISHED (state 01) sockets by local and remote
// address. A missing tcp6 file is fine; no file at all is an error.
func scanProcNet(files []string) (remote, local map[netip.AddrPort]int, err error) {
	remote, local = map[netip.AddrPort]int{}, map[netip.AddrPort]int{}
	read := 0
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			continue
		}
		read++
		parseProcNet(f, remote, local)
		f.Close()
	}
	if read == 0 {
		return nil, nil, fmt.Errorf("cannot count connections: no /proc/net/tcp on this system")
	}
	return remote, local, nil
}

func parseProcNet(rd io.Reader, remote, local map[netip.AddrPort]int) {
	sc := bufio.NewScanner(rd)
	sc.Buffer(make([]byte, 0, 512), 4096)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 4 || f[3] != "01" {
			continue
		}
		l, okL := parseProcAddr(f[1])
		rem, okR := parseProcAddr(f[2])
		if okL && okR {
			local[l]++
			remote[rem]++
		}
	}
}

// parseProcAddr reads "0100007F:0019": the address as 32-bit words in host
// (little-endian on the platforms backline runs on) order, the port in hex.
func parseProcAddr(s string) (netip.AddrPort, bool) {
	addrHex, portHex, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(addrHex)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(portHex, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	for i := 0; i < len(raw); i += 4 {
		binary.BigEndian.PutUint32(raw[i:], binary.LittleEndian.Uint32(raw[i:]))
	}
	addr, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(addr.Unmap(), uint16(port)), true
}
