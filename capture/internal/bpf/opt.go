package bpf

import (
	"fmt"

	"golang.org/x/net/bpf"
)

// maxInsns is the kernel's BPF_MAXINSNS.
const maxInsns = 4096

// pred is a fact known on an edge: the test of some block came out sense.
type pred struct {
	akey  string
	jop   uint16
	k     uint32
	sense bool
}

// topo returns the blocks reachable from root, each after all its
// predecessors, and the predecessor lists.
func topo(root *block) ([]*block, map[*block][]*block) {
	preds := map[*block][]*block{}
	seen := map[*block]bool{}
	var post []*block
	var visit func(b *block)
	visit = func(b *block) {
		if seen[b] {
			return
		}
		seen[b] = true
		if !b.ret {
			visit(b.jf)
			visit(b.jt)
		}
		post = append(post, b)
	}
	visit(root)
	order := make([]*block, len(post))
	for i, b := range post {
		order[len(post)-1-i] = b
	}
	for _, b := range order {
		if !b.ret {
			preds[b.jt] = append(preds[b.jt], b)
			if b.jf != b.jt {
				preds[b.jf] = append(preds[b.jf], b)
			}
		}
	}
	return order, preds
}

// known computes, for every block, the facts that hold on every path into
// it (libpcap's edge dominators, restricted to branch outcomes).
func known(order []*block, preds map[*block][]*block) map[*block]map[pred]bool {
	in := map[*block]map[pred]bool{}
	for _, b := range order {
		var set map[pred]bool
		for _, p := range preds[b] {
			for _, sense := range []bool{true, false} {
				if (sense && p.jt != b) || (!sense && p.jf != b) {
					continue
				}
				e := edgeFacts(in[p], p, sense)
				if set == nil {
					set = e
					continue
				}
				for f := range set {
					if !e[f] {
						delete(set, f)
					}
				}
			}
		}
		if set == nil {
			set = map[pred]bool{}
		}
		in[b] = set
	}
	return in
}

func edgeFacts(in map[pred]bool, p *block, sense bool) map[pred]bool {
	e := make(map[pred]bool, len(in)+1)
	for f := range in {
		e[f] = true
	}
	e[pred{p.akey(), p.jop, p.k, sense}] = true
	return e
}

// decide reports whether facts determine the outcome of c's test (libpcap's
// fold_edge): the same comparison on the same value, or an equality
// known true against a different constant.
func decide(facts map[pred]bool, c *block) (outcome, ok bool) {
	ak := c.akey()
	for f := range facts {
		if f.akey != ak || f.jop != c.jop {
			continue
		}
		if f.k == c.k {
			return f.sense, true
		}
		if f.jop == opJeq && f.sense {
			return false, true
		}
	}
	return false, false
}

// optimize rewrites the graph to a fixed point: thread jumps over tests
// whose outcome is known, skip tests with both branches equal, pull tests
// of the same value together. Like libpcap, blocks generated separately
// stay separate until the end (internCode), after redundant loads are
// gone: merging earlier would join blocks that libpcap keeps apart
// because one of them no longer needs its load.
func optimize(root *block) *block {
	for {
		for !root.ret && root.jt == root.jf {
			root = root.jt
		}
		if thread(root) {
			continue
		}
		var pulled bool
		if root, pulled = pullup(root); pulled {
			continue
		}
		return root
	}
}

func thread(root *block) bool {
	order, preds := topo(root)
	in := known(order, preds)
	for _, p := range order {
		if p.ret {
			continue
		}
		for _, sense := range []bool{true, false} {
			edge := &p.jf
			if sense {
				edge = &p.jt
			}
			facts := edgeFacts(in[p], p, sense)
			c := *edge
			for !c.ret {
				if c.jt == c.jf {
					c = c.jt
					continue
				}
				out, ok := decide(facts, c)
				if !ok {
					break
				}
				if out {
					c = c.jt
				} else {
					c = c.jf
				}
			}
			if c != *edge {
				*edge = c
				return true // facts downstream changed: recompute
			}
		}
	}
	return false
}

