package capture

import (
	"net/netip"
	"sort"
	"sync"
	"time"

	"github.com/firebreak-ir/firebreak/capture/internal/engine"
	"github.com/firebreak-ir/firebreak/capture/internal/flow"
	"github.com/gopacket/gopacket/layers"
)

// Stream analyses packets pushed to it one at a time, as a live capture
// delivers them; Analyze is the same for files. It is safe for concurrent
// use: packets from several capture workers are analysed one after the
// other, in the order they arrive.
type Stream struct {
	mu  sync.Mutex
	eng *engine.Engine
	n   uint64
}

// NewStream returns a Stream that passes every event to emit. emit is
// called with the Stream's lock held and must not call back into it. The
// error is a packet tap that does not compile.
func NewStream(opts Options, emit func(*Event) error) (*Stream, error) {
	if emit == nil {
		emit = func(*Event) error { return nil }
	}
	cfg, err := engineConfig(opts)
	if err != nil {
		return nil, err
	}
	return &Stream{eng: engine.New(cfg, emit)}, nil
}

// Ethernet is the link type of frames from an Ethernet interface.
const Ethernet = int(layers.LinkTypeEthernet)

// Packet analyses one frame of the given link type (pcap LINKTYPE_*)
// captured at ts. Time-based decisions follow ts, never the wall clock.
func (s *Stream) Packet(data []byte, linkType int, ts time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.n++
	return s.eng.Packet(data, layers.LinkType(linkType), ts, s.n)
}

// Close ends every open flow (their flow events are emitted) and returns
// the counters.
func (s *Stream) Close() (Stats, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.eng.Finish()
	var st Stats
	st.fill(s.eng)
	return st, err
}

// LiveFlow is a flow open in the table: who talks to whom, right now.
type LiveFlow struct {
	FlowID   uint64    `json:"flow_id"`
	Proto    string    `json:"proto"`
	SrcIP    string    `json:"src_ip"`
	SrcPort  uint16    `json:"src_port,omitempty"`
	DestIP   string    `json:"dest_ip"`
	DestPort uint16    `json:"dest_port,omitempty"`
	Start    time.Time `json:"start"`
	Last     time.Time `json:"last"`
	Packets  uint64    `json:"packets"`
	Bytes    uint64    `json:"bytes"`
}

// Involves reports whether the flow has an endpoint in prefix.
func (f LiveFlow) Involves(prefix netip.Prefix) bool {
	for _, s := range []string{f.SrcIP, f.DestIP} {
		if a, err := netip.ParseAddr(s); err == nil && prefix.Contains(a.Unmap()) {
			return true
		}
	}
	return false
}

var protoNames = map[uint8]string{1: "ICMP", 6: "TCP", 17: "UDP", 58: "IPv6-ICMP", 132: "SCTP"}

// Flows returns the flows open now, most recently active first.
func (s *Stream) Flows() []LiveFlow {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []LiveFlow
	s.eng.Flows().Each(func(f *flow.Flow) {
		p, ok := protoNames[f.Proto]
		if !ok {
			p = "IP"
		}
		out = append(out, LiveFlow{FlowID: f.ID, Proto: p, SrcIP: f.Src.String(), SrcPort: f.SrcPort, DestIP: f.Dst.String(), DestPort: f.DstPort,
			Start: f.Start, Last: f.Last, Packets: f.Pkts[0] + f.Pkts[1], Bytes: f.Bytes[0] + f.Bytes[1]})
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Last.After(out[j].Last) })
	return out
}
