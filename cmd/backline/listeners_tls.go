package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"

	"github.com/backline/backline/internal/config"
	"github.com/backline/backline/internal/tlslisten"
)

// listenerTLS are the TLS listeners of the daemon, nil where a listener
// speaks plain HTTP. A reload gives them the settings of the new file
// (certificates, client CAs, min_version, http2); whether TLS is on is a
// restart key (restartOnly).
type listenerTLS struct {
	api, gateway *tlslisten.Listener
}

// wrapTLS puts TLS on ln when t is set; name is the listener's metrics
// label, key the configuration key for errors.
func (d *daemon) wrapTLS(ln net.Listener, t *config.ListenerTLS, name, key string) (net.Listener, *tlslisten.Listener, error) {
	if t == nil {
		return ln, nil, nil
	}
	cfg, err := t.ServerConfig()
	if err != nil {
		return nil, nil, tlsKeyErrors(key, err)
	}
	tl := tlslisten.New(ln, cfg, tlslisten.Options{Name: name, Logger: d.logger})
	for _, c := range tl.Collectors() {
		d.reg.MustRegister(c)
	}
	d.logger.Info("TLS on listener", "listener", name, "certificate", certSubject(cfg),
		"min_version", t.MinVersion, "http2", t.HTTP2Enabled(), "client_certificates", t.ClientCAFile != "")
	return tl, tl, nil
}

// startTLS wraps the listeners of the running configuration (a reload may
// already have replaced the first: SIGHUP is handled from before serve);
// reloadMu keeps a reload from landing between reading it and storing the
// listeners. On error both listeners are closed.
func (d *daemon) startTLS(api, gw net.Listener) (net.Listener, net.Listener, error) {
	d.reloadMu.Lock()
	defer d.reloadMu.Unlock()
	cfg := d.cur.Load().cfg
	fail := func(err error) (net.Listener, net.Listener, error) {
		api.Close()
		if gw != nil {
			gw.Close()
		}
		return nil, nil, err
	}
	// The results go to new variables: a failed wrap returns a nil
	// listener, and fail must still close the ones it was given.
	apiOut, tlsAPI, err := d.wrapTLS(api, cfg.Server.TLS, "api", "server.tls")
	if err != nil {
		return fail(err)
	}
	gwOut, tlsGW := gw, (*tlslisten.Listener)(nil)
	if gw != nil {
		if gwOut, tlsGW, err = d.wrapTLS(gw, cfg.Gateway.TLS, "gateway", "gateway.tls"); err != nil {
			return fail(err)
		}
	}
	d.tls.api, d.tls.gateway = tlsAPI, tlsGW
	return apiOut, gwOut, nil
}

// applyListenerTLS hands the settings of cfg, loaded and checked when the
// file was validated, to the TLS listeners. It runs once the new
// generation is active: nothing can fail after it.
func (d *daemon) applyListenerTLS(cfg *config.Config) {
	for _, l := range []struct {
		ln *tlslisten.Listener
		t  *config.ListenerTLS
	}{{d.tls.api, cfg.Server.TLS}, {d.tls.gateway, cfg.Gateway.TLS}} {
		if l.ln == nil || l.t == nil {
			continue
		}
		c, err := l.t.ServerConfig()
		if err != nil {
			continue // not reached: reloadLocked loaded it first
		}
		l.ln.SetConfig(c)
	}
}

// loadListenerTLS loads the TLS files of cfg again when validation did
// not (it always does for serve), so a reload fails before anything swaps.
func loadListenerTLS(cfg *config.Config) []string {
	var errs []string
	for _, l := range []struct {
		key string
		t   *config.ListenerTLS
	}{{"server.tls", cfg.Server.TLS}, {"gateway.tls", cfg.Gateway.TLS}} {
		if l.t == nil {
			continue
		}
		if _, err := l.t.ServerConfig(); err != nil {
			for _, e := range config.TLSErrors(err) {
				errs = append(errs, l.key+": "+e.Error())
			}
		}
	}
	return errs
}

// tlsKeyErrors puts the block's key (server.tls, gateway.tls) before each
// of the problems LoadServerConfig reports, so every line names its key.
func tlsKeyErrors(key string, err error) error {
	var errs []error
	for _, e := range config.TLSErrors(err) {
		errs = append(errs, fmt.Errorf("%s: %w", key, e))
	}
	return errors.Join(errs...)
}

// certSubject names the certificate served, for the start-up log line.
func certSubject(cfg *tls.Config) string {
	if len(cfg.Certificates) == 0 || cfg.Certificates[0].Leaf == nil {
		return ""
	}
	return cfg.Certificates[0].Leaf.Subject.String()
}

// tlsOnOff is whether a listener has TLS, for restartOnly.
func tlsOnOff(t *config.ListenerTLS) string {
	if t == nil {
		return "plain HTTP"
	}
	return "TLS"
}
