// Package capture is Firebreak's traffic analyser: it reads packet
// captures (pcap, pcapng, either gzip-compressed, or a stream on stdin),
// decodes them, tracks flows, reassembles TCP streams, extracts application
// metadata (DNS, HTTP with fileinfo for message bodies, TLS, SSH, DHCP,
// SMB) and emits Suricata-compatible EVE records. It is what
// `firebreak analyze FILE... [--eve FILE]` runs.
//
// The public surface is small:
//
//	func Analyze(ctx context.Context, opts Options, paths []string, emit func(*Event) error) (Stats, error)
//	func NewEVEWriter(w io.Writer) *EVEWriter   // (*EVEWriter).Write is an emit func
//	func NewStream(opts Options, emit func(*Event) error) (*Stream, error)  // packets pushed one by one; Flows() lists the open ones
//	func StartCapture(opts LiveOptions) (*Capturer, error)        // live AF_PACKET capture recorded into pcapng evidence segments
//	func NewInventory() *Inventory                                 // hosts seen in the events
//
// Analyze uses every core (Options.Workers): one goroutine reads, decodes
// and reassembles fragments, then hands each packet's views to one of
// several flow engines by a hash of the flow that is the same in both
// directions; emit is still called from the caller's goroutine, one event
// at a time. A flow's events come out in the same order, with the same
// pcap_cnt and flow_id, as from a single engine; only the interleaving of
// different flows' events changes.
//
// Everything else lives under capture/internal. Analyze streams: memory is
// bounded by the flow-table cap, the reassembly caps and per-parser limits,
// not by the size of the capture, so a capture larger than RAM is fine. A
// capture file is mapped and read in place, the pages behind the reader
// handed back as it goes; a file another program cuts short meanwhile ends
// with a truncation warning.
// Packet timestamps drive every time-based decision (flow and fragment
// timeouts); the wall clock is never read, so the same capture always gives
// the same events, flow_id included.
//
// Damaged captures are not fatal: a truncated or corrupt record is reported
// through Options.Warn with its file and packet number and the analysis
// continues where the format allows.
//
// This package must never write to the network, never modify its inputs,
// never panic on hostile input, and never invent metadata: unfinished
// features (storing or hashing transferred files) produce nothing rather
// than a guess, and filter expressions outside the supported subset are
// refused.
package capture
