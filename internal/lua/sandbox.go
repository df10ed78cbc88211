package lua

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"

	glua "github.com/yuin/gopher-lua"

	"github.com/backline/backline/internal/safefile"
)

// maxPrinted bounds the text of one print call in the log.
const maxPrinted = 4096

// maxLoadedFile bounds a file read by loadfile, dofile or require.
const maxLoadedFile = 4 << 20

const outsidePaths = "is outside the Lua script and package paths"

// fileAccess is where scripts may load code from: the directories of the
// configured scripts and the directories of package_path's templates. It
// grows when a password script is added.
type fileAccess struct {
	mu    sync.RWMutex
	roots []string
}

// addScript allows the directory holding a configured script.
func (f *fileAccess) addScript(path string) { f.addDir(filepath.Dir(path)) }

// addPackagePath allows the directory of each template of a package.path
// string: "/etc/backline/lua/?.lua" allows /etc/backline/lua.
func (f *fileAccess) addPackagePath(path string) {
	for _, tmpl := range strings.Split(path, ";") {
		if tmpl = strings.TrimSpace(tmpl); tmpl == "" {
			continue
		}
		prefix, _, _ := strings.Cut(tmpl, "?")
		if strings.HasSuffix(prefix, "/") {
			f.addDir(prefix)
		} else {
			f.addDir(filepath.Dir(prefix))
		}
	}
}

func (f *fileAccess) addDir(dir string) {
	dir = resolvePath(dir)
	if dir == string(filepath.Separator) {
		// The root would open the whole file system. It is what a relative
		// template such as "./?.lua" becomes under systemd, whose working
		// directory is "/", while `check` from a shell saw another one.
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, r := range f.roots {
		if r == dir {
			return
		}
	}
	f.roots = append(f.roots, dir)
}

// resolvePath makes path absolute, clean and free of symbolic links where
// it exists, so "/allowed/link -> /etc" does not open /etc.
func resolvePath(path string) string {
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	if real, err := filepath.EvalSymlinks(path); err == nil {
		return real
	}
	return filepath.Clean(path)
}

func (f *fileAccess) allowed(path string) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, r := range f.roots {
		if path == r || strings.HasPrefix(path, r+string(filepath.Separator)) {
			return true
		}
	}
	return false
}

// load reads and compiles a file a script asked for. Errors name the file
// and a line, never its text: loadfile("/etc/shadow") must not print a hash.
func (f *fileAccess) load(path string) (*glua.FunctionProto, error) {
	shown := clipPath(path)
	real := resolvePath(path)
	if !f.allowed(real) {
		return nil, fmt.Errorf("%s %s", shown, outsidePaths)
	}
	src, err := readScriptFile(real, shown, false)
	if err != nil {
		return nil, err
	}
	return compileSource(src, path, false)
}

// readScriptFile reads a regular file of at most maxLoadedFile bytes; shown
// names it in errors, which quote the OS error's reason only with osReason
// (the operator's configured scripts, not files a script asks for). The type is
// checked before opening: opening a FIFO waits for a writer (inside a
// native call, so a state would never come back to the pool; in check and
// serve, for good), /dev/zero never ends, and opening a device can have
// effects of its own. Opening non-blocking and checking again covers a file
// swapped in between.
func readScriptFile(path, shown string, osReason bool) ([]byte, error) {
	reason := func(err error) string {
		var pe *fs.PathError
		if osReason && errors.As(err, &pe) {
			return ": " + pe.Err.Error()
		}
		return ""
	}
	errKind := fmt.Errorf("cannot open %s: not a regular file", shown)
	file, _, err := safefile.Open(path, func(st fs.FileInfo) error {
		if !st.Mode().IsRegular() {
			return errKind
		}
		return nil
	})
	if err == errKind {
		return nil, err
	} else if err != nil {
		return nil, fmt.Errorf("cannot open %s%s", shown, reason(err))
	}
	defer file.Close()
	src, err := io.ReadAll(io.LimitReader(file, maxLoadedFile+1))
	if err != nil {
		return nil, fmt.Errorf("cannot read %s", shown)
	}
	if len(src) > maxLoadedFile {
		return nil, fmt.Errorf("%s is larger than %d bytes", shown, maxLoadedFile)
	}
	return src, nil
}

