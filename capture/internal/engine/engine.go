// Package engine is the analysis pipeline behind capture.Analyze: it takes
// frames with their packet time, decodes them, tracks flows, reassembles TCP
// streams, detects the application protocol, runs the metadata parsers and
// emits EVE events.
//
// Packet time drives everything (flow timeouts, fragment timeouts); the
// engine must never read the wall clock, and must keep its memory bounded by
// the flow-table cap, the per-stream caps and the reassembly memcap whatever
// the input.
package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/firebreak-ir/firebreak/capture/internal/app/dhcp"
	"github.com/firebreak-ir/firebreak/capture/internal/app/dns"
	"github.com/firebreak-ir/firebreak/capture/internal/app/http"
	"github.com/firebreak-ir/firebreak/capture/internal/app/smb"
	"github.com/firebreak-ir/firebreak/capture/internal/app/ssh"
	"github.com/firebreak-ir/firebreak/capture/internal/app/tls"
	"github.com/firebreak-ir/firebreak/capture/internal/bpf"
	"github.com/firebreak-ir/firebreak/capture/internal/decode"
	"github.com/firebreak-ir/firebreak/capture/internal/eve"
	"github.com/firebreak-ir/firebreak/capture/internal/flow"
	"github.com/firebreak-ir/firebreak/capture/internal/reasm"
)

// ErrInternal wraps a recovered panic: a bug, reported rather than fatal.
var ErrInternal = errors.New("internal error")

// Config configures an Engine. Zero values mean the defaults.
type Config struct {
	// StreamDepth is how many bytes of each TCP direction are reassembled:
	// 0 means 1 MiB, a negative value means unlimited.
	StreamDepth int64
	// Midstream picks up TCP sessions whose handshake was not seen.
	Midstream bool
	// DNSPorts are the ports on which UDP and TCP payloads are parsed as DNS
	// (besides 53). TCP payloads that carry a length-prefixed DNS message are
	// recognised on any port.
	DNSPorts []uint16
	// MemCap bounds the bytes held by TCP reassembly across all flows.
	// Default 256 MiB.
	MemCap int
	// AppMemCap bounds the bytes held by application-layer parsers across
	// all flows (partial messages, handshakes, compressed bodies). A flow
	// whose parser would exceed it loses its metadata parsing. Default
	// 256 MiB.
	AppMemCap int
	// TLSCertificates logs the certificates themselves (tls.certificate,
	// tls.chain).
	TLSCertificates bool
	Flow            flow.Options
	Decode          decode.Options
	// Taps are packet filters (at most 64): every packet one accepts is
	// also emitted as a "packet" event naming the taps that accepted it.
	// They see Ethernet frames; frames of other link types match none.
	Taps []*bpf.Program
	// FlowStarts emits a "flow_start" event when a flow is first seen.
	FlowStarts bool
}

// Counters are the engine's statistics.
type Counters struct {
	Packets, Bytes, Decoded, Undecoded uint64
	FlowsEnded, Events                 uint64
	StreamGaps, StreamDropped          uint64
	Panics, AppMemDrops                uint64
	ByProto                            map[string]uint64
	AppTx                              map[string]uint64
}

// Engine is one analysis. It is not safe for concurrent use.
type Engine struct {
	cfg   Config
	emit  func(*eve.Event) error
	dec   *decode.Decoder
	ft    *flow.Table
	pkt   decode.Packet
	now   time.Time
	cnt   uint64
	held  int // reassembly bytes
	appB  int // application parser bytes
	err   error
	lastX int64
	taps  uint64      // the taps that accepted the packet being processed
	cur   *flow.Flow  // flow of the view being processed
	free  []*appState // states of ended flows, for new ones
	C     Counters
	// LastPanic is the last recovered panic, wrapped in ErrInternal.
	LastPanic error
}

// New returns an Engine that passes every event to emit. An error from emit
// stops the analysis and is returned by Packet or Finish.
func New(cfg Config, emit func(*eve.Event) error) *Engine {
	if cfg.StreamDepth == 0 {
		cfg.StreamDepth = 1 << 20
	}
	if cfg.MemCap <= 0 {
		cfg.MemCap = 256 << 20
	}
	if cfg.AppMemCap <= 0 {
		cfg.AppMemCap = 256 << 20
	}
	return &Engine{
		cfg: cfg, emit: emit,
		dec: decode.New(cfg.Decode),
		ft:  flow.NewTable(cfg.Flow),
		C:   Counters{ByProto: map[string]uint64{}, AppTx: map[string]uint64{}},
	}
}

