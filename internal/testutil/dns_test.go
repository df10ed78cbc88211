package testutil

import (
	"context"
	"net/netip"
	"slices"
	"testing"
)

func TestResolverAnswersFromZone(t *testing.T) {
	r := Resolver(map[string][]netip.Addr{
		"mail.backline.test": {netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1"), netip.MustParseAddr("::1")},
	})
	got, err := r.LookupNetIP(context.Background(), "ip4", "MAIL.backline.test.")
	if err != nil {
		t.Fatal(err)
	}
	if want := []netip.Addr{netip.MustParseAddr("127.0.0.2"), netip.MustParseAddr("127.0.0.1")}; !slices.Equal(got, want) {
		t.Errorf("ip4: %v, want %v", got, want)
	}
	if got, err := r.LookupNetIP(context.Background(), "ip6", "mail.backline.test."); err != nil || len(got) != 1 || got[0] != netip.MustParseAddr("::1") {
		t.Errorf("ip6: %v %v", got, err)
	}
	if _, err := r.LookupNetIP(context.Background(), "ip", "other.backline.test."); err == nil {
		t.Error("an unknown name resolved")
	}
}
