package main

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/backline/backline/internal/auth"
)

// ctlAffinity is the answer of GET and PUT /api/v1/affinity/{user}.
type ctlAffinity struct {
	User    string `json:"user"`
	Entries []struct {
		Protocol string `json:"protocol"`
		Backend  string `json:"backend"`
	} `json:"entries"`
}

// validateAffinity checks `affinity show|move|flush USER [ID]` before
// anything is sent.
func (o *ctlOptions) validateAffinity(args []string) error {
	if len(args) == 0 {
		return ctlUsagef("affinity: missing show, move or flush (usage: backline ctl affinity show|move|flush USER)")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "show", "flush":
		if err := ctlWantArgs("affinity "+sub, rest, 1, "USER"); err != nil {
			return err
		}
	case "move":
		if err := ctlWantArgs("affinity move", rest, 2, "USER ID"); err != nil {
			return err
		}
		if rest[1] == "" {
			return ctlUsagef("affinity move: empty backend ID")
		}
	default:
		return ctlUsagef("affinity: want show, move or flush, got %q", sub)
	}
	user := rest[0]
	switch {
	case user == "":
		return ctlUsagef("affinity %s: empty user name", sub)
	case !utf8.ValidString(user) || strings.ContainsFunc(user, ctlIsControl):
		return ctlUsagef("affinity %s: the user name must be printable UTF-8 without control characters", sub)
	}
	if o.set["protocol"] && !auth.ValidProtocolName(o.protocol) {
		return ctlUsagef("--protocol: want a lower-case protocol name such as imap, got %q", o.protocol)
	}
	return nil
}

// affinity runs `affinity show|move|flush`. --protocol applies only when
// given (its default belongs to explain).
func (c *ctlClient) affinity(ctx context.Context, o *ctlOptions, args []string) error {
	sub, user := args[0], args[1]
	path := "/api/v1/affinity/" + ctlEscapeID(user)
	if o.set["protocol"] {
		path += "?protocol=" + url.QueryEscape(o.protocol)
	}
	var out ctlAffinity
	var raw []byte
	var err error
	switch sub {
	case "show":
		raw, err = c.call(ctx, http.MethodGet, path, nil, &out, ctlMaxResponse)
	case "move":
		raw, err = c.call(ctx, http.MethodPut, path, map[string]string{"backend": args[2]}, &out, ctlMaxResponse)
	case "flush":
		raw, err = c.call(ctx, http.MethodDelete, path, nil, nil, ctlMaxResponse)
		if err == nil && !o.json {
			fmt.Fprintf(c.stdout, "%s: affinity flushed\n", ctlClean(user))
			return nil
		}
	}
	if err != nil || o.json {
		return c.printRaw(raw, err)
	}
	if len(out.Entries) == 0 {
		fmt.Fprintf(c.stdout, "%s: no stored backend\n", ctlClean(user))
		return nil
	}
	verb := "stays on"
	if sub == "move" {
		verb = "moved to"
	}
	for _, e := range out.Entries {
		fmt.Fprintf(c.stdout, "%s %s: %s %s\n", ctlClean(user), ctlClean(e.Protocol), verb, ctlClean(e.Backend))
	}
	return nil
}
