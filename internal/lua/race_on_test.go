//go:build race

package lua

// raceEnabled: the race detector is on (sync.Pool then drops items at
// random, so in-process servers such as miniredis allocate far more).
const raceEnabled = true
