package gateway

import (
	"bufio"
	"net/http"
	"net/textproto"
	"slices"
	"sync"
)

// The common request head, written without Request.Write.
//
// A bodiless GET or HEAD (most proxied requests) has a head only, and
// Request.Write builds it through a transfer writer, fmt and a sorter taken
// from a pool: about 5 % of a proxied 22-byte GET's CPU. writeRequestFast
// writes the same bytes itself (TestFastRequestHeadIsRequestWrite compares
// them with Request.Write's); every other request, and any unusual host or
// target, still goes through Request.Write.

// defaultUserAgent is what Request.Write sends when the header is absent.
const defaultUserAgent = "Go-http-client/1.1"

// headerKeys holds the sorted field names of a head being written.
var headerKeys = sync.Pool{New: func() any { s := make([]string, 0, 32); return &s }}

// writeRequestFast writes req's head to bw when it is a bodiless GET or
// HEAD to a plain host; false means it wrote nothing.
func writeRequestFast(bw *bufio.Writer, req *http.Request) bool {
	if (req.Method != http.MethodGet && req.Method != http.MethodHead) ||
		(req.Body != nil && req.Body != http.NoBody) || req.ContentLength != 0 ||
		req.Close || len(req.TransferEncoding) > 0 || req.Trailer != nil {
		return false
	}
	target, host, ok := plainRequestLine(req)
	if !ok {
		return false
	}
	if hasLineBreak(req.Header["User-Agent"]) {
		return false
	}
	kp := headerKeys.Get().(*[]string)
	keys := (*kp)[:0]
	for k := range req.Header {
		switch k {
		case "Host", "User-Agent", "Content-Length", "Transfer-Encoding", "Trailer":
			continue
		}
		if !validToken(k) || hasLineBreak(req.Header[k]) {
			clear(keys)
			*kp = keys[:0]
			headerKeys.Put(kp)
			return false
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)

	writeRequestLine(bw, req.Method, target, host)
	// As Request.Write: the header's first value, trimmed, unless it is
	// empty before trimming (a blank one is sent as an empty field).
	agent := defaultUserAgent
	if v, ok := req.Header["User-Agent"]; ok {
		agent = ""
		if len(v) > 0 {
			agent = v[0]
		}
	}
	if agent != "" {
		bw.WriteString("User-Agent: ")
		bw.WriteString(textproto.TrimString(agent))
		bw.WriteString("\r\n")
	}
	for _, k := range keys {
		for _, v := range req.Header[k] {
			bw.WriteString(k)
			bw.WriteString(": ")
			bw.WriteString(textproto.TrimString(v))
			bw.WriteString("\r\n")
		}
	}
	bw.WriteString("\r\n")
	clear(keys)
	*kp = keys[:0]
	headerKeys.Put(kp)
	return true
}

// plainRequestLine is req's target and Host when Request.Write would send
// them as they are: a host of plain bytes (punycode, zones and odd bytes
// are Request.Write's) and a target without spaces or control bytes.
func plainRequestLine(req *http.Request) (target, host string, ok bool) {
	host = req.Host
	if host == "" {
		host = req.URL.Host
	}
	if !plainHost(host) || req.URL.Opaque != "" {
		return "", "", false
	}
	target = req.URL.RequestURI()
	for i := 0; i < len(target); i++ {
		if c := target[i]; c <= ' ' || c == 0x7f {
			return "", "", false
		}
	}
	return target, host, true
}

// writeRequestLine writes the request line and the Host field.
func writeRequestLine(bw *bufio.Writer, method, target, host string) {
	bw.WriteString(method)
	bw.WriteByte(' ')
	bw.WriteString(target)
	bw.WriteString(" HTTP/1.1\r\nHost: ")
	bw.WriteString(host)
	bw.WriteString("\r\n")
}

// hasLineBreak: Request.Write turns CR and LF in values into spaces;
// such a request (checkRequest refuses it anyway) is left to it.
func hasLineBreak(values []string) bool {
	for _, v := range values {
		for i := 0; i < len(v); i++ {
			if v[i] == '\r' || v[i] == '\n' {
				return true
			}
		}
	}
	return false
}

// plainHost is a host[:port] of letters, digits, dots, dashes, colons and
// brackets: what Request.Write sends unchanged.
func plainHost(h string) bool {
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.' || c == '-' || c == ':' || c == '[' || c == ']':
		default:
			return false
		}
	}
	return true
}
