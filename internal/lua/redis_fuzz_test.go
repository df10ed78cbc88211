package lua

import (
	"context"
	"sort"
	"testing"

	"github.com/redis/go-redis/v9"
	glua "github.com/yuin/gopher-lua"
)

// FuzzRedisPipelineRows feeds redis_pipeline's row parser rows of any
// shape (every command name, unknown ones, arguments of every Lua type,
// missing ones): it never panics, and either refuses the batch or queues
// exactly one command per row. Nothing is sent.
func FuzzRedisPipelineRows(f *testing.F) {
	f.Add([]byte{0, 2, 's', 'k', 'n'})
	f.Add([]byte{7, 3, 't', 'b', 'f', 200, 1, 'x'})
	f.Add([]byte{255, 0})
	names := []string{"run_script", "unknown", "EVALSHA", ""}
	for name := range pipeCommands {
		names = append(names, name)
	}
	for name := range pipeMoreCommands {
		names = append(names, name)
	}
	sort.Strings(names)
	e, err := NewEngine(Options{})
	if err != nil {
		f.Fatal(err)
	}
	defer e.Close()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	defer client.Close()
	redisState(e.host).remember("known", redisScript{sha: "0123", source: "return 1"})
	f.Fuzz(func(t *testing.T, data []byte) {
		L := glua.NewState()
		defer L.Close()
		rows := L.NewTable()
		next := func() byte {
			if len(data) == 0 {
				return 0
			}
			b := data[0]
			data = data[1:]
			return b
		}
		for len(data) > 0 && rows.Len() < 64 {
			row := L.NewTable()
			row.Append(glua.LString(names[int(next())%len(names)]))
			for n := int(next() % 6); n > 0; n-- {
				switch next() % 7 {
				case 0:
					row.Append(glua.LString([]byte{next(), next()}))
				case 1:
					row.Append(glua.LNumber(float64(int8(next())) / 3))
				case 2:
					row.Append(glua.LBool(next()%2 == 0))
				case 3:
					sub := L.NewTable()
					for k := int(next() % 4); k > 0; k-- {
						sub.Append(glua.LString("known"))
					}
					row.Append(sub)
				case 4:
					row.RawSetInt(row.Len()+2, glua.LString("after a hole"))
				case 5:
					row.Append(L.NewFunction(func(*glua.LState) int { return 0 }))
				default:
					row.Append(glua.LString("known"))
				}
			}
			if next()%16 == 0 {
				rows.Append(glua.LNumber(1)) // a row that is not a table
			} else {
				rows.Append(row)
			}
		}
		r := &scriptRun{engine: e, ctx: context.Background()}
		queued, err := r.queueRows(client.Pipeline(), rows)
		if err == nil && len(queued) != rows.Len() {
			t.Fatalf("%d rows queued as %d commands", rows.Len(), len(queued))
		}
	})
}