// Decoder exposes the decoder's counters.
func (e *Engine) Decoder() *decode.Decoder { return e.dec }

// Flows returns the flow table.
func (e *Engine) Flows() *flow.Table { return e.ft }

// Held returns the bytes held by TCP reassembly.
func (e *Engine) Held() int { return e.held }

type appState struct {
	proto   string
	failed  [2]bool
	streams [2]reasm.Stream
	http    *http.Conn
	tls     *tls.Conn
	ssh     *ssh.Conn
	smb     *smb.Conn
	dnsBuf  [2][]byte
	txID    uint64
	tunnel  bool // CONNECT tunnel: later bytes go to tls
	stop    bool // no parser wants more stream data
	dead    bool // a parser panicked on this flow: no more app-layer work
	appB    int  // bytes its parsers held at the last accounting
	// deliverFn are the stream callbacks of both directions.
	deliverFn [2]reasm.Deliver
	// Strings every event of the flow carries, formatted once.
	cid, srcIP, dstIP string
	f                 *flow.Flow
}

// Packet processes one frame. n is the 1-based packet number.
//
// A bug in a parser must cost one flow's metadata, not the analysis: a
// panic is recovered, counted in Counters.Panics (LastPanic keeps the
// value), and the flow being processed gets no further application-layer
// processing.
func (e *Engine) Packet(data []byte, lt layers.LinkType, ts time.Time, n uint64) (err error) {
	if e.err != nil {
		return e.err
	}
	defer func() {
		if r := recover(); r != nil {
			e.recovered(r)
			err = e.err
		}
	}()
	e.cnt = n
	e.now = ts
	e.C.Packets++
	e.C.Bytes += uint64(len(data))
	if sec := ts.Unix(); sec != e.lastX {
		e.lastX = sec
		e.ft.Expire(ts, e.ended)
		e.dec.Defrag().Expire(ts)
	}
	e.taps = 0
	if len(e.cfg.Taps) > 0 && lt == layers.LinkTypeEthernet {
		for i, t := range e.cfg.Taps {
			if t.Match(data) {
				e.taps |= 1 << i
			}
		}
	}
	p := &e.pkt
	e.dec.Decode(data, lt, ts, p)
	if p.N == 0 {
		e.C.Undecoded++
		if e.taps != 0 { // a frame that is not IP, ARP for one, that a tap wants
			e.send(e.framePacketEvent(data))
		}
		return e.err
	}
	e.C.Decoded++
	for i := 0; i < p.N && e.err == nil; i++ {
		e.view(&p.Views[i])
	}
	return e.err
}

// panicError wraps a recovered panic value in ErrInternal, keeping an error
// value in the chain (a memory fault on a mapped capture is one).
func panicError(r any) error {
	if err, ok := r.(error); ok {
		return fmt.Errorf("%w: %w", ErrInternal, err)
	}
	return fmt.Errorf("%w: %v", ErrInternal, r)
}

// recovered handles a panic caught while processing a packet: the flow
// being processed, if any, loses its application-layer processing.
func (e *Engine) recovered(r any) {
	var st *appState
	if e.cur != nil {
		st, _ = e.cur.App.(*appState)
	}
	e.panicked(r, st)
}

// panicked counts a recovered panic and, if st is not nil, abandons the
// application-layer processing of its flow.
func (e *Engine) panicked(r any, st *appState) {
	e.C.Panics++
	e.LastPanic = panicError(r)
	if st == nil {
		return
	}
	e.dropApp(st)
	st.proto = "failed"
	for d := range st.streams {
		e.held -= st.streams[d].Pending()
		st.streams[d].Stop()
	}
}

// The parallel analysis splits Packet in two: a dispatcher runs Decode on
// its own engine, then hands each view to the engine owning the view's flow
// (View), and tells every engine when packet time enters a new second
// (Tick), so that each engine sees its flows' packets and timeouts at the
// same points as a single engine would.

