package lua

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
)

// TestEveryModuleFunctionIsInTheCorpus is issue 12's "a corpus of test
// scripts exercises every implemented function": each function of every
// registered module (and of the core modules) is called by name in some
// script under testdata/ (the module corpus, the seeds, the hostile cases).
func TestEveryModuleFunctionIsInTheCorpus(t *testing.T) {
	var corpus []byte
	err := filepath.WalkDir("testdata", func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && filepath.Ext(path) == ".lua" {
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			corpus = append(corpus, src...)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	var missing []string
	for _, m := range registeredModules {
		if isTestModule(m) {
			continue
		}
		names := slices.Collect(maps.Keys(m.Functions))
		for _, method := range m.Methods {
			names = append(names, method[strings.IndexByte(method, ':')+1:])
		}
		for _, name := range names {
			// A call or a reference by name: .name, :name, ["name"], 'name'.
			re := regexp.MustCompile(`[.:]` + regexp.QuoteMeta(name) + `\b|["']` + regexp.QuoteMeta(name) + `["']`)
			if !re.Match(corpus) {
				missing = append(missing, m.Name+"."+name)
			}
		}
	}
	sort.Strings(missing)
	for _, name := range missing {
		t.Errorf("%s is called by no script under testdata/", name)
	}
}
