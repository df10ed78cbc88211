package lua

import (
	"strings"
	"testing"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/probe"
)

// An http check's request_uri can carry an API key (?api_key=…). A filter
// sees it, and may log it with custom_log_add, only with
// lua.config.expose_test_credentials, as the test password.
func TestReviewRequestURIKeyOnlyWithExposeTestCredentials(t *testing.T) {
	src := `
function nauthilus_call_filter(r)
  for _, s in ipairs(nauthilus_backend.get_backend_servers()) do
    nauthilus_builtin.custom_log_add(s.name, s.request_uri)
  end
  ` + acceptReturn + `
end`
	web := target("web", "10.0.0.7", 443)
	web.Protocol, web.DeepCheck, web.RequestURI = "http", true, "/healthz?api_key=K3yS3cr3t&verbose=1"
	fixture := func() StaticSource {
		s := snapshotOf(mail(web, true))
		s.Targets = map[string]*probe.Target{"web": web}
		return s
	}
	for _, c := range []struct {
		expose bool
		want   string
	}{
		{false, "/healthz?api_key=<redacted>&verbose=1"},
		{true, "/healthz?api_key=K3yS3cr3t&verbose=1"},
	} {
		out, err, _ := runOne(t, src, engineSetup{health: fixture(), cfg: config.LuaConfig{ExposeTestCredentials: c.expose}})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Logs) != 1 || out.Logs[0].Value != c.want {
			t.Errorf("expose=%v: logs %v, want request_uri %q", c.expose, out.Logs, c.want)
		}
		if !c.expose && strings.Contains(out.Logs[0].Value.(string), "K3yS3cr3t") {
			t.Errorf("the key reached the script without expose_test_credentials")
		}
	}
}