// Decode decodes and counts a frame as Packet does, and expires fragments,
// but leaves flows to the engines given its views. p's views are valid
// until the next call.
func (e *Engine) Decode(data []byte, lt layers.LinkType, ts time.Time, p *decode.Packet) {
	defer func() {
		if r := recover(); r != nil {
			e.panicked(r, nil)
			p.N = 0
		}
	}()
	e.C.Packets++
	e.C.Bytes += uint64(len(data))
	if sec := ts.Unix(); sec != e.lastX {
		e.lastX = sec
		e.dec.Defrag().Expire(ts)
	}
	e.dec.Decode(data, lt, ts, p)
	if p.N == 0 {
		e.C.Undecoded++
		return
	}
	e.C.Decoded++
}

// Tick ends the flows idle past their timeout at packet time ts, as Packet
// does when a packet starts a new second.
func (e *Engine) Tick(ts time.Time) (err error) {
	if e.err != nil {
		return e.err
	}
	defer func() {
		if r := recover(); r != nil {
			e.recovered(r)
			err = e.err
		}
	}()
	e.cur = nil
	e.now = ts
	e.lastX = ts.Unix()
	e.ft.Expire(ts, e.ended)
	return e.err
}

// View runs the flow work of one view of packet n, decoded by another
// engine's Decode.
func (e *Engine) View(v *decode.View, ts time.Time, n uint64) (err error) {
	if e.err != nil {
		return e.err
	}
	defer func() {
		if r := recover(); r != nil {
			e.recovered(r)
			err = e.err
		}
	}()
	e.cnt = n
	e.now = ts
	e.view(v)
	return e.err
}

func (e *Engine) view(v *decode.View) {
	f, dir, created := e.ft.Lookup(v, e.now, e.cnt, e.ended)
	if v.Proto == decode.ProtoTCP && v.TCPFlags&decode.FlagSYN != 0 && f.HasSession && f.TCP == flow.TCPClosed {
		// TCP port reuse: a handshake on a closed session starts a new
		// flow, as in Suricata. The old one is logged now; "timeout" is
		// the EVE reason Suricata gives such a flow.
		e.ft.Remove(f)
		e.ended(f, flow.ReasonTimeout)
		f, dir, created = e.ft.Lookup(v, e.now, e.cnt, e.ended)
	}
	st, _ := f.App.(*appState)
	if st == nil {
		st = e.newState(f)
		f.App = st
	}
	if created && e.cfg.FlowStarts {
		e.send(e.flowHeader(st, "flow_start"))
	}
	if e.taps != 0 && !v.Tunnel {
		e.send(e.packetEvent(f, v))
	}
	e.cur = f
	f.Pkts[dir]++
	f.Bytes[dir] += uint64(v.Len)
	f.Last = e.now
	switch v.Proto {
	case decode.ProtoTCP:
		e.tcp(f, st, dir, v)
	case decode.ProtoUDP:
		if dir == flow.ToClient {
			f.State = flow.StateEstablished
		}
		e.udp(f, st, dir, v)
	default:
		if dir == flow.ToClient {
			f.State = flow.StateEstablished
		}
	}
	e.ft.Touch(f)
}

func (e *Engine) udp(f *flow.Flow, st *appState, dir flow.Direction, v *decode.View) {
	if st.dead || len(v.Payload) == 0 || v.Tunnel && st.proto != "" {
		return
	}
	if st.proto == "" || st.proto == "failed" {
		switch {
		case e.isDNSPort(v.SrcPort, v.DstPort) && dns.Probe(v.Payload):
			st.proto = "dns"
		case (v.DstPort == 67 || v.DstPort == 68 || v.SrcPort == 67) && len(v.Payload) >= 240:
			if _, err := dhcp.Parse(v.Payload); err == nil {
				st.proto = "dhcp"
			}
		case (v.DstPort == 123 || v.SrcPort == 123) && len(v.Payload) >= 48 && probeNTP(v.Payload):
			st.proto = "ntp"
		}
		if st.proto == "" {
			st.proto = "failed"
			return
		}
	}
	switch st.proto {
	case "dns":
		d, err := dns.Parse(v.Payload)
		if err != nil {
			return
		}
		ev := e.txEvent(f, "dns", v.Src == f.Src && v.SrcPort == f.SrcPort, st.txID)
		st.txID++
		ev.DNS = d
		e.C.AppTx["dns"]++
		e.send(ev)
	case "dhcp":
		d, err := dhcp.Parse(v.Payload)
		if err != nil {
			return
		}
		ev := e.appEvent(f, "dhcp", dir == flow.ToServer)
		ev.DHCP = d
		e.C.AppTx["dhcp"]++
		e.send(ev)
	}
}

