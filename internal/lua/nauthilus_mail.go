package lua

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"net"
	netmail "net/mail"
	"os"
	"strings"
	"time"

	"github.com/emersion/go-sasl"
	"github.com/emersion/go-smtp"
	glua "github.com/yuin/gopher-lua"
)

// nauthilus_mail (spec nauthilus-lua-modules §4.10): send_mail(params) ->
// nil, or an error string (never raised). The SMTP conversation is
// go-smtp's client.
//
// Differences from Nauthilus, on purpose:
//   - the server must be in lua.config.mail.allowed_hosts (default: none);
//   - CR or LF in any header field (subject, helo_name, addresses) is
//     refused: it would let a script's input add headers or commands;
//   - AUTH is refused on a connection without TLS unless the server is a
//     loopback address (the password would cross the network in clear);
//   - the whole send is bounded by lua.config.mail.timeout and the run's
//     script_timeout, whichever ends first;
//   - lmtp with starttls is refused (go-smtp's LMTP client has no
//     STARTTLS); lmtp with tls (implicit) works.

func init() {
	registerModule(module{
		Name: "nauthilus_mail", Filter: true, Password: true,
		Functions: map[string]runFunc{
			// In a dry run (dryrun.go) the parameters are checked and
			// nothing is sent: nil (success) or the parameter error.
			"send_mail": sideEffect("nauthilus_mail.send_mail", sendMail, dryMail),
		},
	})
}

func dryMail(_ *scriptRun, L *glua.LState) int {
	if _, msg := readMailParams(L.CheckTable(1)); msg != "" {
		L.Push(glua.LString(msg))
		return 1
	}
	L.Push(glua.LNil)
	return 1
}

// maxMailRecipients bounds one send (each is a command round trip).
const maxMailRecipients = 100

// mailHeaderRoom is what the composed header block adds beside the
// subject and the addresses (Date, Message-ID, MIME, separators).
const mailHeaderRoom = 64 << 10

type mailParams struct {
	server, helo, username, password string
	from, subject, body              string
	to                               []string
	port                             int
	tls, startTLS, lmtp              bool
}

func sendMail(r *scriptRun, L *glua.LState) int {
	t := L.CheckTable(1)
	p, msg := readMailParams(t)
	if msg == "" {
		if err := r.deliverMail(p); err != nil {
			msg = err.Error()
			if p.password != "" {
				msg = strings.ReplaceAll(msg, p.password, "<redacted>")
			}
			msg = r.redact(msg)
		}
	}
	if msg == "" {
		L.Push(glua.LNil)
	} else {
		L.Push(glua.LString(msg))
	}
	return 1
}

// readMailParams returns the parameters or the error text for the script.
func readMailParams(t *glua.LTable) (mailParams, string) {
	str := func(key string) string {
		switch v := t.RawGetString(key).(type) {
		case glua.LString:
			return string(v)
		case glua.LNumber:
			return v.String()
		}
		return ""
	}
	flag := func(key string) bool { return glua.LVAsBool(t.RawGetString(key)) }
	p := mailParams{
		server: str("server"), helo: str("helo_name"), username: str("username"), password: str("password"),
		from: str("from"), subject: str("subject"), body: str("body"),
		tls: flag("tls"), startTLS: flag("starttls"), lmtp: flag("lmtp"),
	}
	port, ok := t.RawGetString("port").(glua.LNumber)
	if !ok {
		return p, "'port' must be a number"
	}
	p.port = int(port)
	to, ok := t.RawGetString("to").(*glua.LTable)
	if !ok {
		return p, "'to' must be a table"
	}
	for i := 1; i <= to.Len(); i++ {
		p.to = append(p.to, glua.LVAsString(to.RawGetInt(i)))
	}
	for name, v := range map[string]string{"server": p.server, "helo_name": p.helo, "subject": p.subject,
		"from": p.from, "username": p.username} {
		if strings.ContainsAny(v, "\r\n") {
			return p, fmt.Sprintf("'%s' must not contain CR or LF", name)
		}
	}
	for _, rcpt := range p.to {
		if strings.ContainsAny(rcpt, "\r\n") {
			return p, "'to' must not contain CR or LF"
		}
	}
	if len(p.to) == 0 {
		return p, "'to' has no recipients"
	}
	if len(p.to) > maxMailRecipients {
		return p, fmt.Sprintf("'to' has more than %d recipients", maxMailRecipients)
	}
	if p.lmtp && p.startTLS {
		return p, "starttls over LMTP is not supported by backline (use tls)"
	}
	return p, ""
}

