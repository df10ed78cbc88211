package lua

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/go-sql-driver/mysql"
)

// Bug: when SELECT CONNECTION_ID() failed on a new MySQL connection (a
// proxy in between that does not answer it, a server that refuses it),
// every db query of every script failed with the bare driver error,
// which said nothing of why backline ran that statement or what to do.
// The error now names the statement, why it is needed and the fixes, and
// keeps the server's reason (without the DSN's password).

// connIDConnector makes connIDConns answering SELECT CONNECTION_ID() with
// rows or err.
type connIDConnector struct {
	rows func() driver.Rows
	err  error
	made []*connIDConn
}

func (c *connIDConnector) Connect(context.Context) (driver.Conn, error) {
	conn := &connIDConn{c: c}
	c.made = append(c.made, conn)
	return conn, nil
}

func (c *connIDConnector) Driver() driver.Driver { return nil }

// connIDConn is a MySQL driver connection of which only QueryContext and
// Close are used; the embedded interface is nil.
type connIDConn struct {
	mysqlDriverConn
	c      *connIDConnector
	closed bool
}

func (f *connIDConn) QueryContext(context.Context, string, []driver.NamedValue) (driver.Rows, error) {
	if f.c.err != nil {
		return nil, f.c.err
	}
	return f.c.rows(), nil
}

func (f *connIDConn) Close() error {
	f.closed = true
	return nil
}

// oneValueRows is a result of one row holding v.
type oneValueRows struct {
	v    driver.Value
	done bool
}

func (r *oneValueRows) Columns() []string { return []string{"CONNECTION_ID()"} }
func (r *oneValueRows) Close() error      { return nil }
func (r *oneValueRows) Next(dest []driver.Value) error {
	if r.done {
		return io.EOF
	}
	r.done = true
	dest[0] = r.v
	return nil
}

func TestConnectionIDFailureSaysWhatToDo(t *testing.T) {
	refused := &mysql.MySQLError{Number: 1227, Message: "Access denied; you need the SUPER privilege (" + dbTestSecret + ")"}
	for _, c := range []struct {
		name  string
		conns *connIDConnector
		want  []string
	}{
		{"refused by the server", &connIDConnector{err: refused},
			[]string{"SELECT CONNECTION_ID() failed", "Error 1227", "KILL QUERY", "ProxySQL", "MaxScale", "privilege"}},
		{"not a thread id", &connIDConnector{rows: func() driver.Rows { return &oneValueRows{v: []byte("proxy")} }},
			[]string{"SELECT CONNECTION_ID() returned []uint8, not a thread id", "KILL QUERY", "ProxySQL"}},
		{"no row", &connIDConnector{rows: func() driver.Rows { return emptyRows{} }},
			[]string{"SELECT CONNECTION_ID() returned no row", "KILL QUERY", "ProxySQL"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			db := sql.OpenDB(threadIDConnector{Connector: c.conns, password: dbTestSecret})
			t.Cleanup(func() { db.Close() })
			_, err := db.Conn(t.Context())
			if err == nil {
				t.Fatal("a connection without a thread id was handed out")
			}
			text := err.Error()
			for _, w := range c.want {
				if !strings.Contains(text, w) {
					t.Errorf("error %q does not say %q", text, w)
				}
			}
			if strings.Contains(text, dbTestSecret) {
				t.Errorf("the password is in the error: %q", text)
			}
			for _, conn := range c.conns.made {
				if !conn.closed {
					t.Error("a connection without a thread id was left open")
				}
			}
		})
	}
	// The server's error stays reachable for callers.
	_, err := threadIDConnector{Connector: &connIDConnector{err: refused}}.Connect(t.Context())
	var me *mysql.MySQLError
	if !errors.As(err, &me) || me.Number != 1227 {
		t.Errorf("err = %v; want the MySQLError wrapped", err)
	}
}

// A connection that broke or a context that ended while asking is not a
// proxy or privilege problem: that error passes as it is (database/sql
// retries driver.ErrBadConn on a fresh connection).
func TestConnectionIDTransportErrorsPassUnchanged(t *testing.T) {
	for _, cause := range []error{driver.ErrBadConn, context.DeadlineExceeded, io.ErrUnexpectedEOF} {
		_, err := threadIDConnector{Connector: &connIDConnector{err: cause}}.Connect(t.Context())
		if err != cause {
			t.Errorf("%v became %v", cause, err)
		}
	}
}