func probeNTP(b []byte) bool {
	vn := (b[0] >> 3) & 7
	mode := b[0] & 7
	return vn >= 1 && vn <= 4 && mode >= 1 && mode <= 5
}

func (e *Engine) isDNSPort(a, b uint16) bool {
	if a == 53 || b == 53 {
		return true
	}
	for _, p := range e.cfg.DNSPorts {
		if a == p || b == p {
			return true
		}
	}
	return false
}

func (e *Engine) tcp(f *flow.Flow, st *appState, dir flow.Direction, v *decode.View) {
	flags := v.TCPFlags
	had := f.HasSession
	flow.UpdateTCP(f, dir, flags, e.cfg.Midstream)
	if !f.HasSession {
		return
	}
	syn := flags&decode.FlagSYN != 0
	s := &st.streams[dir]
	if syn {
		// A SYN or SYN/ACK with a new sequence number before the session is
		// established (a peer that restarted its handshake) restarts that
		// direction, keeping TCP Fast Open data already queued on a SYN.
		restart := had && f.TCP <= flow.TCPSynRecv && s.Initialized() && s.Next() != v.Seq+1 && s.Delivered() == 0
		if !s.Initialized() || !had || restart {
			s.Init(v.Seq+1, e.cfg.StreamDepth)
		}
	} else if !s.Initialized() && (len(v.Payload) > 0 || flags&decode.FlagFIN != 0) {
		s.Init(v.Seq, e.cfg.StreamDepth)
	}
	// Data of the other direction that this packet acknowledges is handed
	// to the application layer first, as Suricata does in IDS mode.
	other := 1 - dir
	if flags&decode.FlagACK != 0 && st.streams[other].Initialized() {
		e.track(&st.streams[other], func(o *reasm.Stream) { o.Ack(v.Ack, e.deliver(st, other)) })
	}
	if len(v.Payload) > 0 {
		seq := v.Seq
		if syn {
			seq++
		}
		e.track(s, func(o *reasm.Stream) { o.Add(seq, v.Payload, e.deliver(st, dir)) })
		if e.held > e.cfg.MemCap {
			e.track(s, func(o *reasm.Stream) { o.Flush(e.deliver(st, dir)) })
		}
	}
	if flags&decode.FlagRST != 0 {
		e.flushStreams(st)
	}
	if st.stop && !st.streams[0].Done() || st.stop && !st.streams[1].Done() {
		for d := range st.streams {
			e.track(&st.streams[d], (*reasm.Stream).Stop)
		}
	}
}

// track runs op on a stream and keeps the global byte count up to date.
func (e *Engine) track(s *reasm.Stream, op func(*reasm.Stream)) {
	before := s.Pending()
	gaps, drops := s.Gaps, s.Dropped
	op(s)
	e.held += s.Pending() - before
	e.C.StreamGaps += uint64(s.Gaps - gaps)
	e.C.StreamDropped += uint64(s.Dropped - drops)
}

func (e *Engine) flushStreams(st *appState) {
	for d := range st.streams {
		dir := flow.Direction(d)
		e.track(&st.streams[d], func(o *reasm.Stream) { o.Flush(e.deliver(st, dir)) })
	}
}

// deliver returns the stream callback of one direction of a flow, made once
// per flow rather than once per packet.
func (e *Engine) deliver(st *appState, dir flow.Direction) reasm.Deliver {
	if st.deliverFn[dir] == nil {
		st.deliverFn[dir] = func(data []byte, gap int) {
			if e.err == nil {
				e.app(st, dir, data, gap)
			}
		}
	}
	return st.deliverFn[dir]
}

// detect chooses the application protocol from the first bytes of a
// direction.
func (e *Engine) detect(st *appState, dir flow.Direction, data []byte) {
	f := st.f
	switch {
	case ssh.Probe(data):
		st.proto, st.ssh = "ssh", &ssh.Conn{}
	case tls.Probe(data):
		st.proto, st.tls = "tls", &tls.Conn{Certificates: e.cfg.TLSCertificates}
	case http.ProbeRequest(data) || http.ProbeResponse(data):
		st.proto, st.http = "http", &http.Conn{}
	case smb.Probe(data):
		st.proto, st.smb = "smb", &smb.Conn{}
	case e.isDNSPort(f.SrcPort, f.DstPort) && len(data) >= 14 && dns.Probe(data[2:]),
		len(data) >= 14 && int(binary.BigEndian.Uint16(data)) == len(data)-2 && dns.Probe(data[2:]):
		st.proto = "dns"
	default:
		if len(data) > 0 {
			st.failed[dir] = true
		}
		if st.failed[0] && st.failed[1] || len(data) > 4096 {
			st.proto = "failed"
		}
	}
}

