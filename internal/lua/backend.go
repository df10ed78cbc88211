package lua

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/textutil"

	glua "github.com/yuin/gopher-lua"
)

// Selection is the backend a filter chose with select_backend_server.
type Selection struct {
	Host string
	Port int
}

const serverTypeName = "nauthilus_backend_server"

var backendFunctions = map[string]runFunc{
	"get_backend_servers":         getBackendServers,
	"get_backend_servers_status":  getBackendServersStatus,
	"select_backend_server":       selectBackendServer,
	"get_selected_backend_server": getSelectedBackendServer,
	"apply_backend_result":        applyBackendResult,
	"remove_from_backend_result":  removeFromBackendResult,
	"get_removed_backend_attributes": func(r *scriptRun, L *glua.LState) int {
		L.Push(toLua(L, append([]string(nil), r.remove...)))
		return 1
	},
	"get_current_backend_result": func(r *scriptRun, L *glua.LState) int {
		res := &backendResult{}
		res.setAttributes(r.attributes)
		res.Groups = append([]string(nil), r.groups...)
		res.GroupDNs = append([]string(nil), r.groupDNs...)
		L.Push(r.newResultUserData(L, res))
		return 1
	},
	"check_backend_connection": checkBackendConnection,
	"report_failure":           sideEffect("nauthilus_backend.report_failure", reportFailure, reportFailureDry),
}

// getBackendServers returns the eligible mail targets in configuration
// order (contract §2.2: the "alive" list, not every configured target; a
// drained or maintained backend is not offered either). A backup target is
// listed only while no primary of its protocol is eligible, so a Nauthilus
// script that knows nothing of backups still fails over to them and only
// then (backend_cache.go).
func getBackendServers(r *scriptRun, L *glua.LState) int {
	eligible := r.vm().servingServers(r) // backend_cache.go
	list := L.CreateTable(len(eligible), 0)
	for _, ud := range eligible {
		list.Append(ud)
	}
	L.Push(list)
	return 1
}

// getBackendServersStatus is backline's own addition: every mail target with
// its health, so a script can explain or log why a server is missing.
func getBackendServersStatus(r *scriptRun, L *glua.LState) int {
	snap := r.snapshot()
	list := L.CreateTable(0, 0)
	if snap == nil {
		L.Push(list)
		return 1
	}
	for _, b := range snap.Backends {
		if b.Group != health.GroupMail || b.Target == nil {
			continue
		}
		t := L.CreateTable(0, 15)
		t.RawSetString("name", glua.LString(b.Target.Name))
		t.RawSetString("protocol", glua.LString(b.Target.Protocol))
		t.RawSetString("host", glua.LString(b.Target.Host))
		t.RawSetString("port", glua.LNumber(b.Target.Port))
		t.RawSetString("healthy", glua.LBool(b.Healthy))
		t.RawSetString("id", glua.LString(b.ID))
		t.RawSetString("admin_state", glua.LString(b.Admin.State))
		t.RawSetString("weight", glua.LNumber(b.Weight))
		t.RawSetString("eligible", glua.LBool(b.Eligible))
		t.RawSetString("reason", glua.LString(b.Reason))
		t.RawSetString("group", glua.LString(b.Group))
		t.RawSetString("backup", glua.LBool(b.Backup))
		t.RawSetString("draining", glua.LBool(b.Draining))
		lastErr := b.Connect.LastError
		if lastErr == "" {
			lastErr = b.Deep.LastError
		}
		t.RawSetString("last_error", glua.LString(r.redact(lastErr)))
		t.RawSetString("latency_ms", glua.LNumber(float64(b.Connect.Latency.Microseconds())/1000))
		list.Append(t)
	}
	L.Push(list)
	return 1
}

