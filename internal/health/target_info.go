package health

import (
	"net/textproto"
	"sort"
	"time"

	"github.com/backline/backline/internal/probe"
	"github.com/backline/backline/internal/redact"
)

// TargetInfo is what a snapshot tells about a target: its address and
// check settings, never its test password or TLS configuration. Field names
// follow probe.Target so readers did not have to change.
type TargetInfo struct {
	Name     string
	Protocol string
	Host     string
	Port     int

	TLSMode probe.TLSMode
	// ConnectCheck is connect_check in effect: greeting or tcp.
	ConnectCheck   string
	TLSSkipVerify  bool // the operator turned certificate verification off
	HAProxyV2      bool
	HAProxyV2Proxy bool
	// HAProxyV1: the checks send a PROXY v1 header (a gateway backend's
	// proxy_protocol: v1).
	HAProxyV1 bool

	ConnectTimeout time.Duration
	TLSTimeout     time.Duration
	DeepTimeout    time.Duration

	DeepCheck bool
	Username  string // the test user name (not a secret; the password is)
	Mechanism string
	// RequestURI is the http check's request target with its query
	// credentials withheld (?api_key=<redacted>).
	RequestURI string
	// ExpectedStatus and ExpectedText are an http check's expectation;
	// HeaderNames the names (canonical, sorted) of the headers it adds,
	// never their values, which may be credentials. Empty for mail.
	ExpectedStatus []int
	ExpectedText   string
	HeaderNames    []string
	// HeloName is the EHLO/LHLO name of an smtp or lmtp check ("" for
	// the default).
	HeloName string

	// ClientCertSubject and ClientCertNotAfter describe the client
	// certificate the checks present (tls_cert_file); its key is never
	// copied. Empty without one.
	ClientCertSubject  string
	ClientCertNotAfter time.Time
}

// Address is host:port, with IPv6 literals bracketed.
func (t *TargetInfo) Address() string {
	if t == nil {
		return ""
	}
	return (&probe.Target{Host: t.Host, Port: t.Port}).Address()
}

// InfoOf copies the non-secret part of a probe target; nil for nil.
func InfoOf(t *probe.Target) *TargetInfo {
	if t == nil {
		return nil
	}
	info := &TargetInfo{
		Name:           t.Name,
		Protocol:       t.Protocol,
		Host:           t.Host,
		Port:           t.Port,
		TLSMode:        t.TLSMode,
		ConnectCheck:   t.ConnectCheck(),
		TLSSkipVerify:  t.TLSConfig != nil && t.TLSConfig.InsecureSkipVerify,
		HAProxyV2:      t.HAProxyV2,
		HAProxyV2Proxy: t.HAProxyV2Proxy,
		HAProxyV1:      t.HAProxyV1,
		ConnectTimeout: t.ConnectTimeout,
		TLSTimeout:     t.TLSTimeout,
		DeepTimeout:    t.DeepTimeout,
		DeepCheck:      t.DeepCheck,
		Username:       t.Username,
		Mechanism:      t.Mechanism,
		RequestURI:     redact.RequestURI(t.RequestURI),
		HeloName:       t.HeloName,
	}
	if h := t.HTTP; h != nil {
		info.ExpectedStatus = append([]int(nil), h.Statuses...)
		info.ExpectedText = h.Text
		for name := range h.Headers {
			info.HeaderNames = append(info.HeaderNames, textproto.CanonicalMIMEHeaderKey(name))
		}
		sort.Strings(info.HeaderNames)
	}
	if t.TLSConfig != nil && len(t.TLSConfig.Certificates) > 0 && t.TLSConfig.Certificates[0].Leaf != nil {
		leaf := t.TLSConfig.Certificates[0].Leaf
		info.ClientCertSubject, info.ClientCertNotAfter = leaf.Subject.String(), leaf.NotAfter
	}
	return info
}

// DefaultID is a target's backend ID when its group names none: the target's
// name, else protocol://host:port (what config gives an unnamed target).
func DefaultID(t *probe.Target) string {
	if t.Name != "" {
		return t.Name
	}
	return t.Protocol + "://" + t.Address()
}

// TargetLookup gives the parts of targets a snapshot leaves out. Backend
// login needs the full probe target (TLS configuration); redaction needs
// the test passwords. *Engine implements it.
type TargetLookup interface {
	// ProbeTarget returns the probe target of a backend ID. Callers must
	// not modify it (copy it first).
	ProbeTarget(id string) (*probe.Target, bool)
	// TestPasswords lists the distinct non-empty test passwords of every
	// target and the values of tcp send steps marked secret, for
	// redaction only.
	TestPasswords() []string
}

// targetIndex is an immutable ID -> probe target map with the passwords
// precomputed; replaced as a whole by New and Reconfigure.
type targetIndex struct {
	byID      map[string]*probe.Target
	passwords []string
}

func newTargetIndex(ids []string, targets []*probe.Target) *targetIndex {
	ix := &targetIndex{byID: make(map[string]*probe.Target, len(targets))}
	seen := map[string]bool{}
	for i, t := range targets {
		ix.byID[ids[i]] = t
		for _, secret := range t.Secrets() {
			if !seen[secret] {
				seen[secret] = true
				ix.passwords = append(ix.passwords, secret)
			}
		}
	}
	return ix
}

// Static is a fixed Source and TargetLookup, for offline runs and tests.
type Static struct {
	Snap    *Snapshot
	Targets map[string]*probe.Target // by backend ID
}

// NewStatic builds a Static of one group from probe targets and their
// health (healthy[i] for targets[i]; all healthy when healthy is nil).
func NewStatic(group string, targets []*probe.Target, healthy []bool) *Static {
	s := &Static{Snap: &Snapshot{}, Targets: make(map[string]*probe.Target, len(targets))}
	for i, t := range targets {
		ok := healthy == nil || healthy[i]
		b := BackendFor(group, t, ok)
		s.Snap.Backends = append(s.Snap.Backends, b)
		s.Targets[b.ID] = t
	}
	return s
}

// Snapshot implements Source.
func (s *Static) Snapshot() *Snapshot {
	if s == nil {
		return nil
	}
	return s.Snap
}

// ProbeTarget implements TargetLookup.
func (s *Static) ProbeTarget(id string) (*probe.Target, bool) {
	if s == nil {
		return nil, false
	}
	t, ok := s.Targets[id]
	return t, ok
}

// TestPasswords implements TargetLookup.
func (s *Static) TestPasswords() []string {
	if s == nil {
		return nil
	}
	var out []string
	for _, t := range s.Targets {
		out = append(out, t.Secrets()...)
	}
	return out
}

// BackendFor is a snapshot entry for a target with no history: ready, weight
// 1, eligible when healthy. For tests and offline runs.
func BackendFor(group string, t *probe.Target, healthy bool) Backend {
	b := Backend{
		ID:      DefaultID(t),
		Group:   group,
		Weight:  1,
		Target:  InfoOf(t),
		Healthy: healthy,
		Connect: PhaseState{Healthy: healthy},
		Deep:    PhaseState{Healthy: healthy},
		Admin:   defaultAdmin(1),
	}
	b.Eligible, b.Reason = healthy, reasonUnless(healthy, ReasonUnhealthy)
	return b
}