func (e *Engine) app(st *appState, dir flow.Direction, data []byte, gap int) {
	if st.dead {
		return
	}
	if st.proto == "" && len(data) > 0 {
		e.detect(st, dir, data)
	}
	defer func() {
		// Stopping is left to the caller: we run inside a stream callback.
		st.stop = !st.wantsData()
		e.accountApp(st)
	}()
	toServer := dir == flow.ToServer
	switch st.proto {
	case "http":
		if st.tunnel {
			e.tunnelData(st, toServer, data, gap)
			return
		}
		txs, rest := st.http.Data(toServer, data, gap)
		for _, tx := range txs {
			e.httpEvent(st, tx)
		}
		if st.http.Tunnel() {
			st.tunnel = true
			if len(rest) > 0 {
				e.tunnelData(st, toServer, rest, 0)
			}
		}
	case "tls":
		e.tlsData(st, toServer, data, gap)
	case "ssh":
		if st.ssh.Data(toServer, data, gap) {
			e.sshEvent(st)
		}
	case "dns":
		e.dnsTCP(st, dir, data, gap)
	case "smb":
		for _, tx := range st.smb.Data(toServer, data, gap) {
			e.smbEvent(st, tx)
		}
		// The rest of a bulk message is of no use: the stream need not
		// copy it, nor hand it over.
		st.streams[dir].Skip(st.smb.Skip(toServer))
	}
}

func (e *Engine) smbEvent(st *appState, tx *eve.SMB) {
	ev := e.txEvent(st.f, "smb", true, tx.ID-1)
	ev.SMB = tx
	e.C.AppTx["smb"]++
	e.send(ev)
}

// buffered returns the bytes the flow's parsers hold.
func (st *appState) buffered() int {
	n := cap(st.dnsBuf[0]) + cap(st.dnsBuf[1])
	if st.http != nil {
		n += st.http.Buffered()
	}
	if st.tls != nil {
		n += st.tls.Buffered()
	}
	if st.ssh != nil {
		n += st.ssh.Buffered()
	}
	if st.smb != nil {
		n += st.smb.Buffered()
	}
	return n
}

// accountApp updates the parser memory of st; over AppMemCap, the flow's
// parsing is abandoned.
func (e *Engine) accountApp(st *appState) {
	n := st.buffered()
	e.appB += n - st.appB
	st.appB = n
	if e.appB > e.cfg.AppMemCap {
		e.C.AppMemDrops++
		e.dropApp(st)
	}
}

// dropApp ends application-layer work on a flow and releases its memory.
func (e *Engine) dropApp(st *appState) {
	st.dead, st.stop = true, true
	if st.proto == "" {
		st.proto = "failed"
	}
	st.http, st.tls, st.ssh, st.smb = nil, nil, nil, nil
	st.dnsBuf = [2][]byte{}
	e.appB -= st.appB
	st.appB = 0
}

// wantsData reports whether a parser still needs stream bytes.
func (st *appState) wantsData() bool {
	switch st.proto {
	case "", "http", "dns", "smb":
		return true
	case "tls":
		return st.tls != nil && st.tls.Watching()
	case "ssh":
		return st.ssh != nil && !st.ssh.Finished()
	}
	return false // failed, or detected without a parser (smb)
}

func (e *Engine) tunnelData(st *appState, toServer bool, data []byte, gap int) {
	if st.tls == nil {
		if len(data) == 0 || !tls.Probe(data) {
			return
		}
		st.tls = &tls.Conn{Certificates: e.cfg.TLSCertificates}
	}
	e.tlsData(st, toServer, data, gap)
}

// tlsData feeds the TLS parser and logs its event and anomalies
// (heartbeats) as Suricata's "anomaly" events, from the side that sent
// the record.
func (e *Engine) tlsData(st *appState, toServer bool, data []byte, gap int) {
	if st.tls.Data(toServer, data, gap) {
		e.tlsEvent(st)
	}
	for _, a := range st.tls.Anomalies() {
		an := e.appEvent(st.f, "anomaly", a.FromClient)
		an.AppProto = "tls"
		an.Anomaly = &eve.Anomaly{Type: "applayer", Event: a.Event, Layer: "proto_parser"}
		e.send(an)
	}
}

