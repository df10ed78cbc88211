package gateway

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/backline/backline/internal/config"
)

// FuzzOpenAPIRequest: hostile paths, queries, content types and bodies
// give a verdict, never a panic, and a body is never lost.
func FuzzOpenAPIRequest(f *testing.F) {
	doc := filepath.Join(f.TempDir(), "pets.yaml")
	if err := os.WriteFile(doc, []byte(petsDoc), 0o600); err != nil {
		f.Fatal(err)
	}
	d, _, err := config.LoadOpenAPI(doc)
	if err != nil {
		f.Fatal(err)
	}
	v, err := newOpenAPIValidator(&config.BackendOpenAPI{Doc: d, MaxBodySize: 4096})
	if err != nil {
		f.Fatal(err)
	}
	f.Add("POST", "/v1/pets", "", "application/json", []byte(`{"id":1,"name":"x"}`))
	f.Add("GET", "/v1/pets/1", "token=2", "", []byte(nil))
	f.Add("PUT", "/v1/blob", "", "application/octet-stream", []byte("xyz"))
	f.Add("POST", "/v1/pets", "", "application/json; charset=utf-8", []byte(`{"next":{"next":{}}}`))
	f.Add("POST", "/v1/pets", "", "multipart/form-data; boundary=x", []byte("--x\r\n\r\n--x--"))
	f.Fuzz(func(t *testing.T, method, path, query, ctype string, body []byte) {
		u := &url.URL{Scheme: "http", Host: "127.0.0.1", Path: path, RawQuery: query}
		req := &http.Request{Method: method, URL: u, Header: http.Header{}, Body: http.NoBody}
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		if len(body) > 0 {
			req.Body = io.NopCloser(bytes.NewReader(body))
			req.ContentLength = int64(len(body))
		}
		_, gerr := v.checkRequest(context.Background(), req)
		if gerr == nil && len(body) > 0 {
			got, _ := io.ReadAll(req.Body)
			if !bytes.Equal(got, body) {
				t.Fatalf("body changed by validation: %q -> %q", body, got)
			}
		}
	})
}