func (r *scriptRun) deliverMail(p mailParams) error {
	from, err := netmail.ParseAddress(p.from)
	if err != nil {
		return fmt.Errorf("invalid 'from' address: %w", err)
	}
	var rcpts []*netmail.Address
	for _, s := range p.to {
		a, err := netmail.ParseAddress(s)
		if err != nil {
			return fmt.Errorf("invalid 'to' address: %w", err)
		}
		rcpts = append(rcpts, a)
	}
	mod := r.engine.cfg.Config.LuaModuleConfig
	allow := newAllowList("lua.config.mail.allowed_hosts", mod.Mail.AllowedHosts)
	if !allow.permits(p.server, p.port) { // before building anything
		return allow.refuse(p.server, p.port)
	}
	// Charged before composing: the CRLF conversion can double the body,
	// and the builder and the byte copy hold it twice more.
	size := int64(len(p.body)+len(p.subject)+len(p.from)) + mailHeaderRoom
	for _, to := range p.to {
		size += int64(len(to))
	}
	r.vm().charge(r.vm().L, mulSat(size, 6))
	message := composeMail(from, rcpts, p.subject, p.body)

	timeout := mod.Mail.Timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(r.ctx, timeout)
	defer cancel()
	conn, err := allow.dial(ctx, p.server, p.port)
	if err != nil {
		return err
	}
	// go-smtp sets its own per-command deadlines; closing the connection
	// when ctx ends bounds the whole conversation.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	defer conn.Close()
	err = r.smtpConversation(ctx, conn, p, from.Address, rcpts, message)
	if err != nil && (ctx.Err() != nil || errors.Is(err, os.ErrDeadlineExceeded)) {
		return fmt.Errorf("sending mail stopped: no answer within %s (lua.config.mail.timeout or script_timeout): %w", timeout, err)
	}
	return err
}

func (r *scriptRun) smtpConversation(ctx context.Context, conn net.Conn, p mailParams, from string, rcpts []*netmail.Address, message []byte) error {
	tlsConfig := &tls.Config{ServerName: p.server, MinVersion: tls.VersionTLS12, RootCAs: r.engine.host.outboundRoots()}
	var c *smtp.Client
	switch {
	case p.tls:
		tc := tls.Client(conn, tlsConfig)
		if err := tc.HandshakeContext(ctx); err != nil {
			return fmt.Errorf("TLS: %w", err)
		}
		if p.lmtp {
			c = smtp.NewClientLMTP(tc)
		} else {
			c = smtp.NewClient(tc)
		}
	case p.startTLS:
		// go-smtp greets with "EHLO localhost" before STARTTLS; helo_name
		// is used from the EHLO after it on.
		var err error
		if c, err = smtp.NewClientStartTLS(conn, tlsConfig); err != nil {
			return fmt.Errorf("STARTTLS: %w", err)
		}
	case p.lmtp:
		c = smtp.NewClientLMTP(conn)
	default:
		c = smtp.NewClient(conn)
	}
	defer c.Close()
	if deadline, ok := ctx.Deadline(); ok {
		c.CommandTimeout, c.SubmissionTimeout = time.Until(deadline), time.Until(deadline)
	}
	helo := p.helo
	if helo == "" {
		helo = "localhost"
	}
	if err := c.Hello(helo); err != nil {
		return err
	}
	return r.mailTransaction(c, p, p.tls || p.startTLS, from, rcpts, message)
}

func (r *scriptRun) mailTransaction(c *smtp.Client, p mailParams, encrypted bool, from string, rcpts []*netmail.Address, message []byte) error {
	if p.username != "" || p.password != "" {
		if !encrypted && !isLoopbackHost(p.server) {
			return errors.New("refusing AUTH without TLS (set tls or starttls)")
		}
		var auth sasl.Client
		if ok, _ := c.Extension("AUTH"); !ok {
			return errors.New("the server does not offer AUTH")
		}
		if c.SupportsAuth("PLAIN") {
			auth = sasl.NewPlainClient("", p.username, p.password)
		} else {
			auth = sasl.NewLoginClient(p.username, p.password)
		}
		if err := c.Auth(auth); err != nil {
			return err
		}
	}
	if err := c.Mail(from, nil); err != nil {
		return err
	}
	for _, rcpt := range rcpts {
		if err := c.Rcpt(rcpt.Address, nil); err != nil {
			return err
		}
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(message); err != nil {
		return err
	}
	if err := w.Close(); err != nil {
		return err
	}
	return c.Quit()
}

func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// composeMail builds the message: Date, Message-ID (<random.time@domain of
// the sender>), From, To, Subject, MIME headers and a plain-text body with
// CRLF line ends.
func composeMail(from *netmail.Address, to []*netmail.Address, subject, body string) []byte {
	domain := "localhost"
	if _, d, ok := strings.Cut(from.Address, "@"); ok && d != "" {
		domain = d
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	now := time.Now()
	var b strings.Builder
	b.WriteString("Date: " + now.Format(time.RFC1123Z) + "\r\n")
	b.WriteString(fmt.Sprintf("Message-ID: <%d.%s@%s>\r\n", now.UnixNano(), hex.EncodeToString(id[:]), domain))
	b.WriteString("From: " + from.String() + "\r\n")
	names := make([]string, len(to))
	for i, a := range to {
		names[i] = a.String()
	}
	b.WriteString("To: " + strings.Join(names, ", ") + "\r\n")
	b.WriteString("Subject: " + mime.QEncoding.Encode("utf-8", subject) + "\r\n")
	b.WriteString("MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n")
	body = strings.ReplaceAll(body, "\r\n", "\n")
	b.WriteString(strings.ReplaceAll(body, "\n", "\r\n"))
	if !strings.HasSuffix(body, "\n") {
		b.WriteString("\r\n")
	}
	return []byte(b.String())
}