func (e *Engine) dnsTCP(st *appState, dir flow.Direction, data []byte, gap int) {
	buf := &st.dnsBuf[dir]
	if gap > 0 {
		*buf = (*buf)[:0]
	}
	if len(*buf) == 0 && len(data) >= 2 {
		// After a gap, only resume on something that starts a message.
		if gap > 0 && !(len(data) >= 14 && dns.Probe(data[2:])) {
			return
		}
	}
	*buf = append(*buf, data...)
	for len(*buf) >= 2 {
		l := int(binary.BigEndian.Uint16(*buf))
		if len(*buf) < 2+l {
			break
		}
		msg := (*buf)[2 : 2+l]
		if d, err := dns.Parse(msg); err == nil {
			ev := e.txEvent(st.f, "dns", dir == flow.ToServer, st.txID)
			st.txID++
			ev.DNS = d
			e.C.AppTx["dns"]++
			e.send(ev)
		}
		*buf = (*buf)[2+l:]
	}
	if len(*buf) > 70000 {
		*buf = nil
	}
	if len(*buf) == 0 {
		*buf = nil
	}
}

func (e *Engine) httpEvent(st *appState, tx *http.Tx) {
	id := tx.ID
	ev := e.txEvent(st.f, "http", true, id)
	h := tx.HTTP
	ev.HTTP = &h
	e.C.AppTx["http"]++
	e.send(ev)
	for _, f := range []*http.File{tx.ReqFile, tx.RespFile} {
		if f == nil || f.Size == 0 && f.Closed {
			continue
		}
		fe := e.txEvent(st.f, "fileinfo", f == tx.ReqFile, id)
		fe.AppProto = "http"
		fe.HTTP = &h
		fe.FileInfo = &eve.FileInfo{Filename: f.Name, Gaps: f.Gaps, State: f.State(), Size: f.Size, TxID: id}
		e.send(fe)
	}
	if tx.MissingProtocol {
		an := e.txEvent(st.f, "anomaly", true, id)
		an.AppProto = "http"
		an.Anomaly = &eve.Anomaly{Type: "applayer", Event: "REQUEST_LINE_MISSING_PROTOCOL", Layer: "proto_parser"}
		e.send(an)
	}
}

func (e *Engine) tlsEvent(st *appState) {
	t := st.tls.Finish()
	if t == nil {
		return
	}
	ev := e.appEvent(st.f, "tls", true)
	ev.TLS = t
	e.C.AppTx["tls"]++
	e.send(ev)
}

func (e *Engine) sshEvent(st *appState) {
	s := st.ssh.Finish()
	if s == nil {
		return
	}
	ev := e.appEvent(st.f, "ssh", true)
	ev.SSH = s
	e.C.AppTx["ssh"]++
	e.send(ev)
}

func (e *Engine) send(ev *eve.Event) {
	if e.err != nil {
		return
	}
	e.C.Events++
	if err := e.emit(ev); err != nil {
		e.err = err
	}
}

func u16(v uint16) *uint16 { return &v }

// appEvent fills the common fields; fromClient chooses the orientation of
// addresses (requests from the client, responses from the server).
func (e *Engine) appEvent(f *flow.Flow, typ string, fromClient bool) *eve.Event {
	return &e.appBlock(f, typ, fromClient).ev
}

// txEvent is appEvent for an event of transaction tx (tx_id).
func (e *Engine) txEvent(f *flow.Flow, typ string, fromClient bool, tx uint64) *eve.Event {
	blk := e.appBlock(f, typ, fromClient)
	blk.tx = tx
	blk.ev.TxID = &blk.tx
	return &blk.ev
}

func (e *Engine) appBlock(f *flow.Flow, typ string, fromClient bool) *eventBlock {
	st, _ := f.App.(*appState)
	if st == nil {
		st = &appState{f: f}
	}
	e.names(st)
	// One allocation for the event and the values its pointer fields use.
	blk := &eventBlock{}
	ev := &blk.ev
	*ev = eve.Event{
		Timestamp:   eve.Time(e.now),
		FlowID:      f.ID,
		PcapCnt:     e.cnt,
		EventType:   typ,
		Proto:       eve.Proto(f.Proto),
		CommunityID: st.cid,
	}
	if f.NVLAN > 0 {
		ev.VLAN = append([]uint16(nil), f.VLAN[:f.NVLAN]...)
	}
	if fromClient {
		ev.SrcIP, ev.DestIP = st.srcIP, st.dstIP
		blk.sp, blk.dp = f.SrcPort, f.DstPort
	} else {
		ev.SrcIP, ev.DestIP = st.dstIP, st.srcIP
		blk.sp, blk.dp = f.DstPort, f.SrcPort
	}
	ev.SrcPort, ev.DestPort = &blk.sp, &blk.dp
	return blk
}

