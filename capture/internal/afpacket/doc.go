// Package afpacket is Firebreak's live packet source: AF_PACKET sockets
// with a memory-mapped TPACKET_V3 ring on one or more interfaces, spread
// across several goroutines with PACKET_FANOUT (flow hash), a classic BPF
// filter attached in the kernel, promiscuous mode, and the kernel's drop
// counters exposed per interface.
//
// API:
//
//	src, err := afpacket.Open(afpacket.Options{Interfaces: []string{"eth1"}, Filter: prog.Raw})
//	err = src.Run(ctx, func(p *afpacket.Packet) { ... })  // blocks until ctx is done
//	src.Stats()                                           // []IfaceStats, cumulative
//
// Packet.Data points into the ring shared with the kernel (zero copy). It is
// valid only until the handler returns: the block that holds it is handed
// back to the kernel once every packet in it has been handled. A handler
// that keeps bytes (a pcapng writer that buffers, a flow table) must copy
// them. Handlers for the same worker run one after another; handlers of
// different workers run concurrently, and all packets of one flow (same
// addresses, ports and protocol, either direction) go to the same worker.
//
// The socket is created with protocol 0, so the kernel delivers nothing to
// it until the ring exists and the filter is attached; only then is it bound
// to ETH_P_ALL. No unfiltered packet can reach the ring. (gopacket's
// afpacket binds first and attaches the filter afterwards, which is why
// this package drives the socket with golang.org/x/sys/unix itself.)
//
// The kernel strips 802.1Q tags into packet metadata; like libpcap, this
// package puts the tag back into the frame (in place, in the ring), so the
// bytes are those on the wire and a pcapng written from them equals what
// tcpdump -w writes. For the same reason a BPF filter that reads the outer
// tag from the frame bytes cannot work in the kernel: compile filters with
// bpf.Options.LinuxVLAN (which tests the tag metadata instead, as libpcap
// does on a live socket), and Open refuses filters marked as reading it
// from the frame through Options.FilterUsesVLAN. Filters without "vlan" see the untagged frame, so
// on a trunk port "host 10.0.0.5" matches tagged and untagged frames alike
// (libpcap behaves the same on Linux).
//
// A link going down (cable pulled, interface set down) is counted in
// IfaceStats.LinkDowns and capture resumes by itself when the link comes
// back; an interface that is deleted stays silent until Run is stopped.
//
// When Run's context is cancelled, each worker keeps draining blocks for
// two block timeouts (plus 50ms), so packets already received are
// delivered rather than lost, and then stops even if traffic goes on; then
// the sockets are closed, which also leaves promiscuous mode. Worker
// goroutines are locked to their OS threads, and their CPU time is
// reported in Stats.
//
// This package must never transmit a packet, never hand the handler memory
// the kernel may still write to, and never hide a drop: every packet the
// kernel could not queue is counted in Stats.
package afpacket
