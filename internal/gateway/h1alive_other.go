//go:build !unix

package gateway

import "net"

// idlePeeker cannot peek without blocking here; the write or read of the
// request finds a dead connection instead.
type idlePeeker struct{}

func newIdlePeeker(net.Conn) *idlePeeker { return nil }

func (*idlePeeker) connAlive() bool { return true }

// peerEnded cannot tell here: a failed body is taken as the origin's.
func (*idlePeeker) peerEnded() bool { return true }
