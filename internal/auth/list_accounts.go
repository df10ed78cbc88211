package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sort"
	"strings"

	"github.com/backline/backline/internal/lua"
)

// accountLister is a passdb that can list its accounts
// (?mode=list-accounts, Dovecot's auth_userdb_iterate). A passwd-file
// lists its users; a Lua passdb calls nauthilus_backend_list_accounts;
// backend_login cannot (a mail server does not list its users). logs are
// the listing's custom_log_add pairs for the request log line (a Lua
// passdb's; nil for the others).
type accountLister interface {
	listAccounts(ctx context.Context, req *Request) (names []string, logs []any, err error)
}

// errCannotList is a passdb that cannot list accounts.
var errCannotList = errors.New("cannot list accounts")

func (f *passwdFile) listAccounts(context.Context, *Request) ([]string, []any, error) {
	f.maybeReload()
	users := f.data.Load().users
	out := make([]string, 0, len(users))
	for u := range users {
		out = append(out, u)
	}
	sort.Strings(out)
	return out, nil, nil
}

func (p *luaPassdb) listAccounts(ctx context.Context, req *Request) ([]string, []any, error) {
	out, logs, err := p.script.ListAccountsLogged(ctx, toLuaRequest(req, ""))
	if errors.Is(err, lua.ErrNoListAccounts) {
		return nil, nil, errCannotList
	}
	return out, logPairs(logs), err
}

// listAccounts is the union of what the listing passdbs know, in passdb
// order, each name once. A name with a control character is left out: it
// could not be a Dovecot user name and would break the text answer.
// errCannotList when no passdb can list; a listing error is a tempfail.
// The Lua passdbs' custom_log_add entries go to d.passdbLogs, in passdb
// order, also when a listing fails.
func (h *Handler) listAccounts(ctx context.Context, req *Request, d *decision) ([]string, string, error) {
	seen := map[string]bool{}
	out := []string{}
	var listed []string
	for _, db := range h.passdbs {
		l, ok := db.(accountLister)
		if !ok {
			continue
		}
		names, logs, err := l.listAccounts(ctx, req)
		d.passdbLogs = append(d.passdbLogs, logs...)
		if errors.Is(err, errCannotList) {
			continue
		}
		if err != nil {
			return nil, "", fmt.Errorf("passdb %s: %w", db.name(), err)
		}
		listed = append(listed, db.name())
		for _, n := range names {
			if seen[n] || headerText(n, len(n)) != n {
				continue
			}
			seen[n] = true
			out = append(out, n)
		}
	}
	if len(listed) == 0 {
		return nil, "", errCannotList
	}
	return out, strings.Join(listed, ","), nil
}

// noListerText is the answer when no passdb can list accounts.
const noListerText = "list-accounts: no configured passdb can list accounts (passwd_file can; a lua passdb can when its script defines nauthilus_backend_list_accounts; backend_login cannot)"

// serveListAccounts answers ?mode=list-accounts: json gives a JSON array
// of names, header gives text/plain, one name a line; both 200. No passdb
// able to list: 501 with the reason; a failing one: the tempfail answer.
// No filters run: there is no user.
func (h *Handler) serveListAccounts(ctx context.Context, w http.ResponseWriter, endpoint string, req *Request, session string, d *decision) {
	hdr := w.Header()
	setCommon(hdr, session)
	names, dbs, err := h.listAccounts(ctx, req, d)
	switch {
	case errors.Is(err, errCannotList):
		d.outcome, d.reason = outcomeFail, "no passdb can list accounts"
		if endpoint == "json" {
			body, _ := json.Marshal(map[string]string{"error": noListerText})
			hdr.Set("Content-Type", "application/json; charset=utf-8")
			w.WriteHeader(http.StatusNotImplemented)
			_, _ = w.Write(body)
			return
		}
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusNotImplemented)
		_, _ = w.Write([]byte(noListerText + "\n"))
		return
	case err != nil:
		d.outcome, d.reason = outcomeTempfail, err.Error()
		if endpoint == "json" {
			h.jsonTempfail(w)
			return
		}
		msg := h.tempfailText()
		hdr.Set("Auth-Status", msg)
		hdr.Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(msg))
		return
	}
	d.outcome, d.passdb, d.reason = outcomeOK, dbs, fmt.Sprintf("listed %d accounts", len(names))
	hdr.Set("Auth-Status", "OK")
	if endpoint == "json" {
		body, _ := json.Marshal(names)
		hdr.Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
		return
	}
	var b strings.Builder
	for _, n := range names {
		b.WriteString(n)
		b.WriteByte('\n')
	}
	hdr.Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write([]byte(b.String()))
}
