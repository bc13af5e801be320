// Package bpf compiles tcpdump-style filter expressions into classic BPF for
// Ethernet (DLT_EN10MB) frames, without libpcap and without cgo, so that the
// live AF_PACKET source can attach the filter in the kernel
// (SO_ATTACH_FILTER) and the file readers can apply the same program in
// user space.
//
// API:
//
//	p, err := bpf.Compile("tcp and port 443", bpf.Options{})
//	p.Raw       // []golang.org/x/net/bpf.RawInstruction, ready for SO_ATTACH_FILTER
//	p.String()  // the program in `tcpdump -d` format
//	p.Match(b)  // run the program on one frame in user space
//	bpf.Supported // the grammar below, for error messages and --help
//
// The accepted language is a deliberately small subset of pcap-filter(7):
//
//	ip  ip6  arp  tcp  udp  icmp  icmp6
//	[ip|ip6|arp] [src|dst] host ADDR        (IPv4 or IPv6 literal)
//	[ip|ip6|arp] [src|dst] net CIDR         (a.b.c.d/n, a.b.c.d, v6/n)
//	[tcp|udp] [src|dst] port N
//	[tcp|udp] [src|dst] portrange A-B
//	vlan [N]
//	ether host MAC    ether src MAC    ether dst MAC
//	and &&  or ||  not !  ( )
//
// "and" and "or" have equal precedence and associate to the left, "not"
// binds tighter, and a bare value after and/or repeats the previous
// qualifiers ("port 80 or 443"), exactly as in libpcap. "vlan" shifts the
// offsets of every primitive parsed after it by four bytes, as libpcap does.
//
// Code generation follows libpcap's gencode.c block for block, and a small
// optimiser reproduces the parts of libpcap's that matter for this subset:
// jump threading on dominating branch outcomes (fold_edge), or/and
// pull-up, merging of identical blocks, removal of loads whose value is
// already in A or X, and the "and #m; jeq #0" to "jset #m" peephole. The
// result is the program `tcpdump -d -y EN10MB` prints. The golden test
// holds every supported form and many combinations, each identical
// instruction for instruction to libpcap 1.10's output, and also replays
// each through both programs over a packet corpus. A randomised test
// compares generated expressions with tcpdump: about 97% are identical;
// libpcap's value numbering folds the rest differently (typically
// contradictions and tautologies such as "ip or not ip", where it may also
// leave a dead load of the EtherType behind). Those give the same verdict
// on every complete frame and can differ only on frames cut short inside
// the headers, where BPF rejects at the first load past the end, so the
// order of loads shows. An expression that can never match is refused
// (ErrRejectsAll), as libpcap does; an empty one accepts everything.
//
// This package must never guess: anything outside the subset (host names,
// service names, "gateway", "proto", byte-offset expressions, ...) is an
// error naming the supported grammar, never a silently different filter.
// It must also never emit a program the kernel would reject: every jump is
// forward and within range or Compile fails.
//
// By default "vlan" inspects the tag in the frame bytes, as in a pcap file
// (and as `tcpdump -d -y EN10MB` compiles it). On a live Linux socket the
// kernel has moved the outer tag into packet metadata; Options.LinuxVLAN
// compiles for that case (checked in the kernel against tcpdump by the
// afpacket tests), and Program.UsesVLAN lets the live source refuse a
// program compiled the other way.
package bpf
