// Command hostile is a test module that misbehaves as its config says:
// loop, membomb, flood, escape, fail or panic. It must never be shipped.
package main

import (
	"os"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&hostile{}) }

type hostile struct{ do string }

var (
	sink [][]byte
	spun uint64
)

func (h *hostile) Init(config []byte) error { h.do = string(config); return nil }

func (h *hostile) Batch(b sdk.Batch) error {
	switch h.do {
	case "loop":
		n := 0
		for {
			n++
		}
	case "membomb":
		for {
			sink = append(sink, make([]byte, 32<<20))
		}
	case "flood":
		for i := 0; i < 1_000_000; i++ {
			sdk.EmitAlert(&sdk.Alert{Signature: "flood"})
		}
	case "spin": // 1<<20 iterations of xorshift, for the cost of interruption
		x := uint64(88172645463325252)
		for i := 0; i < 1<<20; i++ {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
		}
		spun = x
	case "panic":
		panic("hostile module panics")
	case "fail":
		return os.ErrInvalid
	case "escape":
		for _, p := range []string{"/target/ok.txt", "/target/../secret.txt", "/target/link/secret.txt", "/target/filelink", "/secret.txt", "/etc/passwd"} {
			b, err := os.ReadFile(p)
			res := "read " + string(b)
			if err != nil {
				res = "error " + err.Error()
			}
			sdk.EmitAlert(&sdk.Alert{Signature: p, Metadata: []string{"result=" + res}})
		}
		h.do = "done"
	}
	return nil
}

func (h *hostile) Flush() error { return nil }
