package bpf

import (
	"encoding/binary"

	"golang.org/x/net/bpf"
)

// run interprets the instructions this package emits, with the kernel's
// semantics: a load past the end of the frame rejects it. It is an order
// of magnitude faster than golang.org/x/net/bpf's VM, which Match falls
// back to for any other opcode (never produced by Compile).
func run(prog []bpf.RawInstruction, pkt []byte) (uint32, bool) {
	var a, x uint32
	n := uint32(len(pkt))
	for pc := 0; pc < len(prog); pc++ {
		in := prog[pc]
		switch in.Op {
		case opLdW, opLdH, opLdB, opLdIndW, opLdIndH, opLdIndB:
			off := in.K
			if in.Op == opLdIndW || in.Op == opLdIndH || in.Op == opLdIndB {
				off += x
				if off < x { // overflow
					return 0, true
				}
			}
			switch in.Op {
			case opLdW, opLdIndW:
				if off > n || n-off < 4 {
					return 0, true
				}
				a = binary.BigEndian.Uint32(pkt[off:])
			case opLdH, opLdIndH:
				if off > n || n-off < 2 {
					return 0, true
				}
				a = uint32(binary.BigEndian.Uint16(pkt[off:]))
			default:
				if off >= n {
					return 0, true
				}
				a = uint32(pkt[off])
			}
		case opLdxMSH:
			if in.K >= n {
				return 0, true
			}
			x = uint32(pkt[in.K]&0xf) * 4
		case opAndK:
			a &= in.K
		case opJeq, opJgt, opJge, opJset:
			var t bool
			switch in.Op {
			case opJeq:
				t = a == in.K
			case opJgt:
				t = a > in.K
			case opJge:
				t = a >= in.K
			default:
				t = a&in.K != 0
			}
			if t {
				pc += int(in.Jt)
			} else {
				pc += int(in.Jf)
			}
		case opRet:
			return in.K, true
		default:
			return 0, false
		}
	}
	return 0, true
}
