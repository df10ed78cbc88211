package config

import (
	"testing"
	"time"
)

func TestAuthNginxSticky(t *testing.T) {
	c := mustParse(t, "auth:\n  nginx:\n    default_policy: sticky\n    affinity_ttl: 1h\n")
	if n := c.Auth.Nginx; n.EffectiveDefaultPolicy() != PolicySticky || n.EffectiveAffinityTTL() != time.Hour {
		t.Errorf("nginx = %+v", n)
	}
	if ttl := mustParse(t, "auth: {}\n").Auth.Nginx.EffectiveAffinityTTL(); ttl != 15*time.Minute {
		t.Errorf("default affinity_ttl = %s", ttl)
	}
	wantOnlyError(t, "auth:\n  nginx:\n    affinity_ttl: 0\n",
		"auth.nginx.affinity_ttl (line 3): must be between 1s and 720h, got 0s")
	wantOnlyError(t, "auth:\n  nginx:\n    default_policy: sticky\n    affinity_ttl: 800h\n",
		"auth.nginx.affinity_ttl (line 4): must be between 1s and 720h, got 800h0m0s")
	wantOnlyError(t, "auth:\n  nginx:\n    affinity_ttl: -5s\n",
		`auth.nginx.affinity_ttl (line 3): duration "-5s" must not be negative`)
}
