package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"time"

	"github.com/backline/backline/internal/safefile"
)

// Lua is the lua section: filter scripts and the VM pool that runs them.
type Lua struct {
	Filters []LuaFilter `yaml:"filters"`
	Config  LuaConfig   `yaml:"config"`
}

// LuaFilter is one entry of lua.filters. The when_* flags are pointers so an
// unset flag can be told apart from an explicit false (see Modes).
type LuaFilter struct {
	Name                string `yaml:"name"`
	ScriptPath          string `yaml:"script_path"`
	WhenAuthenticated   *bool  `yaml:"when_authenticated"`
	WhenUnauthenticated *bool  `yaml:"when_unauthenticated"`
	WhenNoAuth          *bool  `yaml:"when_no_auth"`
}

// Modes reports in which request modes the filter runs. With none of the
// three flags set it runs for authenticated and unauthenticated requests but
// not in no-auth mode, as Nauthilus does.
func (f LuaFilter) Modes() (authenticated, unauthenticated, noAuth bool) {
	if f.WhenAuthenticated == nil && f.WhenUnauthenticated == nil && f.WhenNoAuth == nil {
		return true, true, false
	}
	return isTrue(f.WhenAuthenticated), isTrue(f.WhenUnauthenticated), isTrue(f.WhenNoAuth)
}

func isTrue(b *bool) bool { return b != nil && *b }

// LuaConfig is lua.config.
type LuaConfig struct {
	// PackagePath is package.path, replacing gopher-lua's default (and LUA_PATH).
	PackagePath string `yaml:"package_path"`
	// CacheMaxMemory bounds nauthilus_cache, the daemon's one in-memory
	// cache shared by all scripts (lua_cache.go).
	CacheMaxMemory ByteSize `yaml:"cache_max_memory"`
	// VMPoolSize bounds how many Lua states exist at once (shared by all scripts).
	VMPoolSize int `yaml:"vm_pool_size,alias=filter_vm_pool_size"`
	// ScriptTimeout bounds one script run, including waiting for a free state.
	ScriptTimeout time.Duration `yaml:"script_timeout"`
	// PasswordHashWorkers is how many slow password hashes
	// (compare_passwords with bcrypt, SHA-crypt, Argon2) the process
	// computes at once; the rest wait within their script_timeout. 0 (the
	// default) is one per core, at least 2 (DefaultLuaPasswordHashWorkers).
	PasswordHashWorkers int `yaml:"password_hash_workers"`
	// ExposeTestCredentials shows targets' test_password to scripts. Off by
	// default because filters are code operators copy from elsewhere and log
	// freely; the health-check password has no business in a routing decision.
	ExposeTestCredentials bool `yaml:"expose_test_credentials"`
	// Environment lists the variables os.getenv and nauthilus_util.getenv may
	// read; every other name reads as unset. Empty by default: the
	// configuration's ${VAR} secrets live in the same environment.
	Environment []string `yaml:"environment"`
	// MaxMemory is what one script run may allocate in strings and tables;
	// a run over it is stopped (tempfail for that request only).
	MaxMemory ByteSize `yaml:"max_memory"`
	// Module settings, validated in lua_modules.go.
	LuaModuleConfig
	// RedisAllowedAddresses are the servers, besides storage.redis's own,
	// nauthilus_redis's register_redis_pool may connect to (lua_redis.go).
	RedisAllowedAddresses []string `yaml:"redis_allowed_addresses"`
	// RedisPrefix, when set (even to ""), is request.redis_prefix in
	// place of storage.redis.prefix: scripts migrated from Nauthilus keep
	// finding the keys Nauthilus wrote under its prefix while backline's
	// own keys keep theirs. A pointer, because "" is Nauthilus's default
	// and must differ from an absent key.
	RedisPrefix *string `yaml:"redis_prefix"`
	// InitScriptPath (Nauthilus 1.x) and InitScriptPaths are the init
	// scripts, run once at start-up before the daemon serves (lua
	// package, init.go); both may be set, the single one runs first.
	InitScriptPath  string   `yaml:"init_script_path"`
	InitScriptPaths []string `yaml:"init_script_paths"`
}

// InitScript is one init script with the key that names it.
type InitScript struct {
	Key, Path string
}

// InitScripts lists the init scripts in run order: init_script_path, then
// init_script_paths.
func (l LuaConfig) InitScripts() []InitScript {
	var out []InitScript
	if l.InitScriptPath != "" {
		out = append(out, InitScript{Key: "lua.config.init_script_path", Path: l.InitScriptPath})
	}
	for i, p := range l.InitScriptPaths {
		out = append(out, InitScript{Key: fmt.Sprintf("lua.config.init_script_paths[%d]", i), Path: p})
	}
	return out
}

// Lua limits and defaults.
const (
	MaxLuaVMPoolSize          = 1024
	DefaultLuaScriptTimeout   = 30 * time.Second
	MaxLuaScriptTimeout       = 5 * time.Minute
	MaxLuaPasswordHashWorkers = 1024

	DefaultLuaMaxMemory ByteSize = 64 << 20
	MinLuaMaxMemory     ByteSize = 1 << 20
	MaxLuaMaxMemory     ByteSize = 4 << 30
)

// DefaultLuaVMPoolSize is Nauthilus' default of 10, raised on machines with
// many cores so parallel filters do not queue for a state.
func DefaultLuaVMPoolSize() int {
	return min(max(10, 2*runtime.GOMAXPROCS(0)), MaxLuaVMPoolSize)
}

