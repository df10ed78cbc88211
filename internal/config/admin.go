package config

import (
	"path/filepath"
	"strings"
	"time"
)

// MaxTargetWeight is the largest targets[].weight (HAProxy's 256).
const MaxTargetWeight = 256

// MaxShutdownDelay bounds server.shutdown_delay: longer only delays
// restarts; load balancers check far more often.
const MaxShutdownDelay = 60 * time.Second

// validateAdminKeys checks server.state_file and server.shutdown_delay.
func (v *validator) validateAdminKeys() {
	s := &v.c.Server
	if s.ShutdownDelay < 0 || s.ShutdownDelay > MaxShutdownDelay {
		v.add("server.shutdown_delay", "must be 0..%s, got %s", formatDuration(MaxShutdownDelay), s.ShutdownDelay)
	}
	if s.StateFile == "" {
		if v.written["server.state_file"] {
			v.add("server.state_file", "must not be empty (leave the key out for the default)")
		}
		return
	}
	switch {
	case strings.ContainsAny(s.StateFile, "\x00\r\n"):
		v.add("server.state_file", "must not contain NUL or line breaks")
	case !filepath.IsAbs(s.StateFile):
		v.add("server.state_file", "must be an absolute path, got %q", s.StateFile)
	case strings.HasSuffix(s.StateFile, "/"):
		v.add("server.state_file", "must name a file, not a directory: %q", s.StateFile)
	}
}

// validateWeight checks targets[].weight: 0..256 when written.
func (v *validator) validateWeight(key func(string) string, t *Target) {
	if t.Weight == nil {
		if v.written[key("weight")] {
			v.add(key("weight"), "must be a number 0..%d (leave the key out for 1)", MaxTargetWeight)
		}
		return
	}
	if w := *t.Weight; w < 0 || w > MaxTargetWeight {
		v.add(key("weight"), "must be 0..%d, got %d", MaxTargetWeight, w)
	}
}
