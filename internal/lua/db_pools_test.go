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
