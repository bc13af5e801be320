package bpf

import (
	"bufio"
	"bytes"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	xbpf "golang.org/x/net/bpf"
)

var update = flag.Bool("update", false, "rewrite testdata/tcpdump.golden from `tcpdump -ddd -y EN10MB`")

const goldenPath = "testdata/tcpdump.golden"

// How each expression is checked against libpcap.
const (
	exact    = "exact"    // instruction-for-instruction identical to tcpdump -d
	semantic = "semantic" // identical verdicts on the packet corpus (libpcap's or/and pull-up reorders these)
)

// expressions is every supported form, and a few combinations of each.
var expressions = []struct {
	expr string
	mode string
}{
	{"", exact},
	{"ip", exact},
	{"ip6", exact},
	{"arp", exact},
	{"tcp", exact},
	{"udp", exact},
	{"icmp", exact},
	{"icmp6", exact},
	{"host 10.0.0.1", exact},
	{"src host 10.0.0.1", exact},
	{"dst host 10.0.0.1", exact},
	{"src 10.0.0.1", exact},
	{"ip host 1.2.3.4", exact},
	{"ip src host 1.2.3.4", exact},
	{"arp host 10.0.0.1", exact},
	{"host ::1", exact},
	{"ip6 host fe80::1", exact},
	{"dst host 2001:db8::5", exact},
	{"net 10.0.0.0/8", exact},
	{"net 10.0.0.1", exact},
	{"src net 10.1.0.0/16", exact},
	{"dst net 192.168.1.0/24", exact},
	{"ip net 172.16.0.0/12", exact},
	{"net 2001:db8::/32", exact},
	{"ip6 net fe80::/10", exact},
	{"ip6 src net 2001:db8::/48", exact},
	{"net 2001:db8::/64", exact},
	{"port 53", exact},
	{"src port 53", exact},
	{"dst port 53", exact},
	{"tcp port 80", exact},
	{"udp dst port 53", exact},
	{"tcp src port 443", exact},
	{"portrange 1000-2000", exact},
	{"portrange 2000-1000", exact},
	{"tcp portrange 1-1023", exact},
	{"udp src portrange 1-1023", exact},
	{"dst portrange 6000-6063", exact},
	{"vlan", exact},
	{"vlan 100", exact},
	{"vlan and ip", exact},
	{"vlan 5 and tcp", exact},
	{"vlan 100 and udp port 53", exact},
	{"ether host 01:02:03:04:05:06", exact},
	{"ether src 01:02:03:04:05:06", exact},
	{"ether dst ff:ff:ff:ff:ff:ff", exact},
	{"ether src host 00:11:22:33:44:55", exact},
	{"ether dst host 00:11:22:33:44:55", exact},
	{"not tcp", exact},
	{"! ip6", exact},
	{"not port 22", exact},
	{"tcp or udp", exact},
	{"tcp || udp || icmp", exact},
	{"ip or ip6", exact},
	{"tcp and port 80", exact},
	{"tcp && port 80", exact},
	{"udp and dst port 53", exact},
	{"host 10.0.0.1 and not port 22", exact},
	{"net 192.168.0.0/16 or net 10.0.0.0/8", exact},
	{"icmp or icmp6", exact},
	{"(tcp or udp) and net 10.0.0.0/8", exact},
	{"!ip6 && (udp || icmp)", exact},
	{"net 10.0.0.0/8 and not net 10.1.0.0/16", exact},
	{"ether src 01:02:03:04:05:06 and not arp", exact},
	{"not vlan", exact},
	{"port 80 or 443", exact},
	{"not (port 22 or port 53)", exact},
	{"host 10.0.0.1 or host 10.0.0.2", exact},
	{"tcp and (port 22 or port 80)", exact},
	{"src host 10.0.0.1 and dst port 53 or icmp", exact},
	{"host 10.0.0.1 and (port 53 or portrange 1000-2000)", exact},
	{"(host 10.0.0.1 or net 192.168.0.0/16) and (tcp port 22 or udp port 53)", exact},
	{"not ether src 01:02:03:04:05:06 and (vlan or arp)", exact},
	{"ip6 and not icmp6 or arp", exact},
	{"tcp dst portrange 1000-2000 or udp src port 53", exact},
	{"not (src net 10.0.0.0/8 or dst net 2001:db8::/32)", exact},
	{"not (tcp or udp) and not (port 1 or port 2 or port 3)", exact},
	{"((ip and tcp) or (ip6 and udp)) and not host 10.0.0.2", exact},
	{"vlan 5 and (vlan 100 or ip)", exact},
	{"ether host 01:02:03:04:05:06 or ether host 00:11:22:33:44:55 or host 10.0.0.1", exact},
	{"port 1 or port 22 or port 53 or port 80 or port 443 or port 1000", exact},
	{"(tcp or udp) and (src port 22 or dst port 80) and not (net 10.1.0.0/16 or host ::1)", exact},
}