// eventBlock holds an event and the scalars its pointer fields point to,
// so that building an event costs one allocation, not four.
type eventBlock struct {
	ev     eve.Event
	sp, dp uint16
	tx     uint64
}

// ended finishes a flow removed from the table: pending stream data goes to
// the parsers, open transactions are logged, then the flow record.
func (e *Engine) ended(f *flow.Flow, reason string) {
	st, _ := f.App.(*appState)
	cnt := e.cnt
	e.cnt = 0 // events logged at flow end belong to no packet
	if st != nil {
		e.endApp(st)
		if st.proto == "" && (st.failed[0] || st.failed[1]) {
			st.proto = "failed"
		}
		e.appB -= st.appB
		st.appB = 0
	}
	e.cnt = cnt
	e.C.FlowsEnded++
	e.C.ByProto[eve.Proto(f.Proto)]++
	if st == nil {
		st = &appState{f: f}
	}
	e.send(e.flowEvent(st, reason))
	f.App = nil
	e.recycle(st)
}

// endApp hands an ending flow's pending stream data to its parsers and logs
// its open transactions. A panic there (a parser bug) costs that flow's last
// metadata, never the analysis, even outside Packet (Finish).
func (e *Engine) endApp(st *appState) {
	defer func() {
		if r := recover(); r != nil {
			e.panicked(r, st)
		}
	}()
	if st.dead {
		return
	}
	e.flushStreams(st)
	if st.http != nil {
		for _, tx := range st.http.Close() {
			e.httpEvent(st, tx)
		}
	}
	if st.tls != nil && !st.tls.Logged() {
		e.tlsEvent(st)
	}
	if st.ssh != nil {
		e.sshEvent(st)
	}
	if st.smb != nil {
		for _, tx := range st.smb.Close() {
			e.smbEvent(st, tx)
		}
	}
}

// newState returns the application state of a new flow, reusing one of an
// ended flow when there is one.
func (e *Engine) newState(f *flow.Flow) *appState {
	n := len(e.free)
	if n == 0 {
		return &appState{f: f}
	}
	st := e.free[n-1]
	e.free = e.free[:n-1]
	st.f = f
	return st
}

// recycle keeps the state of an ended flow for a new one. Its stream
// callbacks are kept: they refer to the state, not to the flow.
func (e *Engine) recycle(st *appState) {
	if len(e.free) >= maxFree {
		return
	}
	for d := range st.streams {
		st.streams[d].Stop()
	}
	*st = appState{deliverFn: st.deliverFn}
	e.free = append(e.free, st)
}

// maxFree bounds the states kept for reuse.
const maxFree = 1024

// names formats, once per flow, the strings every event of the flow carries.
func (e *Engine) names(st *appState) {
	if st.cid == "" {
		f := st.f
		st.cid = e.ft.CommunityID(f)
		st.srcIP, st.dstIP = eve.IP(f.Src), eve.IP(f.Dst)
	}
}

// flowHeader is an event of type typ about the flow of st: its time is the
// flow's last packet, its addresses the client's and the server's.
func (e *Engine) flowHeader(st *appState, typ string) *eve.Event {
	return &e.flowBlock(st, typ).ev
}

// flowBlock holds a flow's event and what its pointer fields point to, so
// that a flow record costs one allocation.
type flowBlock struct {
	ev       eve.Event
	flow     eve.Flow
	tcp      eve.TCP
	sp, dp   uint16
	ity, ico uint8
}

