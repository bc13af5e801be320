package reasm

import "sync"

// chunkSize is the unit of stream buffering. Data is copied once, into
// fixed chunks recycled through a bounded free list, instead of into a
// growing slice that is copied again as it grows and compacts.
const chunkSize = 8 << 10

// free recycles chunks across streams (and analyses), last freed first:
// that one is likely still in the processor's cache. It is bounded: beyond
// it, chunks go to the garbage collector.
var free struct {
	sync.Mutex
	c [][]byte
}

const maxFreeChunks = 4096

func getChunk() []byte {
	free.Lock()
	if n := len(free.c); n > 0 {
		c := free.c[n-1]
		free.c = free.c[:n-1]
		free.Unlock()
		return c[:0]
	}
	free.Unlock()
	return make([]byte, 0, chunkSize)
}

func putChunk(c []byte) {
	free.Lock()
	if len(free.c) < maxFreeChunks {
		free.c = append(free.c, c)
	}
	free.Unlock()
}

// chunks is a FIFO byte buffer made of fixed-size chunks.
type chunks struct {
	c   [][]byte
	off int // read offset in c[0]
	n   int // bytes buffered
}

func (b *chunks) append(data []byte) {
	for len(data) > 0 {
		if len(b.c) == 0 || len(b.c[len(b.c)-1]) == chunkSize {
			b.c = append(b.c, getChunk())
		}
		last := &b.c[len(b.c)-1]
		k := min(chunkSize-len(*last), len(data))
		*last = append(*last, data[:k]...)
		data = data[k:]
		b.n += k
	}
}

// front returns up to n bytes from the front, contiguous in one chunk.
func (b *chunks) front(n int) []byte {
	if len(b.c) == 0 {
		return nil
	}
	p := b.c[0][b.off:]
	return p[:min(n, len(p))]
}

// consume drops n bytes from the front (n <= len(front(n))).
func (b *chunks) consume(n int) {
	b.off += n
	b.n -= n
	if b.off == len(b.c[0]) && (len(b.c) > 1 || len(b.c[0]) == chunkSize || b.n == 0) {
		putChunk(b.c[0])
		b.c[0] = nil
		b.c = b.c[1:]
		b.off = 0
		if len(b.c) == 0 {
			b.c = nil
		}
	}
}

func (b *chunks) held() int { return len(b.c) * chunkSize }

func (b *chunks) release() {
	for _, c := range b.c {
		putChunk(c)
	}
	*b = chunks{}
}
