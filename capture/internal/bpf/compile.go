package bpf

import (
	"fmt"
	"strings"

	"golang.org/x/net/bpf"
)

// DefaultSnaplen is what an accepting program returns when Options.Snaplen
// is zero; it is tcpdump's default, so programs compare equal to
// `tcpdump -d`.
const DefaultSnaplen = 262144

// Options controls compilation. The zero value is the documented default.
type Options struct {
	// Snaplen is the value an accepting program returns (bytes kept);
	// 0 means DefaultSnaplen.
	Snaplen uint32
	// LinuxVLAN compiles for a live Linux packet socket, where the kernel
	// has already moved the outermost 802.1Q/802.1ad tag out of the frame
	// into packet metadata: the first "vlan" primitive tests that metadata
	// (SKF_AD_VLAN_TAG_PRESENT, SKF_AD_VLAN_TAG) and shifts no offsets; a
	// later "vlan" tests the next tag in the frame, as usual. Such
	// programs only run in the kernel: Match rejects every frame.
	// libpcap's live programs agree on every expression the afpacket tests
	// try but one kind: after a "vlan" that found no tag in metadata,
	// libpcap reads later primitives four bytes further on, so its
	// "vlan or arp" and "not vlan and arp" miss untagged ARP; here they
	// do not.
	LinuxVLAN bool
}

// Program is a compiled filter.
type Program struct {
	Expr string               // the expression as given
	Raw  []bpf.RawInstruction // classic BPF for SO_ATTACH_FILTER
	// UsesVLAN is set when the program reads the outer 802.1Q tag from
	// the frame bytes ("vlan" compiled without LinuxVLAN), which is right
	// for files but never matches on a Linux socket, where the kernel has
	// stripped that tag.
	UsesVLAN bool

	vm     *bpf.VM
	kernel bool // uses Linux ancillary loads: no user-space Match
}

// Compile compiles expr for Ethernet frames. An empty expression accepts
// every packet.
func Compile(expr string, opts Options) (*Program, error) {
	snap := opts.Snaplen
	if snap == 0 {
		snap = DefaultSnaplen
	}
	n, err := parse(expr, opts.LinuxVLAN)
	if err != nil {
		return nil, err
	}
	accept := &block{ret: true, retK: snap}
	reject := &block{ret: true, retK: 0}
	root := accept
	if n != nil {
		root = optimize(genNode(n)(accept, reject))
		if root == reject {
			return nil, &Error{Expr: expr, Msg: "rejects all packets", Err: ErrRejectsAll}
		}
	}
	raw, err := emit(root)
	if err != nil {
		return nil, &Error{Expr: expr, Msg: err.Error(), Err: ErrTooComplex}
	}
	p := &Program{Expr: expr, Raw: raw, UsesVLAN: usesVLAN(n) && !opts.LinuxVLAN, kernel: opts.LinuxVLAN && usesVLAN(n)}
	insns := make([]bpf.Instruction, len(raw))
	for i, r := range raw {
		insns[i] = r.Disassemble()
	}
	if !p.kernel {
		// x/net/bpf's VM validates the program (it knows no ancillary
		// loads, hence not for kernel-only programs).
		if p.vm, err = bpf.NewVM(insns); err != nil {
			// A generator bug, not a user error: never hand this to the kernel.
			return nil, fmt.Errorf("filter: internal error: generated program is invalid: %w", err)
		}
	}
	return p, nil
}

func usesVLAN(n *node) bool {
	if n == nil {
		return false
	}
	if n.kind == nPrim {
		return n.p.kind == pVLAN
	}
	return usesVLAN(n.l) || usesVLAN(n.r)
}

// Match runs the program on one Ethernet frame in user space and reports
// whether it is accepted. It is safe for concurrent use. Programs compiled
// with LinuxVLAN that test the tag metadata only run in the kernel, and
// Match rejects every frame for them.
func (p *Program) Match(frame []byte) bool {
	if p.kernel {
		return false
	}
	if k, ok := run(p.Raw, frame); ok {
		return k > 0
	}
	n, err := p.vm.Run(frame)
	return err == nil && n > 0
}

// String renders the program the way `tcpdump -d` does.
func (p *Program) String() string { return Format(p.Raw) }

// Format renders raw instructions in `tcpdump -d` format, for the
// instructions this package emits (others are shown as raw numbers).
func Format(raw []bpf.RawInstruction) string {
	var b strings.Builder
	for i, r := range raw {
		var op, arg string
		switch r.Op {
		case opLdW, opLdH, opLdB:
			op, arg = map[uint16]string{opLdW: "ld", opLdH: "ldh", opLdB: "ldb"}[r.Op], fmt.Sprintf("[%d]", r.K)
			if name, ok := map[uint32]string{skfAdOff + skfAdVLANTagPresent: "vlanp", skfAdOff + skfAdVLANTag: "vlan_tci"}[r.K]; ok {
				arg = "[" + name + "]"
			}
		case opLdIndW, opLdIndH, opLdIndB:
			op, arg = map[uint16]string{opLdIndW: "ld", opLdIndH: "ldh", opLdIndB: "ldb"}[r.Op], fmt.Sprintf("[x + %d]", r.K)
		case opLdxMSH:
			op, arg = "ldxb", fmt.Sprintf("4*([%d]&0xf)", r.K)
		case opAndK:
			op, arg = "and", fmt.Sprintf("#0x%x", r.K)
		case opRet:
			op, arg = "ret", fmt.Sprintf("#%d", r.K)
		case opJeq, opJgt, opJge, opJset:
			op = map[uint16]string{opJeq: "jeq", opJgt: "jgt", opJge: "jge", opJset: "jset"}[r.Op]
			fmt.Fprintf(&b, "(%03d) %-8s %-16s jt %d\tjf %d\n", i, op, fmt.Sprintf("#0x%x", r.K), i+1+int(r.Jt), i+1+int(r.Jf))
			continue
		default:
			op, arg = fmt.Sprintf("op%#x", r.Op), fmt.Sprintf("jt %d jf %d k %d", r.Jt, r.Jf, r.K)
		}
		fmt.Fprintf(&b, "(%03d) %-8s %s\n", i, op, arg)
	}
	return b.String()
}
