package server

import (
	"strings"
	"testing"
	"unicode"

	"github.com/backline/backline/internal/health"
)

// FuzzDecodeAdminChange: any body either fails with a short printable
// error or yields a change within the documented limits.
func FuzzDecodeAdminChange(f *testing.F) {
	for _, s := range []string{`{"state":"drain","weight":50,"ttl":"30m","why":"disk swap"}`, `{}`, `{"weight":256}`,
		`{"why":"\u0000"}`, `{"ttl":"30d"}`, `{"a":1,"a":2}`, `[`, `{"weight":1e9}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		ch, err := decodeAdminChange(body)
		if err != nil {
			msg := err.Error()
			if len(msg) > 300 || strings.IndexFunc(msg, unicode.IsControl) >= 0 {
				t.Fatalf("error message %q", msg)
			}
			return
		}
		if ch.Weight != nil && (*ch.Weight < 0 || *ch.Weight > health.MaxWeight) {
			t.Fatalf("weight %d", *ch.Weight)
		}
		if ch.TTL != 0 && (ch.TTL < minAdminTTL || ch.TTL > maxAdminTTL) {
			t.Fatalf("ttl %v", ch.TTL)
		}
		if ch.Why != nil && health.CheckAdminText("why", *ch.Why, health.MaxWhyLen) != nil {
			t.Fatalf("why %q", *ch.Why)
		}
		if health.CheckAdminText("who", ch.Who, 128) != nil {
			t.Fatalf("who %q", ch.Who)
		}
	})
}
