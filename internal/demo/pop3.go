package demo

import (
	"crypto/tls"
	"strings"
)

// servePOP3 returns the fake POP3 handler (RFC 1939, CAPA, STLS, AUTH PLAIN)
// with Dovecot's wording.
func servePOP3(cfg *tls.Config) func(*lineConn) {
	return func(l *lineConn) {
		if l.send("+OK backline demo POP3 ready.") != nil {
			return
		}
		var user string
		for {
			line, err := l.readLine()
			if err != nil {
				return
			}
			cmd, arg, _ := strings.Cut(line, " ")
			switch strings.ToUpper(cmd) {
			case "CAPA":
				caps := []string{"+OK", "CAPA", "TOP", "UIDL", "RESP-CODES", "PIPELINING", "AUTH-RESP-CODE"}
				if !l.isTLS() {
					caps = append(caps, "STLS")
				}
				err = l.send(append(caps, "USER", "SASL PLAIN", ".")...)
			case "STLS":
				if l.isTLS() {
					err = l.send("-ERR TLS is already active.")
					break
				}
				if l.send("+OK Begin TLS negotiation now.") != nil || l.startTLS(cfg) != nil {
					return
				}
			case "USER":
				user = arg
				err = l.send("+OK")
			case "PASS":
				err = pop3Verdict(l, validLogin(user, arg))
			case "AUTH":
				mech, ir, hasIR := strings.Cut(arg, " ")
				if !strings.EqualFold(mech, "PLAIN") {
					err = l.send("-ERR [AUTH] Unsupported authentication mechanism.")
					break
				}
				if !hasIR {
					if l.send("+ ") != nil {
						return
					}
					if ir, err = l.readLine(); err != nil {
						return
					}
				}
				err = pop3Verdict(l, validPlain(ir))
			case "NOOP":
				err = l.send("+OK")
			case "QUIT":
				_ = l.send("+OK Logging out.")
				return
			default:
				err = l.send("-ERR Unknown command: " + strings.ToUpper(cmd))
			}
			if err != nil {
				return
			}
		}
	}
}

func pop3Verdict(l *lineConn, ok bool) error {
	if ok {
		return l.send("+OK Logged in.")
	}
	return l.send("-ERR [AUTH] Authentication failed.")
}
