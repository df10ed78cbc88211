package lua

import (
	"crypto/md5"
	"encoding/hex"
	"strings"

	glua "github.com/yuin/gopher-lua"
)

// nauthilus_keys (spec nauthilus-lua-modules §4.9): Nauthilus ships it as a
// Lua file; backline builds it in, written from the spec. account_tag gives
// the Redis Cluster hash tag that keeps one account's keys in one slot.
//
// Its two environment variables are read like nauthilus_util.getenv reads
// them: only when lua.config.environment lists them, else the defaults
// (tags on, prefix "acm-").

func init() {
	registerModule(module{
		Name: "nauthilus_keys", Filter: true, Password: true, NotGlobal: true,
		Functions: map[string]runFunc{"account_tag": accountTag},
	})
}

// accountTag is account_tag(username) -> "{<prefix><md5hex(username)>}",
// or "" for an empty username or when USE_KEY_HASHTAGS is false.
func accountTag(r *scriptRun, L *glua.LState) int {
	username := L.OptString(1, "")
	if username == "" || !r.envBool("USE_KEY_HASHTAGS", true) {
		L.Push(glua.LString(""))
		return 1
	}
	prefix := "acm-"
	if v, ok := r.engine.lookupEnv("KEY_HASHTAG_PREFIX"); ok && v != "" {
		prefix = v
	}
	sum := md5.Sum([]byte(username))
	L.Push(glua.LString("{" + prefix + hex.EncodeToString(sum[:]) + "}"))
	return 1
}

// envBool reads an allowed environment variable as nauthilus_util's
// toboolean does; unset or empty gives def.
func (r *scriptRun) envBool(name string, def bool) bool {
	v, ok := r.engine.lookupEnv(name)
	if !ok || strings.TrimSpace(v) == "" {
		return def
	}
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "true", "1", "yes", "on", "y":
		return true
	}
	return false
}