// tcpdumpPrograms returns libpcap's program for every expression: from
// tcpdump when it is installed, otherwise from the golden file it wrote.
func tcpdumpPrograms(t *testing.T) map[string][]xbpf.RawInstruction {
	t.Helper()
	out := map[string][]xbpf.RawInstruction{}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		if *update {
			t.Fatal("-update needs tcpdump")
		}
		f, err := os.ReadFile(goldenPath)
		if err != nil {
			t.Skipf("tcpdump is not installed and %s is missing: %v", goldenPath, err)
		}
		t.Logf("tcpdump is not installed: comparing with %s", goldenPath)
		for _, sec := range strings.Split(string(f), "## ")[1:] {
			expr, body, _ := strings.Cut(sec, "\n")
			out[expr] = parseDDD(t, body)
		}
		return out
	}
	var golden bytes.Buffer
	for _, c := range expressions {
		cmd := exec.Command("tcpdump", "-ddd", "-y", "EN10MB", c.expr)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		b, err := cmd.Output()
		require.NoError(t, err, "tcpdump -ddd %q: %s", c.expr, stderr.String())
		out[c.expr] = parseDDD(t, string(b))
		fmt.Fprintf(&golden, "## %s\n%s", c.expr, b)
	}
	if *update {
		require.NoError(t, os.WriteFile(goldenPath, golden.Bytes(), 0o644))
	} else if f, err := os.ReadFile(goldenPath); err == nil && !bytes.Equal(f, golden.Bytes()) {
		t.Logf("the installed tcpdump disagrees with %s (a different libpcap?); using tcpdump; run with -update to record it", goldenPath)
	}
	return out
}

// parseDDD reads `tcpdump -ddd` output: a count, then "code jt jf k" lines.
func parseDDD(t *testing.T, s string) []xbpf.RawInstruction {
	t.Helper()
	sc := bufio.NewScanner(strings.NewReader(s))
	require.True(t, sc.Scan())
	n, err := strconv.Atoi(strings.TrimSpace(sc.Text()))
	require.NoError(t, err)
	var insns []xbpf.RawInstruction
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		require.Len(t, f, 4, "line %q", sc.Text())
		var v [4]uint64
		for i := range f {
			v[i], err = strconv.ParseUint(f[i], 10, 32)
			require.NoError(t, err)
		}
		insns = append(insns, xbpf.RawInstruction{Op: uint16(v[0]), Jt: uint8(v[1]), Jf: uint8(v[2]), K: uint32(v[3])})
	}
	require.Len(t, insns, n)
	return insns
}

func TestAgainstTcpdump(t *testing.T) {
	want := tcpdumpPrograms(t)
	corpus := packetCorpus(t)
	var nExact, nSemantic int
	for _, c := range expressions {
		t.Run(c.expr, func(t *testing.T) {
			p, err := Compile(c.expr, Options{})
			require.NoError(t, err)
			ref := want[c.expr]
			require.NotNil(t, ref, "no libpcap program for %q (run with -update)", c.expr)
			same := equalRaw(p.Raw, ref)
			switch c.mode {
			case exact:
				require.True(t, same, "program differs from tcpdump -d\nours:\n%s\ntcpdump:\n%s", p, Format(ref))
				nExact++
			case semantic:
				if same {
					t.Logf("%q is now identical to tcpdump's program: mark it exact", c.expr)
				}
				nSemantic++
			}
			// Every expression, exact or not, also runs over the corpus.
			vm, err := xbpf.NewVM(disassemble(ref))
			require.NoError(t, err)
			accepted := 0
			for i, pkt := range corpus {
				n, err := vm.Run(pkt.data)
				require.NoError(t, err)
				if n > 0 {
					accepted++
				}
				if (n > 0) != p.Match(pkt.data) {
					require.Failf(t, "verdict differs", "packet %d (%s)\nours:\n%s\ntcpdump:\n%s", i, pkt.name, p, Format(ref))
				}
			}
			if c.mode == semantic {
				// The corpus must actually separate packets for the proof to mean anything.
				assert.Positive(t, accepted, "corpus has no packet matching %q", c.expr)
				assert.Less(t, accepted, len(corpus), "corpus has no packet rejected by %q", c.expr)
			}
			t.Logf("%s: %d/%d packets accepted by both", c.mode, accepted, len(corpus))
		})
	}
	t.Logf("%d expressions identical to tcpdump -d, %d semantically equal over %d packets", nExact, nSemantic, len(corpus))
}

