package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
)

// The JSON shapes of the API (see docs/operations.md). Fields that an older
// daemon does not send stay nil, and the output says "-" for them.

type ctlAdmin struct {
	ID           string   `json:"id"`
	State        string   `json:"state"`
	Weight       *int     `json:"weight"`
	Health       string   `json:"health"`
	ChecksPaused bool     `json:"checks_paused"`
	Who          string   `json:"who"`
	Why          string   `json:"why"`
	Since        *ctlTime `json:"since"`
	Until        *ctlTime `json:"until"`
	Source       string   `json:"source"`
}

type ctlPhase struct {
	Healthy    bool     `json:"healthy"`
	LastCheck  *ctlTime `json:"last_check"`
	LastError  string   `json:"last_error"`
	LastReason string   `json:"last_reason"`
	LatencyMS  float64  `json:"latency_ms"`
}

type ctlBackend struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Group    string `json:"group"`
	Protocol string `json:"protocol"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Healthy  bool   `json:"healthy"`
	Eligible *bool  `json:"eligible"`
	Reason   string `json:"reason"`
	Draining bool   `json:"draining"` // false from daemons before the field
	// CheckDrainStatus and CheckDrainSince: reason check_drain's answer
	// and start (absent from daemons before drain_on_status).
	CheckDrainStatus int       `json:"check_drain_status"`
	CheckDrainSince  *ctlTime  `json:"check_drain_since"`
	Weight           *int      `json:"weight"`
	Backup           bool      `json:"backup"`
	Admin            *ctlAdmin `json:"admin"`
	Since            *ctlTime  `json:"since"`
	DeepCheck        bool      `json:"deep_check"`
	TLSMode          string    `json:"tls_mode"`
	ConnectCheck     string    `json:"connect_check"` // empty from daemons before the field
	Connect          ctlPhase  `json:"connect"`
	Deep             ctlPhase  `json:"deep"`
	CertNotAfter     *ctlTime  `json:"cert_not_after"`
	CheckedAddr      string    `json:"checked_addr"`
	Agent            *ctlAgent `json:"agent"` // ctl_agent.go
	// CheckInterval: absent from daemons before down_interval and for
	// origins no check probes.
	CheckInterval *ctlInterval `json:"check_interval"`
	// Uptime by window; nil from daemons before the field.
	Uptime *ctlUptime `json:"uptime"`
}

type ctlUptime struct {
	Hour ctlUptimeWindow `json:"1h"`
	Day  ctlUptimeWindow `json:"24h"`
	Week ctlUptimeWindow `json:"7d"`
}

type ctlUptimeWindow struct {
	Ratio          *float64 `json:"ratio"` // nil: nothing checked in the window
	CheckedSeconds float64  `json:"checked_seconds"`
}

// id is the backend's stable ID; daemons before the ID field send the name,
// which is the same thing for mail targets.
func (b ctlBackend) id() string {
	if b.ID != "" {
		return b.ID
	}
	return b.Name
}

type ctlBackendList struct {
	Round    uint64       `json:"round"`
	Backends []ctlBackend `json:"backends"`
}

type ctlExplainRequest struct {
	Username  string `json:"username"`
	Protocol  string `json:"protocol,omitempty"`
	ClientIP  string `json:"client_ip,omitempty"`
	LocalPort int    `json:"local_port,omitempty"`
	Service   string `json:"service,omitempty"`
}

type ctlCandidate struct {
	ID       string `json:"id"`
	Host     string `json:"host"`
	Port     int    `json:"port"`
	Eligible bool   `json:"eligible"`
	Reason   string `json:"reason"`
	Chosen   bool   `json:"chosen"`
	Weight   *int   `json:"weight"`
	Backup   bool   `json:"backup"`
	Draining bool   `json:"draining"`
}

type ctlExplain struct {
	Status  string `json:"status"`
	Backend *struct {
		ID          string `json:"id"`
		Host        string `json:"host"`
		Port        int    `json:"port"`
		CheckedAddr string `json:"checked_addr"`
	} `json:"backend"`
	SelectedBy    string              `json:"selected_by"`
	Panic         bool                `json:"panic"`
	SnapshotRound uint64              `json:"snapshot_round"`
	Candidates    []ctlCandidate      `json:"candidates"`
	Reason        string              `json:"reason"`
	FilterResults []string            `json:"filter_results"`
	Affinity      *ctlExplainAffinity `json:"affinity"`
	// SuppressedEffects: the filters' side effects the dry run skipped.
	SuppressedEffects []string `json:"suppressed_side_effects"`
}

// ctlExplainAffinity is explain's affinity part (policy sticky).
type ctlExplainAffinity struct {
	Stored string `json:"stored"`
	Used   bool   `json:"used"`
	Reason string `json:"reason"`
}

type ctlReload struct {
	Status     string   `json:"status"`
	Generation uint64   `json:"generation"`
	DurationMS float64  `json:"duration_ms"`
	Errors     []string `json:"errors"`
}

// adminChange is the PUT body; nil fields are left out and stay unchanged.
type ctlAdminChange struct {
	State  string `json:"state,omitempty"`
	Weight *int   `json:"weight,omitempty"`
	Health string `json:"health,omitempty"`
	TTL    string `json:"ttl,omitempty"`
	Why    string `json:"why,omitempty"`
	Who    string `json:"who,omitempty"`
}

const ctlBackendsPath = "/api/v1/backends"

func (c *ctlClient) run(ctx context.Context, o *ctlOptions) int {
	err := c.command(ctx, o)
	if err == nil {
		return exitOK
	}
	var ue ctlUsageError
	if errors.As(err, &ue) {
		fmt.Fprintf(c.stderr, "backline ctl: %s\n", c.redact(err.Error()))
		return exitUsage
	}
	if !errors.Is(err, errCtlReported) {
		fmt.Fprintf(c.stderr, "backline ctl: %s: %s\n", o.commandName, ctlClean(c.redact(err.Error())))
	}
	return exitFail
}

func (c *ctlClient) command(ctx context.Context, o *ctlOptions) error {
	args := o.positional[1:]
	switch o.commandName {
	case "list":
		var list ctlBackendList
		raw, err := c.call(ctx, http.MethodGet, ctlBackendsPath, nil, &list, ctlMaxListResponse)
		if err != nil || o.json {
			return c.printRaw(raw, err)
		}
		c.printList(list.Backends)
	case "show":
		var b ctlBackend
		raw, err := c.call(ctx, http.MethodGet, ctlBackendsPath+"/"+ctlEscapeID(args[0]), nil, &b, ctlMaxResponse)
		if err != nil || o.json {
			return c.printRaw(raw, err)
		}
		c.printBackend(b)
	case "drain", "maint", "ready", "weight", "health":
		return c.admin(ctx, o, args)
	case "recheck":
		return c.recheck(ctx, o, args[0])
	case "explain":
		req := ctlExplainRequest{Username: args[0], Protocol: o.protocol, ClientIP: o.clientIP,
			LocalPort: o.localPort, Service: o.service}
		var ex ctlExplain
		raw, err := c.call(ctx, http.MethodPost, "/api/v1/explain", req, &ex, ctlMaxListResponse)
		if err != nil || o.json {
			return c.printRaw(raw, err)
		}
		c.printExplain(args[0], ex)
	case "affinity":
		return c.affinity(ctx, o, args)
	case "reload":
		return c.reload(ctx, o)
	}
	return nil
}

// admin sends the PUT (or, for ready --reset, the DELETE) of one backend's
// admin state and prints the state the daemon settled on.
func (c *ctlClient) admin(ctx context.Context, o *ctlOptions, args []string) error {
	path := ctlBackendsPath + "/" + ctlEscapeID(args[0]) + "/admin"
	var out ctlAdmin
	if o.commandName == "ready" && o.reset {
		raw, err := c.call(ctx, http.MethodDelete, path, nil, &out, ctlMaxResponse)
		if err != nil || o.json {
			return c.printRaw(raw, err)
		}
		fmt.Fprintf(c.stdout, "%s: returned to the configuration: %s\n", ctlClean(args[0]), c.adminSummary(out))
		return nil
	}
	change := ctlAdminChange{Why: o.why, Who: c.user}
	if o.set["for"] {
		change.TTL = o.ttl.String()
	}
	switch o.commandName {
	case "drain", "maint", "ready":
		change.State = o.commandName
	case "weight":
		w, _ := ctlParseWeight(args[1]) // checked by validate
		change.Weight = &w
	case "health":
		change.Health = args[1]
	}
	raw, err := c.call(ctx, http.MethodPut, path, change, &out, ctlMaxResponse)
	if err != nil || o.json {
		return c.printRaw(raw, err)
	}
	fmt.Fprintf(c.stdout, "%s: %s\n", ctlClean(args[0]), c.adminSummary(out))
	return nil
}

// reload prints every configuration error of a refused reload; the daemon
// keeps its old configuration then.
func (c *ctlClient) reload(ctx context.Context, o *ctlOptions) error {
	var r ctlReload
	raw, err := c.call(ctx, http.MethodPost, "/api/v1/reload", nil, &r, ctlMaxResponse)
	var ae *ctlAPIError
	if errors.As(err, &ae) && ae.status == http.StatusUnprocessableEntity && len(ae.errors) > 0 {
		if o.json {
			_ = c.printRaw(raw, nil)
			return errCtlReported
		}
		fmt.Fprintf(c.stderr, "backline ctl: reload failed; the daemon keeps its old configuration:\n")
		for _, e := range ae.errors {
			fmt.Fprintf(c.stderr, "  %s\n", ctlClean(c.redact(e)))
		}
		return errCtlReported
	}
	if errors.As(err, &ae) && ae.status == http.StatusUnauthorized && o.configFile != "" {
		// The daemon checks the credentials it runs with; --config gave
		// those of the file, which may be the ones about to be loaded.
		return fmt.Errorf("%w; if server.api_auth changed in %s, the daemon still has the old credentials: "+
			"reload it with SIGHUP (systemctl reload backline) or give the old ones with --api-user and --password-file",
			err, o.configFile)
	}
	if err != nil || o.json {
		return c.printRaw(raw, err)
	}
	fmt.Fprintf(c.stdout, "reloaded: generation %d in %s ms\n", r.Generation, ctlNumber(r.DurationMS))
	return nil
}

// printRaw prints a JSON answer for --json, indented, or passes err on.
func (c *ctlClient) printRaw(raw []byte, err error) error {
	if err != nil {
		return err
	}
	// call checked that raw is valid JSON, so control characters inside
	// strings are escaped; invalid UTF-8, which JSON tolerates, is not.
	var buf bytes.Buffer
	if err := json.Indent(&buf, bytes.TrimSpace(raw), "", "  "); err != nil {
		return err
	}
	fmt.Fprintln(c.stdout, c.redactSecrets(redactJSONStrings(strings.ToValidUTF8(buf.String(), "?"))))
	return nil
}
