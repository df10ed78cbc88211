package config

import "fmt"

// backupWarnings: backup only orders targets against targets that are not
// backups. When every mail target of a protocol (or every origin of a
// backend) is a backup, none is held back and the flag does nothing; legal
// (a half-written failover plan), but most likely a slip, so the warning
// names the remedy as well as the effect.
func (c *Config) backupWarnings(warn func(path, format string, args ...any)) {
	type tally struct{ first, all, backups int }
	var order []string
	byProto := map[string]*tally{}
	for i, t := range c.Auth.Services.BackendHealthChecks.Targets {
		n := byProto[t.Protocol]
		if n == nil {
			n = &tally{first: i}
			byProto[t.Protocol] = n
			order = append(order, t.Protocol)
		}
		n.all++
		if t.Backup {
			n.backups++
		}
	}
	for _, proto := range order {
		if n := byProto[proto]; n.backups == n.all {
			warn(fmt.Sprintf("%s.targets[%d].backup", healthChecksPath, n.first),
				"every %s target is a backup: with no primary to prefer, backup changes nothing and they share logins as ordinary targets; set backup: false on one, or add a primary %s target", proto, proto)
		}
	}
	// Inline backends may list origins as definitions do (eachBackend).
	c.eachBackend(func(path string, b *Backend) {
		if len(b.Origins) == 0 {
			return
		}
		backups := 0
		for _, o := range b.Origins {
			if o.Backup {
				backups++
			}
		}
		if backups == len(b.Origins) {
			warn(path+".origins[0].backup",
				"every origin is a backup: with no primary to prefer, backup changes nothing and they share requests as ordinary origins; set backup: false on one, or add a primary origin")
		}
	})
}