func (e *Engine) flowBlock(st *appState, typ string) *flowBlock {
	f := st.f
	e.names(st)
	blk := &flowBlock{}
	ev := &blk.ev
	*ev = eve.Event{
		Timestamp:   eve.Time(f.Last),
		FlowID:      f.ID,
		EventType:   typ,
		SrcIP:       st.srcIP,
		DestIP:      st.dstIP,
		Proto:       eve.Proto(f.Proto),
		CommunityID: st.cid,
	}
	if f.NVLAN > 0 {
		ev.VLAN = append([]uint16(nil), f.VLAN[:f.NVLAN]...)
	}
	switch f.Proto {
	case decode.ProtoICMP, decode.ProtoICMPv6:
		blk.ity, blk.ico = f.ICMPType, f.ICMPCode
		ev.ICMPType, ev.ICMPCode = &blk.ity, &blk.ico
	case decode.ProtoTCP, decode.ProtoUDP:
		blk.sp, blk.dp = f.SrcPort, f.DstPort
		ev.SrcPort, ev.DestPort = &blk.sp, &blk.dp
	}
	return blk
}

// packetEvent is the "packet" event of view v of flow f, addressed from
// the packet's sender to its receiver.
func (e *Engine) packetEvent(f *flow.Flow, v *decode.View) *eve.Event {
	ev := &eve.Event{
		Timestamp: eve.Time(e.now),
		FlowID:    f.ID,
		PcapCnt:   e.cnt,
		EventType: "packet",
		SrcIP:     eve.IP(v.Src),
		DestIP:    eve.IP(v.Dst),
		Proto:     eve.Proto(v.Proto),
		Packet:    &eve.Packet{Payload: v.Payload, TCPFlags: v.TCPFlags, Taps: e.taps},
	}
	if v.Proto == decode.ProtoTCP || v.Proto == decode.ProtoUDP {
		ev.SrcPort, ev.DestPort = u16(v.SrcPort), u16(v.DstPort)
	}
	return ev
}

// framePacketEvent is the "packet" event of an Ethernet frame that holds no
// IP: its EtherType and what follows its header and VLAN tags.
func (e *Engine) framePacketEvent(frame []byte) *eve.Event {
	off, typ := 12, uint16(0)
	for off+2 <= len(frame) {
		typ = binary.BigEndian.Uint16(frame[off:])
		if typ != 0x8100 && typ != 0x88a8 || off+6 > len(frame) {
			break
		}
		off += 4 // a VLAN tag
	}
	payload := frame[min(off+2, len(frame)):]
	return &eve.Event{Timestamp: eve.Time(e.now), PcapCnt: e.cnt, EventType: "packet",
		Packet: &eve.Packet{Payload: payload, Taps: e.taps, EtherType: typ}}
}

func (e *Engine) flowEvent(st *appState, reason string) *eve.Event {
	f := st.f
	blk := e.flowBlock(st, "flow")
	ev := &blk.ev
	ev.AppProto = st.proto
	blk.flow = eve.Flow{
		PktsToServer: f.Pkts[0], PktsToClient: f.Pkts[1],
		BytesToServer: f.Bytes[0], BytesToClient: f.Bytes[1],
		Start: eve.Time(f.Start), End: ev.Timestamp,
		Age:    f.Last.Unix() - f.Start.Unix(),
		State:  f.State.String(),
		Reason: reason,
	}
	ev.Flow = &blk.flow
	if f.Proto == decode.ProtoTCP {
		all := f.TCPFlags[0] | f.TCPFlags[1]
		blk.tcp = eve.TCP{
			TCPFlags: hex2[all], TCPFlagsTS: hex2[f.TCPFlags[0]], TCPFlagsTC: hex2[f.TCPFlags[1]],
			SYN: all&decode.FlagSYN != 0, FIN: all&decode.FlagFIN != 0, RST: all&decode.FlagRST != 0,
			PSH: all&decode.FlagPSH != 0, ACK: all&decode.FlagACK != 0, URG: all&decode.FlagURG != 0,
			ECN: all&decode.FlagECE != 0, CWR: all&decode.FlagCWR != 0,
		}
		if f.HasSession {
			blk.tcp.State = f.TCP.String()
		}
		ev.TCP = &blk.tcp
	}
	return ev
}

// hex2 holds the two-digit hex strings of TCP flag bytes.
var hex2 = func() (t [256]string) {
	for i := range t {
		t[i] = eve.Hex2(uint8(i))
	}
	return t
}()

// FinishAt is Finish for an engine given only some of the packets (View):
// now is the time of the last packet of the capture, which events logged at
// the end carry.
func (e *Engine) FinishAt(now time.Time) error {
	e.now = now
	return e.Finish()
}

// Finish ends every flow (reason shutdown) and returns the first emit error.
func (e *Engine) Finish() error {
	e.cnt = 0
	e.ft.Flush(e.ended)
	return e.err
}