// installSandbox replaces the base and package functions that reach the
// file system, the environment or the whole process.
func (v *vm) installSandbox(e *Engine) {
	L := v.L
	g := v.globals
	g.RawSetString("loadfile", L.NewFunction(func(L *glua.LState) int {
		fn, err := v.loadFile(e, L)
		if err != nil {
			L.Push(glua.LNil)
			L.Push(glua.LString(err.Error()))
			return 2
		}
		L.Push(fn)
		return 1
	}))
	g.RawSetString("dofile", L.NewFunction(func(L *glua.LState) int {
		fn, err := v.loadFile(e, L)
		if err != nil {
			L.RaiseError("dofile: %v", err)
		}
		top := L.GetTop()
		L.Push(fn)
		L.Call(0, glua.MultRet)
		return L.GetTop() - top
	}))
	g.RawSetString("loadstring", L.NewFunction(func(L *glua.LState) int {
		return v.pushChunk(L, []byte(L.CheckString(1)), L.OptString(2, "<string>"))
	}))
	g.RawSetString("load", L.NewFunction(func(L *glua.LState) int {
		reader := L.CheckFunction(1)
		name := L.OptString(2, "=(load)")
		var src []byte
		for {
			L.Push(reader)
			L.Call(0, 1)
			piece := L.Get(-1)
			L.Pop(1)
			s, ok := piece.(glua.LString)
			if piece == glua.LNil || ok && s == "" {
				break
			}
			if !ok {
				L.Push(glua.LNil)
				L.Push(glua.LString("reader function must return a string"))
				return 2
			}
			v.charge(L, int64(len(src)+len(s)))
			src = append(src, s...)
		}
		return v.pushChunk(L, src, name)
	}))
	// print wrote to the daemon's stdout (the journal) as it was, past the
	// password redaction of nauthilus_util.log_*: it is a log line now.
	g.RawSetString("print", L.NewFunction(func(L *glua.LState) int {
		if v.run == nil {
			return 0
		}
		var b strings.Builder
		for i := 1; i <= L.GetTop() && b.Len() < maxPrinted; i++ {
			if i > 1 {
				b.WriteByte('\t')
			}
			// Scrubbed before it is cut (a cut password would keep its
			// start), after a first cut that leaves room for any password.
			part := L.ToStringMeta(L.Get(i)).String()
			part = v.run.redact(part[:min(len(part), 2*maxPrinted)])
			b.WriteString(part[:min(len(part), maxPrinted+1-b.Len())])
		}
		text := b.String()
		if len(text) > maxPrinted {
			text = text[:maxPrinted] + "…"
		}
		v.run.log(slog.LevelInfo, glua.LString(text), glua.LNil)
		return 0
	}))
	// collectgarbage would run a full collection of the whole process per
	// call; the Go runtime collects on its own.
	g.RawSetString("collectgarbage", L.NewFunction(func(L *glua.LState) int {
		L.Push(glua.LNumber(0))
		return 1
	}))

	if pkg, ok := g.RawGetString("package").(*glua.LTable); ok {
		pkg.RawSetString("loadlib", glua.LNil)
		pkg.RawSetString("cpath", glua.LString(""))
		if loaders, ok := pkg.RawGetString("loaders").(*glua.LTable); ok {
			// [1] stays package.preload; [2] was the unconfined file loader.
			loaders.RawSetInt(2, L.NewFunction(func(L *glua.LState) int { return v.requireFile(e, L) }))
			loaders.RawSetInt(3, L.NewFunction(explainAbsentModule))
		}
	}
	if osLib, ok := g.RawGetString("os").(*glua.LTable); ok {
		osLib.RawSetString("getenv", L.NewFunction(func(L *glua.LState) int {
			if val, ok := e.lookupEnv(L.CheckString(1)); ok {
				L.Push(glua.LString(val))
			} else {
				L.Push(glua.LNil)
			}
			return 1
		}))
	}
}

