//go:build !wasip1

package sdk

import (
	"bytes"
	"fmt"
	"sort"
)

// TestHost stands in for the appliance when a module runs natively (go
// test on the developer's machine): it records what the module emits and
// keeps its state in memory, with the same encoding and status codes as
// the real host. It exists only outside wasip1.
type TestHost struct {
	Alerts  []Alert
	Actions []Action
	Logs    []string
	State   map[string][]byte
	sets    [][][]byte
	folds   []bool
}

// Test is the host natively built modules talk to.
var Test = &TestHost{}

// Reset forgets everything recorded, state and pattern sets included.
func (t *TestHost) Reset() { *t = TestHost{} }

func hostEmit(b []byte) int32 {
	ev, _, ok := Batch(b).Next()
	if !ok {
		return StatusInvalid
	}
	switch ev.Kind() {
	case KindAlert:
		Test.Alerts = append(Test.Alerts, DecodeAlert(ev))
	case KindAction:
		Test.Actions = append(Test.Actions, DecodeAction(ev))
	default:
		return StatusInvalid
	}
	return StatusOK
}

func hostLog(level int32, msg string) {
	Test.Logs = append(Test.Logs, fmt.Sprintf("%d %s", level, msg))
}

func hostKVGet(key string, dst []byte) int32 {
	v, ok := Test.State[key]
	if !ok {
		return StatusNotFound
	}
	if len(v) > cap(dst) {
		return StatusTooSmall
	}
	return int32(copy(dst[:cap(dst)], v))
}

func hostKVSet(key string, v []byte) int32 {
	if Test.State == nil {
		Test.State = map[string][]byte{}
	}
	Test.State[key] = bytes.Clone(v)
	return StatusOK
}

func hostKVDelete(key string) int32 {
	delete(Test.State, key)
	return StatusOK
}

func hostMatchCompile(b []byte, flags uint32) int32 {
	var set [][]byte
	for len(b) > 0 {
		n := int(b[0])
		if n == 0 || 1+n > len(b) {
			return StatusInvalid
		}
		p := b[1 : 1+n]
		if flags&MatchFold != 0 {
			p = bytes.ToLower(p)
		}
		set = append(set, bytes.Clone(p))
		b = b[1+n:]
	}
	Test.sets = append(Test.sets, set)
	Test.folds = append(Test.folds, flags&MatchFold != 0)
	return int32(len(Test.sets) - 1)
}

// hostMatch is a plain, slow matcher with the semantics of the host's.
func hostMatch(set uint32, data []byte, out []uint32) int32 {
	if int(set) >= len(Test.sets) {
		return StatusInvalid
	}
	if Test.folds[set] {
		data = bytes.ToLower(data)
	}
	type hit struct{ at, idx int }
	var hits []hit
	for i, p := range Test.sets[set] {
		if at := bytes.Index(data, p); at >= 0 {
			hits = append(hits, hit{at + len(p), i})
		}
	}
	sort.SliceStable(hits, func(i, j int) bool { return hits[i].at < hits[j].at })
	n := 0
	for _, h := range hits {
		if n == cap(out) {
			break
		}
		out[:cap(out)][n] = uint32(h.idx)
		n++
	}
	return int32(n)
}
