package demo

import (
	"crypto/tls"
	"strings"
)

const smtpHost = "demo.backline.test"

// serveSMTP returns the fake submission handler (EHLO, STARTTLS, AUTH PLAIN
// and LOGIN) with Dovecot's wording.
func serveSMTP(cfg *tls.Config) func(*lineConn) {
	return func(l *lineConn) {
		if l.send("220 "+smtpHost+" backline demo SMTP ready.") != nil {
			return
		}
		for {
			line, err := l.readLine()
			if err != nil {
				return
			}
			cmd, arg, _ := strings.Cut(line, " ")
			switch strings.ToUpper(cmd) {
			case "EHLO":
				ext := []string{"250-" + smtpHost, "250-8BITMIME", "250-AUTH PLAIN LOGIN", "250-ENHANCEDSTATUSCODES"}
				if !l.isTLS() {
					ext = append(ext, "250-STARTTLS")
				}
				err = l.send(append(ext, "250 PIPELINING")...)
			case "HELO":
				err = l.send("250 " + smtpHost)
			case "STARTTLS":
				if l.isTLS() {
					err = l.send("502 5.5.1 TLS is already active.")
					break
				}
				if l.send("220 2.0.0 Begin TLS negotiation now.") != nil || l.startTLS(cfg) != nil {
					return
				}
			case "AUTH":
				err = smtpAuth(l, arg)
			case "NOOP", "RSET":
				err = l.send("250 2.0.0 OK")
			case "QUIT":
				_ = l.send("221 2.0.0 Bye")
				return
			default:
				err = l.send("502 5.5.2 Unsupported command")
			}
			if err != nil {
				return
			}
		}
	}
}

func smtpAuth(l *lineConn, arg string) error {
	mech, ir, hasIR := strings.Cut(arg, " ")
	ask := func(challenge string) (string, error) {
		if err := l.send("334 " + challenge); err != nil {
			return "", err
		}
		return l.readLine()
	}
	var ok bool
	var err error
	switch strings.ToUpper(mech) {
	case "PLAIN":
		if !hasIR {
			if ir, err = ask(""); err != nil {
				return err
			}
		}
		ok = validPlain(ir)
	case "LOGIN":
		if !hasIR {
			if ir, err = ask("VXNlcm5hbWU6"); err != nil {
				return err
			}
		}
		pass, err := ask("UGFzc3dvcmQ6")
		if err != nil {
			return err
		}
		ok = validLogin(decodeB64(ir), decodeB64(pass))
	default:
		return l.send("504 5.5.4 Unsupported authentication mechanism.")
	}
	if ok {
		return l.send("235 2.7.0 Logged in.")
	}
	return l.send("535 5.7.8 Authentication failed.")
}