func equalRaw(a, b []xbpf.RawInstruction) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func disassemble(raw []xbpf.RawInstruction) []xbpf.Instruction {
	out := make([]xbpf.Instruction, len(raw))
	for i, r := range raw {
		out[i] = r.Disassemble()
	}
	return out
}

func TestErrors(t *testing.T) {
	for _, c := range []struct {
		expr string
		want error
		msg  string
	}{
		{"host example.com", ErrUnsupported, "'host example.com (only IPv4 and IPv6 literals, no names)' is not supported; supported: ip, ip6"},
		{"port http", ErrUnsupported, "'port http"},
		{"gateway 10.0.0.1", ErrUnsupported, "'gateway' is not supported"},
		{"ip proto 47", ErrUnsupported, "'proto' is not supported"},
		{"tcp[13] & 2 != 0", ErrUnsupported, "not supported"},
		{"src or dst host 10.0.0.1", ErrUnsupported, "src or dst"},
		{"tcp host 10.0.0.1", ErrUnsupported, "'tcp host'"},
		{"ether proto 0x800", ErrUnsupported, "'ether proto'"},
		{"(tcp", ErrSyntax, "missing ')'"},
		{"tcp)", ErrSyntax, "unbalanced ')'"},
		{"tcp and", ErrSyntax, "ends early"},
		{"host", ErrSyntax, "host needs a value"},
		{"net 10.0.0.1/8", ErrSyntax, "non-network bits"},
		{"ip6 host 10.0.0.1", ErrSyntax, "needs an IPv6 address"},
		{"ip host ::1", ErrSyntax, "needs an IPv4 address"},
		{"vlan 5000", ErrSyntax, "out of range"},
		{"tcp & udp", ErrUnsupported, "'&' (arithmetic"},
		{"port 70000", ErrUnsupported, "port 70000"},
	} {
		t.Run(c.expr, func(t *testing.T) {
			_, err := Compile(c.expr, Options{})
			require.Error(t, err)
			assert.ErrorIs(t, err, c.want)
			assert.Contains(t, err.Error(), c.msg)
			var e *Error
			assert.True(t, errors.As(err, &e))
		})
	}
}

func TestUsesVLANAndSnaplen(t *testing.T) {
	p, err := Compile("tcp or vlan 3", Options{Snaplen: 96})
	require.NoError(t, err)
	assert.True(t, p.UsesVLAN)
	assert.Equal(t, uint32(96), p.Raw[len(p.Raw)-2].K)
	p, err = Compile("tcp", Options{})
	require.NoError(t, err)
	assert.False(t, p.UsesVLAN)
}

// corpusFiles lists the Ethernet captures the semantic check replays.
func corpusFiles(t *testing.T) []string {
	files, _ := filepath.Glob("../../../../shared/testdata/pcap/*.pcap")
	if len(files) == 0 {
		t.Log("no shared captures found; the corpus is synthesised packets only")
	}
	return files
}

type (
	xbpfRaw = xbpf.RawInstruction
	xbpfVM  = xbpf.VM
)

func newVM(raw []xbpf.RawInstruction) (*xbpf.VM, error) { return xbpf.NewVM(disassemble(raw)) }

// TestLinuxVLAN pins the live-socket form of vlan: the outer tag comes from
// packet metadata and shifts nothing; a second vlan reads the inner tag in
// the frame. (Checked against tcpdump in the kernel by the afpacket tests.)
func TestLinuxVLAN(t *testing.T) {
	p, err := Compile("vlan 100 and vlan 5 and udp", Options{LinuxVLAN: true})
	require.NoError(t, err)
	assert.False(t, p.UsesVLAN, "no outer tag read from the frame")
	got := p.String()
	assert.Contains(t, got, "(000) ldb      [vlanp]\n(001) jeq      #0x1")
	assert.Contains(t, got, "ldb      [vlan_tci]\n(003) and      #0xfff\n(004) jeq      #0x64")
	assert.Contains(t, got, "ldh      [12]\n(006) jeq      #0x8100", "inner tag at the unshifted offset")
	assert.Contains(t, got, "ldb      [27]", "udp after one in-frame tag")
	assert.False(t, p.Match(make([]byte, 64)), "kernel-only program")
	p, err = Compile("udp", Options{LinuxVLAN: true})
	require.NoError(t, err)
	ref, err := Compile("udp", Options{})
	require.NoError(t, err)
	assert.Equal(t, ref.Raw, p.Raw, "without vlan nothing changes")
}
