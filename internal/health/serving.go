package health

import "slices"

// Serving returns the eligible backends of a group that are in service
// now, optionally of one protocol ("" for all), in configuration order:
// for each protocol, its eligible primaries (backends without Backup), or,
// while none of them is eligible, its eligible backups. This is the mail
// failover rule (HAProxy's backup servers with option allbackups) that the
// auth policy's tiers follow, asked of each backend's one eligibility
// answer (Backend.Eligible), so a routing script is offered what the
// policy would choose from. Mail targets fail over per protocol: an IMAP
// backup does not stand in for an SMTP primary. Gateway origins fail over
// per backend and by admission (gateway/origins.go), which this does not
// model.
func (s *Snapshot) Serving(group, protocol string) []Backend {
	if s == nil {
		return nil
	}
	// The protocols with an eligible primary. A handful at most (one per
	// mail protocol), so a slice beats a map.
	var primaryUp []string
	for i := range s.Backends {
		b := &s.Backends[i]
		if b.Eligible && !b.Backup && b.Group == group && b.Target != nil && (protocol == "" || b.Target.Protocol == protocol) && !slices.Contains(primaryUp, b.Target.Protocol) {
			primaryUp = append(primaryUp, b.Target.Protocol)
		}
	}
	out := make([]Backend, 0, len(s.Backends))
	for i := range s.Backends {
		b := &s.Backends[i]
		if !b.Eligible || b.Group != group || b.Target == nil || (protocol != "" && b.Target.Protocol != protocol) {
			continue
		}
		if b.Backup && slices.Contains(primaryUp, b.Target.Protocol) {
			continue
		}
		out = append(out, *b)
	}
	return out
}