// emit decides which loads are redundant (the value is already in A or X
// on every path in), lays the blocks out in libpcap's order (a block, then
// its true subtree, then its false subtree) and assembles them.
func emit(root *block) ([]bpf.RawInstruction, error) {
	order, preds := topo(root)
	decideLoads(order, preds)
	// libpcap's peephole: "and #m; jeq #0" becomes "jset #m" with the
	// branches swapped when no successor uses the masked value in A.
	usesA := func(b *block) bool { return !b.ret && !b.emitA }
	for _, b := range order {
		if !b.ret && b.jop == opJeq && b.k == 0 && b.mask != 0xffffffff && b.emitA && !usesA(b.jt) && !usesA(b.jf) {
			b.jop, b.k, b.mask = opJset, b.mask, 0xffffffff
			b.jt, b.jf = b.jf, b.jt
		}
	}
	decideLoads(order, preds)
	return layout(internCode(root))
}

// decideLoads marks the loads of A and X that are needed: those whose value
// is not already in the register on every path into the block.
func decideLoads(order []*block, preds map[*block][]*block) {
	exitX := map[*block]string{}
	for _, b := range order {
		if b.ret {
			continue
		}
		entryA, entryX := "", ""
		for i, p := range preds[b] {
			if i == 0 {
				entryA, entryX = p.akey(), exitX[p]
				continue
			}
			if p.akey() != entryA {
				entryA = ""
			}
			if exitX[p] != entryX {
				entryX = ""
			}
		}
		b.emitX = b.indexed && entryX != b.xkey()
		b.emitA = b.emitX || entryA != b.akey()
		b.skipLoad = b.emitA && !b.emitX && b.mask != 0xffffffff && entryA == b.loadKey()
		exitX[b] = entryX
		if b.indexed {
			exitX[b] = b.xkey()
		}
	}
}

// layout places the blocks and assembles them.
func layout(root *block) ([]bpf.RawInstruction, error) {
	// Layout: libpcap's convert_code_r fills from the end, visiting the
	// false branch first, then the true branch, then the block itself.
	var layout []*block
	seen := map[*block]bool{}
	var visit func(b *block)
	visit = func(b *block) {
		if seen[b] {
			return
		}
		seen[b] = true
		if !b.ret {
			visit(b.jf)
			visit(b.jt)
		}
		layout = append(layout, b)
	}
	visit(root)
	for i, j := 0, len(layout)-1; i < j; i, j = i+1, j-1 {
		layout[i], layout[j] = layout[j], layout[i]
	}
	n := 0
	for _, b := range layout {
		b.pos = n
		n += b.len()
	}
	if n > maxInsns {
		return nil, fmt.Errorf("%w: %d instructions, the kernel accepts %d", ErrTooComplex, n, maxInsns)
	}
	out := make([]bpf.RawInstruction, 0, n)
	for _, b := range layout {
		if b.ret {
			out = append(out, bpf.RawInstruction{Op: opRet, K: b.retK})
			continue
		}
		if b.emitX {
			out = append(out, bpf.RawInstruction{Op: opLdxMSH, K: b.xOff})
		}
		if b.emitA && !b.skipLoad {
			op := map[uint32]uint16{1: opLdB, 2: opLdH, 4: opLdW}[b.size]
			if b.indexed {
				op = map[uint32]uint16{1: opLdIndB, 2: opLdIndH, 4: opLdIndW}[b.size]
			}
			out = append(out, bpf.RawInstruction{Op: op, K: b.off})
		}
		if b.emitA {
			if b.mask != 0xffffffff {
				out = append(out, bpf.RawInstruction{Op: opAndK, K: b.mask})
			}
		}
		here := len(out) + 1
		jt, jf := b.jt.pos-here, b.jf.pos-here
		if jt < 0 || jf < 0 || jt > 255 || jf > 255 {
			return nil, fmt.Errorf("%w: a jump spans more than 255 instructions", ErrTooComplex)
		}
		out = append(out, bpf.RawInstruction{Op: b.jop, Jt: uint8(jt), Jf: uint8(jf), K: b.k})
	}
	return out, nil
}

// internCode merges blocks whose emitted code and successors are
// identical, as libpcap's intern_blocks does after load elimination. A
// block is a pure function of (packet, A, X) at its entry, so merging
// identical code never changes a verdict even where the merged blocks
// were reached with different values in A.
func internCode(root *block) *block {
	order, _ := topo(root)
	canon := map[string]*block{}
	repl := map[*block]*block{}
	ids := map[*block]int{}
	for i := len(order) - 1; i >= 0; i-- {
		b := order[i]
		var sig string
		if b.ret {
			sig = fmt.Sprintf("ret %d", b.retK)
		} else {
			if r := repl[b.jt]; r != nil {
				b.jt = r
			}
			if r := repl[b.jf]; r != nil {
				b.jf = r
			}
			x, a := "-", "-"
			if b.emitX {
				x = b.xkey()
			}
			if b.emitA {
				a = b.akey()
				if b.skipLoad {
					a = fmt.Sprintf("and %x", b.mask)
				}
			}
			sig = fmt.Sprintf("%s %s %x %x %d %d", x, a, b.jop, b.k, ids[b.jt], ids[b.jf])
		}
		if c, ok := canon[sig]; ok {
			repl[b] = c
			continue
		}
		canon[sig] = b
		ids[b] = len(canon)
	}
	if r := repl[root]; r != nil {
		root = r
	}
	return root
}

