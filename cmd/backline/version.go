package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// version is set at build time: go build -ldflags "-X main.version=v1.2.3".
var version string

// versionString is the -ldflags version, else the module version and VCS
// revision recorded by the Go toolchain.
func versionString() string {
	if version != "" {
		return version
	}
	v := "(devel)"
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if info.Main.Version != "" {
		v = info.Main.Version
	}
	var rev, modified string
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v += " " + rev + modified
	}
	return v
}

func runVersion(stdout io.Writer) int {
	fmt.Fprintf(stdout, "backline %s %s %s/%s\n", versionString(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return exitOK
}

// buildInfo is backline_build_info{version, revision, goversion} 1, so
// dashboards can show which build each instance runs and alerts can tell
// a mixed fleet (node_exporter and Prometheus export the same shape).
func buildInfo() prometheus.Collector {
	ver, rev := version, ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if ver == "" {
			ver = info.Main.Version
		}
		for _, s := range info.Settings {
			if s.Key == "vcs.revision" {
				rev = s.Value
			}
		}
	}
	if ver == "" {
		ver = "(devel)"
	}
	return prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name:        "backline_build_info",
		Help:        "Always 1; the labels say which build of backline runs.",
		ConstLabels: prometheus.Labels{"version": ver, "revision": rev, "goversion": runtime.Version()},
	}, func() float64 { return 1 })
}
