package lua

import (
	"time"

	glua "github.com/yuin/gopher-lua"
)

func testClockGlobals(c *fakeClock) map[string]glua.LGFunction {
	return map[string]glua.LGFunction{
		"test_advance_clock": func(L *glua.LState) int {
			c.advance(time.Duration(float64(L.CheckNumber(1)) * float64(time.Second)))
			return 0
		},
	}
}
