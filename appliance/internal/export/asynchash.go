package export

import (
	"encoding/hex"
	"hash"
)

// asyncHash hashes what is written to it in its own goroutine, so copying
// a large file and hashing it use two cores instead of one.
type asyncHash struct {
	h    hash.Hash
	in   chan []byte
	free chan []byte
	done chan string
}

func newAsyncHash(h hash.Hash) *asyncHash {
	a := &asyncHash{h: h, in: make(chan []byte, 4), free: make(chan []byte, 4), done: make(chan string, 1)}
	go func() {
		for b := range a.in {
			a.h.Write(b)
			select {
			case a.free <- b[:0]:
			default:
			}
		}
		a.done <- hex.EncodeToString(a.h.Sum(nil))
	}()
	return a
}

func (a *asyncHash) Write(p []byte) (int, error) {
	var b []byte
	select {
	case b = <-a.free:
	default:
	}
	a.in <- append(b, p...)
	return len(p), nil
}

// sum ends the hashing and returns the digest in hex; the asyncHash
// cannot be used again.
func (a *asyncHash) sum() string {
	close(a.in)
	return <-a.done
}
