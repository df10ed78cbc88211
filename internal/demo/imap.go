package demo

import "strings"

// The fake IMAP server speaks the part of RFC 3501 a health check uses,
// with Dovecot's wording (see the mail-server transcripts spec).
const imapCaps = "IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ AUTH=PLAIN"

func serveIMAP(l *lineConn) {
	if l.send("* OK [CAPABILITY "+imapCaps+"] backline demo IMAP ready.") != nil {
		return
	}
	for {
		line, err := l.readLine()
		if err != nil {
			return
		}
		tag, rest, _ := strings.Cut(line, " ")
		cmd, arg, _ := strings.Cut(rest, " ")
		switch strings.ToUpper(cmd) {
		case "CAPABILITY":
			err = l.send("* CAPABILITY "+imapCaps,
				tag+" OK Pre-login capabilities listed, post-login capabilities have more.")
		case "NOOP", "ID":
			err = l.send(tag + " OK " + strings.ToUpper(cmd) + " completed.")
		case "AUTHENTICATE":
			err = imapAuthenticate(l, tag, arg)
		case "LOGOUT":
			_ = l.send("* BYE Logging out", tag+" OK Logout completed.")
			return
		default:
			err = l.send(tag + " BAD Error in IMAP command received by server.")
		}
		if err != nil {
			return
		}
	}
}

func imapAuthenticate(l *lineConn, tag, arg string) error {
	mech, ir, hasIR := strings.Cut(arg, " ")
	if !strings.EqualFold(mech, "PLAIN") {
		return l.send(tag + " NO [ALERT] Unsupported authentication mechanism.")
	}
	if !hasIR {
		if err := l.send("+ "); err != nil {
			return err
		}
		var err error
		if ir, err = l.readLine(); err != nil {
			return err
		}
	}
	if !validPlain(ir) {
		return l.send(tag + " NO [AUTHENTICATIONFAILED] Authentication failed.")
	}
	return l.send(tag + " OK Logged in")
}
