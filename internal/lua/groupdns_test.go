package lua

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/backline/backline/internal/config"
)

// group_dns is groups' twin for the groups' distinguished names: set,
// read back sorted/unique/trimmed, merged by apply_backend_result and seen
// in get_current_backend_result and the filter outcome.
func TestGroupDNsRoundTripAndMerge(t *testing.T) {
	src := `
function nauthilus_call_filter(request)
  local b = nauthilus_backend_result.new()
  if #b:group_dns() ~= 0 then error("new result has group_dns") end
  b:group_dns({" cn=b,ou=groups,dc=example ", "cn=a,ou=groups,dc=example", "cn=a,ou=groups,dc=example", ""})
  local got = b:group_dns()
  if #got ~= 2 or got[1] ~= "cn=a,ou=groups,dc=example" or got[2] ~= "cn=b,ou=groups,dc=example" then
    error("group_dns read back " .. table.concat(got, "|"))
  end
  nauthilus_backend.apply_backend_result(b)
  local c = nauthilus_backend_result.new()
  c:group_dns({"cn=c,ou=groups,dc=example"})
  c:groups({"staff"})
  nauthilus_backend.apply_backend_result(c)
  local cur = nauthilus_backend.get_current_backend_result():group_dns()
  if #cur ~= 3 then error("current has " .. #cur) end
  local ok = pcall(function() b:group_dns("not a table") end)
  if ok then error("a string was accepted") end
  return nauthilus_builtin.FILTER_ACCEPT, nauthilus_builtin.FILTER_RESULT_OK
end`
	e, _ := newEngine(t, engineSetup{filters: []config.LuaFilter{filter(t, "dns", src)}})
	out, err := e.RunFilters(context.Background(), &Request{Username: "u", Authenticated: true})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"cn=a,ou=groups,dc=example", "cn=b,ou=groups,dc=example", "cn=c,ou=groups,dc=example"}
	if diff := cmp.Diff(want, out.GroupDNs); diff != "" {
		t.Fatalf("GroupDNs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"staff"}, out.Groups); diff != "" {
		t.Fatalf("Groups (-want +got):\n%s", diff)
	}
}

func TestGroupDNsModuleScript(t *testing.T) {
	e, logs := newEngine(t, engineSetup{filters: []config.LuaFilter{
		{Name: "group_dns", ScriptPath: modulesScript(t, "result_group_dns.lua")},
	}})
	out, err := e.RunFilters(context.Background(), &Request{Username: "u"})
	if err != nil {
		t.Fatalf("%v\n%s", err, logs)
	}
	if len(out.GroupDNs) != 3 {
		t.Fatalf("GroupDNs %v", out.GroupDNs)
	}
}
