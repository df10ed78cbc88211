package auth

import (
	"net/http/httptest"
	"testing"

	"github.com/backline/backline/internal/config"
)

// BenchmarkNginxCached is the in-process cost of a cached nginx answer
// with the Lua routing filter (compare with BenchmarkBare).
func BenchmarkNginxCached(b *testing.B) {
	env := newLuaEnv(b, func(c *config.Config) {
		c.Auth.Passdb[0].Path = writePasswdB(b, "user:{PLAIN}"+testPassword)
	}, "route_by_suffix.lua")
	r := nginxRequest("user", testPassword, "imap", "1")
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		r.Header.Set("Auth-Pass", testPassword)
		env.mux.ServeHTTP(w, r)
		if w.Header().Get("Auth-Status") != "OK" {
			b.Fatal(w.Header())
		}
	}
}