func selectBackendServer(r *scriptRun, L *glua.LState) int {
	const msg = "bad argument #2 to select_backend_server (expected server (string) and port (number))"
	if L.GetTop() != 2 {
		L.RaiseError(msg)
	}
	host, ok := L.Get(1).(glua.LString)
	port, isInt := luaInt(L.Get(2))
	if !ok || !isInt {
		L.RaiseError(msg)
	}
	if port < 1 || port > 65535 {
		L.RaiseError("select_backend_server: port must be between 1 and 65535, got %d", port)
	}
	if err := validBackendHost(string(host)); err != nil {
		L.RaiseError("select_backend_server: %v", err)
	}
	r.selected = &Selection{Host: string(host), Port: port}
	return 0
}

func getSelectedBackendServer(r *scriptRun, L *glua.LState) int {
	if r.selected == nil {
		L.Push(glua.LString(""))
		L.Push(glua.LNumber(0))
		return 2
	}
	L.Push(glua.LString(r.selected.Host))
	L.Push(glua.LNumber(r.selected.Port))
	return 2
}

func applyBackendResult(r *scriptRun, L *glua.LState) int {
	ud, ok := L.Get(1).(*glua.LUserData)
	if !ok {
		L.RaiseError("bad argument #1 to apply_backend_result (userdata expected, got %s)", L.Get(1).Type())
	}
	res, ok := ud.Value.(*backendResult)
	if !ok {
		L.RaiseError("bad argument #1 to apply_backend_result (nauthilus_backend_result expected)")
	}
	r.mergeAttributes(res.Attributes)
	r.groups = mergeGroups(r.groups, res.Groups)
	r.groupDNs = mergeGroups(r.groupDNs, res.GroupDNs)
	return 0
}

func removeFromBackendResult(r *scriptRun, L *glua.LState) int {
	list, ok := L.Get(1).(*glua.LTable)
	if !ok {
		L.RaiseError("bad argument #1 to remove_from_backend_result (table expected, got %s)", L.Get(1).Type())
	}
	r.remove = append(r.remove, stringsOf(list)...)
	return 0
}

// serverView is what a script sees of a target: a snapshot entry (no
// secrets) and, only with lua.config.expose_test_credentials, the test
// password.
type serverView struct {
	backend  *health.Backend
	password string
	// requestURI is the request_uri as configured, key and all, also
	// only with expose_test_credentials; else the snapshot's, withheld.
	requestURI string
	// protocol and host are the two fields routing scripts read for every
	// server on every run, boxed once (the view lives as long as its
	// snapshot, which never changes).
	protocol, host glua.LValue
}

func newServerView(b *health.Backend) *serverView {
	return &serverView{backend: b, protocol: glua.LString(b.Target.Protocol), host: glua.LString(b.Target.Host)}
}

func (v *vm) newServerMeta() *glua.LTable {
	L := v.L
	mt := L.NewTypeMetatable(serverTypeName)
	mt.RawSetString("__index", L.NewFunction(func(L *glua.LState) int {
		sv, ok := L.CheckUserData(1).Value.(*serverView)
		if !ok {
			L.ArgError(1, serverTypeName+" expected")
		}
		L.Push(sv.field(L.CheckString(2)))
		return 1
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *glua.LState) int {
		sv, _ := L.CheckUserData(1).Value.(*serverView)
		if sv == nil {
			L.Push(glua.LString(serverTypeName))
			return 1
		}
		L.Push(glua.LString(serverTypeName + "(" + sv.backend.Target.Protocol + " " + sv.backend.Target.Address() + ")"))
		return 1
	}))
	return mt
}

