package config

import (
	"fmt"
	"strings"
)

var supportedMechanisms = []string{MechAuto, MechPlain, MechLogin, MechUserPass, MechBasic}

// unsupportedMechanisms exist in the wild but need credentials or state a
// health check does not have (seed 004 rejects them explicitly).
var unsupportedMechanisms = []string{"OAUTHBEARER", "XOAUTH2", "EXTERNAL", "CRAM-MD5", "DIGEST-MD5"}

// NormalizeMechanism applies seed 004's rule: trim; empty or any case of
// "auto" becomes "auto"; anything else is upper-cased.
func NormalizeMechanism(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, MechAuto) {
		return MechAuto
	}
	return strings.ToUpper(s)
}

// checkMechanism returns "" if the normalised mechanism may be used with
// protocol, else why not.
func checkMechanism(mech, protocol string) string {
	switch {
	case strings.HasPrefix(mech, "SCRAM-") || oneOf(mech, unsupportedMechanisms):
		return fmt.Sprintf("%s is not supported by health checks (use one of %s)", mech, strings.Join(supportedMechanisms, ", "))
	case !oneOf(mech, supportedMechanisms):
		return fmt.Sprintf("unknown mechanism %q (use one of %s)", mech, strings.Join(supportedMechanisms, ", "))
	case mech == MechUserPass && protocol != ProtoPOP3:
		return "USERPASS is POP3's USER/PASS and works only with protocol pop3"
	case mech == MechBasic && protocol != ProtoHTTP:
		return "BASIC is HTTP Basic authentication and works only with protocol http"
	case (mech == MechPlain || mech == MechLogin) && protocol == ProtoHTTP:
		return fmt.Sprintf("%s is a SASL mechanism; protocol http authenticates with BASIC (or auto)", mech)
	}
	return ""
}
