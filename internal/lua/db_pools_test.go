package lua

import (
	"context"
	"database/sql"
	"testing"

	"github.com/backline/backline/internal/config"
)

// max_idle_connections: 0 reaches the pool as "keep none": connections
// given back after their query are closed, not kept. It used to be read
// as "not set", and the pool kept the default 2.
func TestDBPoolMaxIdleZeroKeepsNone(t *testing.T) {
	zero := 0
	for _, c := range []struct {
		name     string
		idle     *int
		wantIdle int
	}{{"not set", nil, config.DefaultLuaDBMaxIdle}, {"0", &zero, 0}} {
		var lc config.Lua
		lc.Config.DB.MaxIdleConnections = c.idle
		lim := newDBLimits(lc, 0)
		if lim.maxIdle != c.wantIdle {
			t.Errorf("%s: limit %d, want %d", c.name, lim.maxIdle, c.wantIdle)
		}
		db := sql.OpenDB(idleConnector{})
		if open := sizePool(db, lim, 0); open != config.DefaultLuaDBMaxOpen {
			t.Errorf("%s: pool of %d", c.name, open)
		}
		var held []*sql.Conn
		for range 3 {
			conn, err := db.Conn(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			held = append(held, conn)
		}
		for _, conn := range held {
			conn.Close()
		}
		if st := db.Stats(); st.Idle != c.wantIdle || st.MaxIdleClosed != int64(3-c.wantIdle) {
			t.Errorf("%s: %d idle, %d closed as surplus; want %d idle", c.name, st.Idle, st.MaxIdleClosed, c.wantIdle)
		}
		db.Close()
	}
}

// A reload that changes the pool sizes applies them to a pool opened
// before it, at its next open; the first opener's max_connections still
// caps it.
func TestDBPoolResizedAfterAReload(t *testing.T) {
	s := &dbHost{pools: map[string]*dbPool{}}
	dsn := "u:p@tcp(127.0.0.1:3306)/auth"
	before := dbLimits{allowed: []string{"127.0.0.1:3306"}, maxOpen: 10, maxIdle: 2, maxRows: 10}
	p, err := s.open("mysql", dsn, before, 8, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer p.db.Close()
	if st := p.db.Stats(); st.MaxOpenConnections != 8 {
		t.Fatalf("first open: pool of %d, want the script's 8", st.MaxOpenConnections)
	}
	for _, c := range []struct {
		lim      dbLimits
		wantOpen int
	}{
		{dbLimits{allowed: before.allowed, maxOpen: 3, maxIdle: 0, maxRows: 10}, 3},
		{dbLimits{allowed: before.allowed, maxOpen: 20, maxIdle: 4, maxRows: 10}, 8},
	} {
		again, err := s.open("mysql", dsn, c.lim, 0, nil)
		if err != nil || again != p {
			t.Fatalf("reopen: %v (same pool: %v)", err, again == p)
		}
		if st := p.db.Stats(); st.MaxOpenConnections != c.wantOpen {
			t.Errorf("after max_open_connections %d: pool of %d, want %d", c.lim.maxOpen, st.MaxOpenConnections, c.wantOpen)
		}
	}
}