func (b *block) len() int {
	if b.ret {
		return 1
	}
	n := 1
	if b.emitX {
		n++
	}
	if b.emitA {
		if !b.skipLoad {
			n++
		}
		if b.mask != 0xffffffff {
			n++
		}
	}
	return n
}

// pullup is libpcap's or_pullup and and_pullup: in a chain of tests that
// all lead to the same place on one branch, a later test of the value the
// chain started with is moved up next to it, so the same header field is
// tested before the chain moves on to another one. Besides matching
// libpcap's layout, this matters for verdicts: a load beyond the end of a
// short frame rejects the packet, so the order of loads is observable.
func pullup(root *block) (*block, bool) {
	order, preds := topo(root)
	dom := dominators(order, preds)
	// libpcap visits blocks by level (distance from the returns), lowest
	// first; within a level in reverse order of depth-first completion.
	level := map[*block]int{}
	var byLevel [][]*block
	seen := map[*block]bool{}
	var visit func(b *block)
	visit = func(b *block) {
		if seen[b] {
			return
		}
		seen[b] = true
		if b.ret {
			level[b] = 0
			return
		}
		visit(b.jt)
		visit(b.jf)
		l := max(level[b.jt], level[b.jf]) + 1
		level[b] = l
		for len(byLevel) <= l {
			byLevel = append(byLevel, nil)
		}
		byLevel[l] = append([]*block{b}, byLevel[l]...)
	}
	visit(root)
	for l := 1; l < len(byLevel); l++ {
		for _, b := range byLevel[l] {
			for _, orSide := range []bool{true, false} {
				if r, ok := pullOne(root, b, preds[b], dom, orSide); ok {
					return r, true
				}
			}
		}
	}
	return root, false
}

func dominators(order []*block, preds map[*block][]*block) map[*block]map[*block]bool {
	dom := map[*block]map[*block]bool{}
	for _, b := range order {
		var set map[*block]bool
		for _, p := range preds[b] {
			if set == nil {
				set = map[*block]bool{}
				for d := range dom[p] {
					set[d] = true
				}
				continue
			}
			for d := range set {
				if !dom[p][d] {
					delete(set, d)
				}
			}
		}
		if set == nil {
			set = map[*block]bool{}
		}
		set[b] = true
		dom[b] = set
	}
	return dom
}

// pullOne tries or_pullup (orSide: chains along false branches sharing the
// true target) or and_pullup (chains along true branches sharing the false
// target) at b.
func pullOne(root, b *block, in []*block, dom map[*block]map[*block]bool, orSide bool) (*block, bool) {
	if len(in) == 0 {
		return root, false
	}
	val := in[0].akey()
	for _, p := range in[1:] {
		if p.akey() != val {
			return root, false
		}
	}
	// same and next select the branch the chain shares and the branch it
	// walks along.
	same := func(x *block) *block {
		if orSide {
			return x.jt
		}
		return x.jf
	}
	next := func(x *block) **block {
		if orSide {
			return &x.jf
		}
		return &x.jt
	}
	var diffp **block
	if in[0].jt == b {
		diffp = &in[0].jt
	} else {
		diffp = &in[0].jf
	}
	atTop := true
	for {
		d := *diffp
		if d.ret || same(d) != same(b) || !dom[d][b] {
			return root, false
		}
		if d.akey() != val {
			break
		}
		diffp = next(d)
		atTop = false
	}
	samep := next(*diffp)
	for {
		s := *samep
		if s.ret || same(s) != same(b) || !dom[s][b] {
			return root, false
		}
		if s.akey() == val {
			break
		}
		samep = next(s)
	}
	pull := *samep
	*samep = *next(pull)
	*next(pull) = *diffp
	if atTop {
		for _, p := range in {
			if p.jt == b {
				p.jt = pull
			}
			if p.jf == b {
				p.jf = pull
			}
		}
		if root == b {
			root = pull
		}
	} else {
		*diffp = pull
	}
	return root, true
}