// field returns one property; unknown names give nil as in Nauthilus.
func (sv *serverView) field(name string) glua.LValue {
	b := sv.backend
	t := b.Target
	switch name {
	case "id":
		return glua.LString(b.ID)
	case "admin_state":
		return glua.LString(b.Admin.State)
	case "weight":
		return glua.LNumber(b.Weight)
	case "eligible":
		return glua.LBool(b.Eligible)
	case "reason":
		return glua.LString(b.Reason)
	case "backup":
		// backline's addition (Nauthilus has no backup servers).
		// get_backend_servers lists a backup only during a failover, so
		// there it is true for every server of the protocol; the status
		// list shows it beside the primaries.
		return glua.LBool(b.Backup)
	case "draining":
		// backline's addition, as backup: drained by an operator but
		// otherwise eligible, so it keeps only the users stored for it.
		// get_backend_servers lists eligible servers, where it is false;
		// the status list shows it for the drained ones.
		return glua.LBool(b.Draining)
	case "name":
		return glua.LString(t.Name)
	case "protocol":
		return sv.protocol
	case "host", "ip": // ip: seed 001/002 scripts use it; Nauthilus ≥1.10 returns nil
		return sv.host
	case "port":
		return glua.LNumber(t.Port)
	case "request_uri":
		if sv.requestURI != "" {
			return glua.LString(sv.requestURI)
		}
		return glua.LString(t.RequestURI)
	case "test_username":
		return glua.LString(t.Username)
	case "test_password":
		return glua.LString(sv.password)
	case "haproxy_v2":
		return glua.LBool(t.HAProxyV2)
	case "tls":
		return glua.LBool(t.TLSMode == probe.TLSImplicit)
	case "tls_mode":
		mode := t.TLSMode
		if mode == "" {
			mode = probe.TLSPlain
		}
		return glua.LString(mode)
	case "tls_skip_verify":
		return glua.LBool(t.TLSSkipVerify)
	case "deep_check":
		return glua.LBool(t.DeepCheck)
	}
	return glua.LNil
}

// validBackendHost accepts what Nauthilus accepts from a sane script (any
// IP address or DNS name, configured or not; contract §2.3) and refuses what
// would reach nginx's Auth-Server header or the resolver as garbage: empty,
// control characters, spaces, ports, brackets, zones and malformed names.
func validBackendHost(host string) error {
	const maxHost = 253
	switch {
	case host == "":
		return errors.New("host must not be empty")
	case len(host) > maxHost+1:
		return fmt.Errorf("host is longer than %d characters", maxHost)
	}
	for i := 0; i < len(host); i++ {
		c := host[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return fmt.Errorf("host %q contains the character %q (use an IP address or a host name)", clip(host), c)
		}
	}
	if strings.Contains(host, ":") {
		if _, err := netip.ParseAddr(host); err != nil {
			return fmt.Errorf("host %q is neither an IP address nor a host name (no port in the host)", clip(host))
		}
		return nil
	}
	name := strings.TrimSuffix(host, ".")
	if len(name) > maxHost {
		return fmt.Errorf("host is longer than %d characters", maxHost)
	}
	labels := strings.Split(name, ".")
	for _, label := range labels {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return fmt.Errorf("host %q is not a valid host name", clip(host))
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if numericLabel(labels[len(labels)-1]) {
		return fmt.Errorf("host %q is neither an IP address nor a host name (a host name never ends in a numeric label)", clip(host))
	}
	return nil
}

// numericLabel reports whether label is a number as inet_aton reads one
// (decimal, octal or 0x hex). A name ending in one is not a host name (RFC
// 1123 §2.1), and glibc's resolver, which Go's cgo resolver uses, turns it
// into an address: "2130706433" and "0x7f.1" are 127.0.0.1, "0" is 0.0.0.0.
func numericLabel(label string) bool {
	digits := label
	if len(label) > 1 && label[0] == '0' && (label[1] == 'x' || label[1] == 'X') {
		digits = label[2:]
		if digits == "" {
			return true
		}
		for i := 0; i < len(digits); i++ {
			if !textutil.IsHexDigit(digits[i]) {
				return false
			}
		}
		return true
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return false
		}
	}
	return true
}

// clip shortens a script-supplied value echoed in an error.
func clip(s string) string { return clipTo(s, 64) }

// clipPath shortens a script-supplied file name echoed in an error.
func clipPath(s string) string { return clipTo(s, 256) }

func clipTo(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}
