package server

import (
	"fmt"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/health"
	"github.com/backline/backline/internal/probe"
)

// MailGroup turns auth.services.backend_health_checks of a loaded (defaulted
// and validated) configuration into the health group of the mail targets.
// It reads the CA files of the targets, so it can fail; the error names the
// target's key path.
func MailGroup(hc config.HealthChecks) (health.Group, error) {
	g := health.Group{
		Name:              health.GroupMail,
		ConnectInterval:   hc.ConnectInterval,
		DeepInterval:      hc.DeepInterval,
		FailureThreshold:  hc.FailureThreshold,
		RecoveryThreshold: hc.RecoveryThreshold,
		InitialHealthy:    hc.InitialState != config.InitialUnhealthy,
		Jitter:            hc.Jitter,
		FastInterval:      hc.FastInterval,
		DownInterval:      hc.DownInterval,
		Targets:           make([]*probe.Target, 0, len(hc.Targets)),
		Weights:           make([]int, 0, len(hc.Targets)),
		Backups:           make([]bool, 0, len(hc.Targets)),
	}
	if g.DeepInterval == 0 {
		g.DeepInterval = g.ConnectInterval
	}
	for i := range hc.Targets {
		t, err := probe.NewTarget(&hc.Targets[i])
		if err != nil {
			return health.Group{}, fmt.Errorf("auth.services.backend_health_checks.targets[%d]: %w", i, err)
		}
		g.Targets = append(g.Targets, t)
		g.Weights = append(g.Weights, hc.Targets[i].EffectiveWeight())
		g.Backups = append(g.Backups, hc.Targets[i].Backup)
	}
	return g, nil
}