// DefaultLuaPasswordHashWorkers is the number of hash workers when
// lua.config.password_hash_workers is 0: one per core (hashing is pure
// CPU, so more at once only slows each down), at least 2 so one long hash
// does not hold up every other login.
func DefaultLuaPasswordHashWorkers() int { return max(2, runtime.GOMAXPROCS(0)) }

// validateLua checks the lua section and fills in its defaults.
func (c *Config) validateLua(errs *Errors) {
	l := &c.Lua
	seen := map[string]int{}
	for i := range l.Filters {
		f := &l.Filters[i]
		path := fmt.Sprintf("lua.filters[%d]", i)
		if f.Name == "" {
			errs.Add(path+".name", c.Lines.Line(path+".name"), "is required")
		} else if msg := checkName(f.Name); msg != "" {
			errs.Add(path+".name", c.Lines.Line(path+".name"), "%s", msg)
		} else if first, dup := seen[f.Name]; dup {
			errs.Add(path+".name", c.Lines.Line(path+".name"), "filter name %q is already used by lua.filters[%d]", f.Name, first)
		} else {
			seen[f.Name] = i
		}
		if f.ScriptPath == "" {
			errs.Add(path+".script_path", c.Lines.Line(path+".script_path"), "is required")
		} else if err := checkReadable(f.ScriptPath); err != nil {
			errs.Add(path+".script_path", c.Lines.Line(path+".script_path"), "%v", err)
		}
	}

	if _, written := c.Lines["lua.config.init_script_path"]; written && l.Config.InitScriptPath == "" {
		errs.Add("lua.config.init_script_path", c.Lines.Line("lua.config.init_script_path"), "must not be empty")
	}
	for i, p := range l.Config.InitScriptPaths {
		key := fmt.Sprintf("lua.config.init_script_paths[%d]", i)
		if p == "" {
			errs.Add(key, c.Lines.Line(key), "must not be empty")
		}
	}
	for _, s := range l.Config.InitScripts() {
		if s.Path == "" {
			continue
		}
		if err := checkReadable(s.Path); err != nil {
			errs.Add(s.Key, c.Lines.Line(s.Key), "%v", err)
		}
	}

	for i, name := range l.Config.Environment {
		if !validEnvName(name) {
			key := fmt.Sprintf("lua.config.environment[%d]", i)
			errs.Add(key, c.Lines.Line(key), "%q is not an environment variable name (letters, digits and _, not starting with a digit)", name)
		}
	}

	c.validateLuaModules(errs)
	c.validateLuaDB(errs)
	c.validateLuaRedis(errs)
	c.validateLuaRedisPrefix(errs)

	const memKey = "lua.config.max_memory"
	_, memWritten := c.Lines[memKey]
	switch {
	case l.Config.MaxMemory == 0 && !memWritten:
		l.Config.MaxMemory = DefaultLuaMaxMemory
	case l.Config.MaxMemory < MinLuaMaxMemory || l.Config.MaxMemory > MaxLuaMaxMemory:
		errs.Add(memKey, c.Lines.Line(memKey), "must be between %s and %s, got %s", MinLuaMaxMemory, MaxLuaMaxMemory, l.Config.MaxMemory)
	}

	const poolKey, timeoutKey = "lua.config.vm_pool_size", "lua.config.script_timeout"
	_, poolWritten := c.Lines[poolKey]
	switch {
	case l.Config.VMPoolSize == 0 && !poolWritten:
		l.Config.VMPoolSize = DefaultLuaVMPoolSize()
	case l.Config.VMPoolSize < 1 || l.Config.VMPoolSize > MaxLuaVMPoolSize:
		errs.Add(poolKey, c.Lines.Line(poolKey), "must be between 1 and %d, got %d", MaxLuaVMPoolSize, l.Config.VMPoolSize)
	}
	_, timeoutWritten := c.Lines[timeoutKey]
	switch {
	case l.Config.ScriptTimeout == 0 && !timeoutWritten:
		l.Config.ScriptTimeout = DefaultLuaScriptTimeout
	case l.Config.ScriptTimeout <= 0 || l.Config.ScriptTimeout > MaxLuaScriptTimeout:
		errs.Add(timeoutKey, c.Lines.Line(timeoutKey), "must be more than 0 and at most %s, got %s", MaxLuaScriptTimeout, l.Config.ScriptTimeout)
	}
	const hashKey = "lua.config.password_hash_workers"
	if n := l.Config.PasswordHashWorkers; n < 0 || n > MaxLuaPasswordHashWorkers {
		errs.Add(hashKey, c.Lines.Line(hashKey), "must be between 0 (one per core, at least 2) and %d, got %d", MaxLuaPasswordHashWorkers, n)
	}
	c.validateLuaCache(errs)
}

// checkReadable opens the script now so a typo fails at load, not on the
// first login.
func checkReadable(path string) error {
	// Judged by kind before and after the open (a device is never a
	// script); the open does not wait on a FIFO, which would block check
	// and serve until someone writes to it.
	f, _, err := safefile.Open(path, func(st os.FileInfo) error { return scriptFileKind(path, st) })
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			return fmt.Errorf("cannot read script: %w", err)
		}
		return err
	}
	return f.Close()
}

// scriptFileKind refuses what is not a regular file.
func scriptFileKind(path string, st os.FileInfo) error {
	if st.IsDir() {
		return fmt.Errorf("cannot read script: %s is a directory", path)
	}
	if !st.Mode().IsRegular() {
		return fmt.Errorf("cannot read script: %s is not a regular file", path)
	}
	return nil
}

func validEnvName(name string) bool {
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	return name != ""
}