// lookupEnv reads a variable only if lua.config.environment lists it.
func (e *Engine) lookupEnv(name string) (string, bool) {
	for _, allowed := range e.cfg.Config.Environment {
		if name == allowed {
			return os.LookupEnv(name)
		}
	}
	return "", false
}

func (v *vm) loadFile(e *Engine, L *glua.LState) (*glua.LFunction, error) {
	if L.GetTop() < 1 || L.Get(1) == glua.LNil {
		return nil, errors.New("loadfile needs a file name (standard input is not read)")
	}
	proto, err := e.files.load(L.CheckString(1))
	if err != nil {
		return nil, err
	}
	return v.chunkFunction(proto), nil
}

// pushChunk compiles source text a script handed over. Its own text may
// appear in the error; binary chunks are refused.
func (v *vm) pushChunk(L *glua.LState, src []byte, name string) int {
	proto, err := compileSource(src, name, true)
	if err != nil {
		L.Push(glua.LNil)
		L.Push(glua.LString(err.Error()))
		return 2
	}
	L.Push(v.chunkFunction(proto))
	return 1
}

// chunkFunction runs loaded code in the run's environment, so its globals
// vanish with the request instead of reaching the shared globals.
func (v *vm) chunkFunction(proto *glua.FunctionProto) *glua.LFunction {
	fn := v.L.NewFunctionFromProto(proto)
	if v.env != nil {
		fn.Env = v.env
	}
	return fn
}

// maxModuleProtos bounds the compiled modules a state keeps (a script
// changing package.path could otherwise add entries without end).
const maxModuleProtos = 64

// requireFile is package.loaders[2]: package.path search, confined to the
// allowed directories. A module is run per request, in the request's
// environment, and dropped from package.loaded when the run ends, so a
// script cannot change it (or its globals) for the next request; its code
// is compiled once per state.
func (v *vm) requireFile(e *Engine, L *glua.LState) int {
	name := L.CheckString(1)
	path := ""
	if pkg, ok := v.globals.RawGetString("package").(*glua.LTable); ok {
		if s, ok := pkg.RawGetString("path").(glua.LString); ok {
			path = string(s)
		}
	}
	key := name + "\x00" + path
	if proto, ok := v.moduleProtos[key]; ok {
		v.fileModules = append(v.fileModules, name)
		L.Push(v.chunkFunction(proto))
		return 1
	}
	file := strings.ReplaceAll(name, ".", string(filepath.Separator))
	var tried []string
	for _, tmpl := range strings.Split(path, ";") {
		if tmpl == "" {
			continue
		}
		candidate := strings.ReplaceAll(tmpl, "?", file)
		real := resolvePath(candidate)
		if !e.files.allowed(real) {
			tried = append(tried, fmt.Sprintf("no file '%s' (%s)", clipPath(candidate), outsidePaths))
			continue
		}
		if _, err := os.Stat(real); err != nil {
			tried = append(tried, fmt.Sprintf("no file '%s'", clipPath(candidate)))
			continue
		}
		proto, err := e.files.load(candidate)
		if err != nil {
			L.RaiseError("error loading module '%s': %v", clip(name), err)
		}
		if v.moduleProtos == nil {
			v.moduleProtos = map[string]*glua.FunctionProto{}
		}
		if len(v.moduleProtos) < maxModuleProtos {
			v.moduleProtos[key] = proto
		}
		v.fileModules = append(v.fileModules, name)
		L.Push(v.chunkFunction(proto))
		return 1
	}
	L.Push(glua.LString(strings.Join(tried, "\n\t")))
	return 1
}

// forgetFileModules drops the modules this run loaded from files.
func (v *vm) forgetFileModules() {
	for _, name := range v.fileModules {
		v.loaded.RawSetString(name, glua.LNil)
	}
	v.fileModules = v.fileModules[:0]
}
