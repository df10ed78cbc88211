package health

import (
	"net/netip"

	"github.com/backline/backline/internal/probe"
)

// noteCheckedAddr keeps the IP the connect phase of res reached, when that
// phase passed (a success, or a failure after it). A name with several
// addresses is dialled address by address, so this is the one that
// answered; the nginx answer hands it out instead of resolving the name
// again. A passed connect phase without a usable address (a custom dialer,
// a hostile or missing RemoteAddr) forgets the old one: it no longer says
// where the last check went. A failed connect phase keeps it, as the last
// address that worked.
func (s *targetState) noteCheckedAddr(res *probe.Result) {
	if res.OK || res.FailedPhase == probe.PhaseDeep {
		s.addr = parseCheckedAddr(res.RemoteAddr)
	}
}

// parseCheckedAddr is the IP of a RemoteAddr ("ip:port"), or the zero
// Addr when it is not one a proxy could be sent to.
func parseCheckedAddr(remote string) netip.Addr {
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return netip.Addr{}
	}
	ip := ap.Addr().Unmap()
	if ip.IsUnspecified() || ip.IsMulticast() {
		return netip.Addr{}
	}
	return ip
}
