package gateway

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"strings"
)

// The common response head, parsed without http.ReadResponse.
//
// http.ReadResponse was the largest single cost of the gateway's own code
// on small requests (about 8 % of the CPU of a proxied 22-byte GET: a
// textproto reader, a string per header value, a transfer reader). Most
// origin answers are plain: HTTP/1.1, a status with a body, a
// Content-Length, CRLF lines, token names and printable values, all in the
// bytes the first read brought. Only those take this path; anything else
// (a head split across reads, chunked or close-delimited bodies, HEAD, 1xx,
// 204, 304, Connection other than keep-alive, Pragma, Trailer or
// Transfer-Encoding fields, a bare
// LF, an odd byte anywhere) goes to http.ReadResponse from the same position,
// nothing consumed. FuzzFastResponseHead checks that whatever this path
// accepts, http.ReadResponse reads the same way: status, fields, length,
// body and the bytes left after it.

// maxFastHead bounds the head this path looks at: the connection's read
// buffer is 4 KiB, so a larger head is never all buffered anyway.
const maxFastHead = 4 << 10

// readResponseFast returns the response br starts with when it is a plain
// one (see above), consuming its head; ok false leaves br untouched. With
// raw, the fields are kept as a list in the order they came (answer,
// plain.go) and the response has no header map.
func readResponseFast(br *bufio.Reader, req *http.Request, raw bool) (resp *http.Response, fr *fastResponse, ok bool) {
	if req.Method == http.MethodHead {
		return nil, nil, false
	}
	if _, err := br.Peek(1); err != nil {
		return nil, nil, false // let http.ReadResponse report it
	}
	buf, _ := br.Peek(min(br.Buffered(), maxFastHead))
	end := bytes.Index(buf, []byte("\r\n\r\n"))
	if end < 0 {
		return nil, nil, false
	}
	head := buf[:end+2] // each line with its CRLF
	line, rest, _ := bytes.Cut(head, []byte("\r\n"))
	code, ok := fastStatusLine(line)
	if !ok {
		return nil, nil, false
	}
	n := bytes.Count(rest, []byte("\r\n"))
	if n > 100 {
		return nil, nil, false // textproto's field count rules stay with net/http
	}
	// One string for the whole head: status and values are substrings.
	s := string(head[len("HTTP/1.1 ") : len(head)-2])
	status, fields, _ := cutCRLF(s)
	var values []string
	if raw {
		fr = &fastResponse{}
	} else {
		fm := &fastMapResponse{}
		fr, values = &fm.fastResponse, fm.values[:]
	}
	a := &fr.raw
	a.fields, a.length = fr.fieldBuf[:0], -1
	connection := false
	for fields != "" {
		var f string
		f, fields, _ = cutCRLF(fields)
		name, value, ok := fastField(f)
		if !ok {
			return nil, nil, false
		}
		switch answerFieldName(name) {
		case "Content-Length":
			if a.length >= 0 {
				return nil, nil, false // repeated: net/http's rules decide
			}
			if a.length, ok = fastLength(value); !ok {
				return nil, nil, false
			}
		case "Connection":
			// nginx and most origins say keep-alive on every answer; with
			// HTTP/1.1 it changes nothing. Any other token goes the long way.
			if !strings.EqualFold(value, "keep-alive") || connection {
				return nil, nil, false
			}
			connection = true
		case "Date":
			a.hasDate = true
		case "Transfer-Encoding", "Pragma", "Trailer":
			return nil, nil, false
		}
		a.fields = append(a.fields, answerField{name: name, value: value})
	}
	if a.length < 0 {
		return nil, nil, false // read until close: net/http's semantics
	}
	if _, err := br.Discard(end + 4); err != nil {
		return nil, nil, false // cannot happen: the bytes are buffered
	}
	resp = &fr.resp
	*resp = http.Response{
		Status: status, StatusCode: code,
		Proto: "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		ContentLength: a.length, Request: req, Body: http.NoBody,
	}
	if !raw {
		resp.Header = a.header(values)
	}
	if a.length > 0 {
		fr.body = lengthBody{r: br, left: a.length}
		resp.Body = &fr.body
	}
	return resp, fr, true
}

// fastStatusLine takes "HTTP/1.1 NNN" with an optional printable reason, a
// status that has a body.
func fastStatusLine(line []byte) (int, bool) {
	rest, ok := bytes.CutPrefix(line, []byte("HTTP/1.1 "))
	if !ok || len(rest) < 3 || (len(rest) > 3 && rest[3] != ' ') {
		return 0, false
	}
	code := 0
	for _, c := range rest[:3] {
		if c < '0' || c > '9' {
			return 0, false
		}
		code = code*10 + int(c-'0')
	}
	if code < 200 || code == http.StatusNoContent || code == http.StatusNotModified {
		return 0, false
	}
	for _, c := range rest[3:] {
		if !printable(c) {
			return 0, false
		}
	}
	return code, true
}

// fastField splits "Name: value" where the name is a token and the value,
// without its surrounding blanks, is printable ASCII or tabs; the name
// keeps the origin's spelling.
func fastField(f string) (name, value string, ok bool) {
	i := 0
	for i < len(f) && f[i] != ':' {
		i++
	}
	if i == len(f) || !validToken(f[:i]) {
		return "", "", false
	}
	v := f[i+1:]
	for len(v) > 0 && (v[0] == ' ' || v[0] == '\t') {
		v = v[1:]
	}
	for len(v) > 0 && (v[len(v)-1] == ' ' || v[len(v)-1] == '\t') {
		v = v[:len(v)-1]
	}
	for j := 0; j < len(v); j++ {
		if !printable(v[j]) {
			return "", "", false
		}
	}
	return f[:i], v, true // as the origin spelled it
}

// answerFieldName is name's canonical form when it is one of the fields
// readResponseFast looks at, else "": no allocation for a name spelled
// otherwise (ETag), which a raw answer passes on as it came.
func answerFieldName(name string) string {
	for _, known := range [...]string{"Content-Length", "Connection", "Date", "Transfer-Encoding", "Pragma", "Trailer"} {
		if len(name) == len(known) && strings.EqualFold(name, known) {
			return known
		}
	}
	return ""
}

func printable(c byte) bool { return c == '\t' || (c >= ' ' && c < 0x7f) }

// fastLength parses 1 to 18 digits.
func fastLength(v string) (int64, bool) {
	if v == "" || len(v) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(v); i++ {
		if v[i] < '0' || v[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(v[i]-'0')
	}
	return n, true
}

func cutCRLF(s string) (line, rest string, found bool) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '\r' && s[i+1] == '\n' {
			return s[:i], s[i+2:], true
		}
	}
	return s, "", false
}

// fastResponse holds what readResponseFast makes for one answer in one
// allocation: the response, its body readers, and the fields of a head
// of up to a dozen fields; fastMapResponse the values of its header map
// too.
type fastResponse struct {
	resp     http.Response
	body     lengthBody
	raw      answerHead
	fieldBuf [12]answerField
	h1       h1Body // wrapBody's
}

type fastMapResponse struct {
	fastResponse
	values [12]string
}

// lengthBody reads a Content-Length body: io.ErrUnexpectedEOF when the
// connection ends early, as net/http's body reader.
type lengthBody struct {
	r    *bufio.Reader
	left int64
}

func (b *lengthBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.r.Read(p)
	b.left -= int64(n)
	if err == io.EOF {
		if b.left > 0 {
			return n, io.ErrUnexpectedEOF
		}
		err = nil
	}
	if b.left == 0 && err == nil {
		err = io.EOF
	}
	return n, err
}

func (b *lengthBody) Close() error { return nil }
