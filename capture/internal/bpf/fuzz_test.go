package bpf

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os/exec"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// FuzzCompile feeds arbitrary text to the parser and compiler: it must never
// panic, and every program it returns must be one the kernel accepts
// (forward jumps in range, at most 4096 instructions, ending in returns).
func FuzzCompile(f *testing.F) {
	for _, c := range expressions {
		f.Add(c.expr)
	}
	for _, s := range []string{"((((", "not not not", "port 80 or", "host ::ffff:1.2.3.4", "vlan vlan vlan vlan 1",
		"ether src 1:2:3:4:5:6:7:8", "net ::/0", "net 0.0.0.0/0", "portrange 5-", "&&||!()"} {
		f.Add(s)
	}
	frames := [][]byte{make([]byte, 14), bytes.Repeat([]byte{0x45}, 200), nil}
	f.Fuzz(func(t *testing.T, expr string) {
		if lp, err := Compile(expr, Options{LinuxVLAN: true}); err == nil {
			require.LessOrEqual(t, len(lp.Raw), maxInsns)
		}
		p, err := Compile(expr, Options{})
		if err != nil {
			return
		}
		require.LessOrEqual(t, len(p.Raw), maxInsns)
		require.Equal(t, uint16(opRet), p.Raw[len(p.Raw)-1].Op)
		for i, r := range p.Raw {
			if r.Op&0x07 == 0x05 { // BPF_JMP
				require.Less(t, i+1+int(max(r.Jt, r.Jf)), len(p.Raw))
			}
		}
		for _, fr := range frames {
			p.Match(fr)
		}
	})
}

// TestRandomAgainstTcpdump compiles random expressions drawn from the
// supported grammar and compares each with tcpdump's program: identical,
// or else identical verdicts on the corpus (reported).
func TestRandomAgainstTcpdump(t *testing.T) {
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed")
	}
	rng := rand.New(rand.NewPCG(7, 7))
	corpus := packetCorpus(t)
	var prim func(depth int) string
	atoms := []func() string{
		func() string { return []string{"ip", "ip6", "arp", "tcp", "udp", "icmp", "icmp6", "vlan"}[rng.IntN(8)] },
		func() string {
			return fmt.Sprintf("%s%shost %s", pickS(rng, "", "ip ", "arp "), pickS(rng, "", "src ", "dst "), pickS(rng, corpusV4...))
		},
		func() string {
			return fmt.Sprintf("%shost %s", pickS(rng, "", "src ", "dst "), pickS(rng, corpusV6...))
		},
		func() string {
			return fmt.Sprintf("%snet %s", pickS(rng, "", "src ", "dst "), pickS(rng, "10.0.0.0/8", "192.168.0.0/16", "10.1.0.0/16", "2001:db8::/32", "fe80::/10"))
		},
		func() string {
			return fmt.Sprintf("%s%sport %d", pickS(rng, "", "tcp ", "udp "), pickS(rng, "", "src ", "dst "), corpusPorts[rng.IntN(len(corpusPorts))])
		},
		func() string {
			return fmt.Sprintf("%sportrange 1000-2000", pickS(rng, "", "tcp ", "udp ", "src ", "dst "))
		},
		func() string {
			return fmt.Sprintf("ether %s %s", pickS(rng, "host", "src", "dst"), pickS(rng, corpusMACs...))
		},
		func() string { return fmt.Sprintf("vlan %d", []int{5, 100, 3}[rng.IntN(3)]) },
	}
	prim = func(depth int) string {
		switch r := rng.IntN(10); {
		case depth > 2 || r < 5:
			return atoms[rng.IntN(len(atoms))]()
		case r < 7:
			return "not " + prim(depth+1)
		default:
			return "(" + prim(depth+1) + pickS(rng, " and ", " or ", " && ", " || ") + prim(depth+1) + ")"
		}
	}
	exactN, semN, rejectN, truncDiff := 0, 0, 0, 0
	for i := 0; i < 300; i++ {
		expr := prim(0) + pickS(rng, " and ", " or ") + prim(0)
		p, err := Compile(expr, Options{})
		out, tdErr := exec.Command("tcpdump", "-ddd", "-y", "EN10MB", expr).CombinedOutput()
		if strings.Contains(string(out), "rejects all packets") {
			require.ErrorIs(t, err, ErrRejectsAll, expr)
			rejectN++
			continue
		}
		require.NoError(t, tdErr, "%s: %s", expr, out)
		require.NoError(t, err, expr)
		ref := parseDDD(t, string(out))
		if equalRaw(p.Raw, ref) {
			exactN++
			continue
		}
		semN++
		t.Logf("not identical, checking verdicts: %s", expr)
		refP := &Program{Raw: ref}
		vm := mustVM(t, ref)
		refP.vm = vm
		for j, pkt := range corpus {
			if refP.Match(pkt.data) == p.Match(pkt.data) {
				continue
			}
			// A load past the end of a frame rejects it, so on frames cut
			// inside the headers the order of loads is observable; libpcap's
			// value numbering sometimes removes loads altogether (it proves
			// "ip or not ip ..." true). Complete frames must agree.
			require.True(t, strings.HasSuffix(pkt.name, "truncated"), "%s: packet %d (%s) differs", expr, j, pkt.name)
			truncDiff++
		}
	}
	t.Logf("random expressions: %d identical to tcpdump -d, %d only semantically equal, %d rejected by both as matching nothing; %d verdicts differ, all on frames truncated inside the headers", exactN, semN, rejectN, truncDiff)
	assert.Positive(t, exactN)
}

func pickS(rng *rand.Rand, s ...string) string { return s[rng.IntN(len(s))] }

func mustVM(t *testing.T, raw []xbpfRaw) *xbpfVM {
	vm, err := newVM(raw)
	require.NoError(t, err, "%s", strings.TrimSpace(Format(raw)))
	return vm
}
