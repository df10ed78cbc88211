package tlslisten

import "net/http"

// HTTP/2 limits for both listeners. With Go's defaults one h2 connection
// may run 250 requests at once with 1 MiB of unread request body buffered
// per connection and per stream, so max_connections no longer bounded the
// requests in flight or the memory they hold (a review ran 108 handlers at
// once through one connection under max_connections 1). These follow
// HAProxy's tune.h2.max-concurrent-streams (100) and a 256 KiB stream window
// (nginx preread is 64 KiB; 256 KiB keeps uploads over long links fast).
const (
	MaxConcurrentStreams      = 100
	MaxReceiveBufferPerStream = 256 << 10
	MaxReceiveBufferPerConn   = 1 << 20
)

// HTTP2Config is the h2 configuration both listeners' servers use.
func HTTP2Config() *http.HTTP2Config {
	return &http.HTTP2Config{
		MaxConcurrentStreams:          MaxConcurrentStreams,
		MaxReceiveBufferPerStream:     MaxReceiveBufferPerStream,
		MaxReceiveBufferPerConnection: MaxReceiveBufferPerConn,
	}
}
