package config

// lua.config.cache_max_memory bounds nauthilus_cache (internal/lua,
// module_cache.go): the one in-memory cache all scripts share. It may
// change on a reload; a smaller bound evicts on the next write.
const (
	DefaultLuaCacheMaxMemory ByteSize = 64 << 20
	MinLuaCacheMaxMemory     ByteSize = 64 << 10
	MaxLuaCacheMaxMemory     ByteSize = 16 << 30
)

func (c *Config) validateLuaCache(errs *Errors) {
	const key = "lua.config.cache_max_memory"
	l := &c.Lua.Config
	_, written := c.Lines[key]
	switch {
	case l.CacheMaxMemory == 0 && !written:
		l.CacheMaxMemory = DefaultLuaCacheMaxMemory
	case l.CacheMaxMemory < MinLuaCacheMaxMemory || l.CacheMaxMemory > MaxLuaCacheMaxMemory:
		errs.Add(key, c.Lines.Line(key), "must be between %s and %s, got %s", MinLuaCacheMaxMemory, MaxLuaCacheMaxMemory, l.CacheMaxMemory)
	}
}
