package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/backline/backline/internal/probe"
)

// probeReport is the --json output of `backline probe`.
type probeReport struct {
	Target       string       `json:"target"`
	Phase        string       `json:"phase"`
	OK           bool         `json:"ok"`
	Reason       string       `json:"reason,omitempty"`
	Error        string       `json:"error,omitempty"`
	DurationMS   float64      `json:"duration_ms"`
	Steps        []stepReport `json:"steps"`
	Transcript   []string     `json:"transcript"`
	CertNotAfter *time.Time   `json:"cert_not_after,omitempty"`
	Mechanism    string       `json:"mechanism,omitempty"`
	// Group is the health group (probe --all only).
	Group       string `json:"group,omitempty"`
	RemoteAddr  string `json:"remote_addr,omitempty"`
	TLSVersion  string `json:"tls_version,omitempty"`
	TLSCipher   string `json:"tls_cipher,omitempty"`
	CertSubject string `json:"cert_subject,omitempty"`
	CertIssuer  string `json:"cert_issuer,omitempty"`
	// Agent: the target's agent check, asked once (probe_agent.go).
	Agent *agentReport `json:"agent,omitempty"`
}

type stepReport struct {
	Name       string  `json:"name"`
	DurationMS float64 `json:"duration_ms"`
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

func targetLabel(t *probe.Target) string {
	if t.Name != "" {
		return t.Name
	}
	return t.Protocol + "://" + t.Address()
}

func writeJSONValue(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func newProbeReport(t *probe.Target, res probe.Result) probeReport {
	r := probeReport{
		Target:     targetLabel(t),
		Phase:      string(res.Phase),
		OK:         res.OK,
		Reason:     string(res.Reason),
		DurationMS: ms(res.Duration),
		Steps:      make([]stepReport, 0, len(res.Steps)),
		Transcript: res.Transcript,
		Mechanism:  res.Mechanism,
		RemoteAddr: res.RemoteAddr, TLSVersion: res.TLSVersion, TLSCipher: res.TLSCipher,
		CertSubject: res.CertSubject, CertIssuer: res.CertIssuer,
	}
	if r.Transcript == nil {
		r.Transcript = []string{}
	}
	if res.Err != nil {
		r.Error = res.Err.Error()
	}
	for _, s := range res.Steps {
		r.Steps = append(r.Steps, stepReport{Name: s.Name, DurationMS: ms(s.Duration)})
	}
	if !res.CertNotAfter.IsZero() {
		u := res.CertNotAfter.UTC()
		r.CertNotAfter = &u
	}
	return r
}

func writeProbeText(w io.Writer, t *probe.Target, res probe.Result) {
	extras := []string{"tls " + string(t.TLSMode)}
	if t.HAProxyV2 {
		cmd := "LOCAL"
		if t.HAProxyV2Proxy {
			cmd = "PROXY"
		}
		extras = append(extras, "PROXY v2 "+cmd)
	}
	fmt.Fprintf(w, "%s check of %s (%s)\n", res.Phase, targetLabel(t), strings.Join(extras, ", "))
	if len(res.Steps) > 0 {
		fmt.Fprintln(w, "\nsteps:")
		for _, s := range res.Steps {
			fmt.Fprintf(w, "  %-14s %10.3f ms\n", s.Name, ms(s.Duration))
		}
	}
	if len(res.Transcript) > 0 {
		fmt.Fprintln(w, "\ntranscript:")
		for _, line := range res.Transcript {
			fmt.Fprintf(w, "  %s\n", line)
		}
	}
	fmt.Fprintln(w)
	if res.OK {
		fmt.Fprintf(w, "result: healthy in %.3f ms", ms(res.Duration))
	} else {
		fmt.Fprintf(w, "result: UNHEALTHY after %.3f ms (%s): %v", ms(res.Duration), res.Reason, res.Err)
	}
	if res.Mechanism != "" {
		fmt.Fprintf(w, ", mechanism %s", res.Mechanism)
	}
	if !res.CertNotAfter.IsZero() {
		fmt.Fprintf(w, ", certificate valid until %s", res.CertNotAfter.UTC().Format(time.RFC3339))
	}
	fmt.Fprintln(w)
}
