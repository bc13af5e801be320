// Package sm3 implements the SM3 hash of GB/T 32905-2016, which Chinese
// evidence lists (国密) ask for beside SHA-256. It is a hash.Hash like the
// standard library's and must never be used where a keyed MAC is needed.
package sm3

import (
	"encoding/binary"
	"hash"
	"math/bits"
)

// Size is the size of an SM3 digest in bytes.
const Size = 32

// BlockSize is SM3's block size in bytes.
const BlockSize = 64

var iv = [8]uint32{0x7380166f, 0x4914b2b9, 0x172442d7, 0xda8a0600, 0xa96f30bc, 0x163138aa, 0xe38dee4d, 0xb0fb0e4e}

// tj[j] is T_j rotated left by j, precomputed.
var tj [64]uint32

func init() {
	for j := range 64 {
		t := uint32(0x79cc4519)
		if j >= 16 {
			t = 0x7a879d8a
		}
		tj[j] = bits.RotateLeft32(t, j%32)
	}
}

type digest struct {
	h   [8]uint32
	buf [BlockSize]byte
	n   int    // bytes in buf
	len uint64 // total bytes written
}

// New returns a new SM3 hash.
func New() hash.Hash {
	d := &digest{}
	d.Reset()
	return d
}

// Sum returns the SM3 digest of data.
func Sum(data []byte) [Size]byte {
	d := digest{h: iv}
	d.Write(data)
	var out [Size]byte
	d.sum(out[:0])
	return out
}

func (d *digest) Reset()         { d.h, d.n, d.len = iv, 0, 0 }
func (d *digest) Size() int      { return Size }
func (d *digest) BlockSize() int { return BlockSize }

func (d *digest) Write(p []byte) (int, error) {
	n := len(p)
	d.len += uint64(n)
	if d.n > 0 {
		c := copy(d.buf[d.n:], p)
		d.n += c
		p = p[c:]
		if d.n == BlockSize {
			d.block(d.buf[:])
			d.n = 0
		}
	}
	for len(p) >= BlockSize {
		d.block(p[:BlockSize])
		p = p[BlockSize:]
	}
	d.n += copy(d.buf[:], p)
	return n, nil
}

func (d *digest) Sum(in []byte) []byte {
	c := *d // Sum must not change the state
	return c.sum(in)
}

func (d *digest) sum(in []byte) []byte {
	l := d.len * 8
	pad := [BlockSize + 8]byte{0x80}
	padLen := BlockSize - int((d.len+8)%BlockSize)
	if padLen <= 0 {
		padLen += BlockSize
	}
	binary.BigEndian.PutUint64(pad[padLen:], l)
	d.Write(pad[:padLen+8])
	for _, v := range d.h {
		in = binary.BigEndian.AppendUint32(in, v)
	}
	return in
}

func p0(x uint32) uint32 { return x ^ bits.RotateLeft32(x, 9) ^ bits.RotateLeft32(x, 17) }
func p1(x uint32) uint32 { return x ^ bits.RotateLeft32(x, 15) ^ bits.RotateLeft32(x, 23) }

func (d *digest) block(b []byte) {
	var w [68]uint32
	for i := range 16 {
		w[i] = binary.BigEndian.Uint32(b[4*i:])
	}
	for i := 16; i < 68; i++ {
		w[i] = p1(w[i-16]^w[i-9]^bits.RotateLeft32(w[i-3], 15)) ^ bits.RotateLeft32(w[i-13], 7) ^ w[i-6]
	}
	a, bb, c, dd, e, f, g, h := d.h[0], d.h[1], d.h[2], d.h[3], d.h[4], d.h[5], d.h[6], d.h[7]
	for j := range 64 {
		a12 := bits.RotateLeft32(a, 12)
		ss1 := bits.RotateLeft32(a12+e+tj[j], 7)
		ss2 := ss1 ^ a12
		var ff, gg uint32
		if j < 16 {
			ff, gg = a^bb^c, e^f^g
		} else {
			ff, gg = (a&bb)|(a&c)|(bb&c), (e&f)|(^e&g)
		}
		tt1 := ff + dd + ss2 + (w[j] ^ w[j+4])
		tt2 := gg + h + ss1 + w[j]
		dd, c, bb, a = c, bits.RotateLeft32(bb, 9), a, tt1
		h, g, f, e = g, bits.RotateLeft32(f, 19), e, p0(tt2)
	}
	d.h[0] ^= a
	d.h[1] ^= bb
	d.h[2] ^= c
	d.h[3] ^= dd
	d.h[4] ^= e
	d.h[5] ^= f
	d.h[6] ^= g
	d.h[7] ^= h
}
