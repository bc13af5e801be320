// Package flow keeps the bidirectional flow table: flows keyed by
// addresses, ports, protocol and (optionally) VLAN path, with per-direction
// packet, byte and TCP-flag counters, a Suricata-compatible TCP session state,
// Community ID v1 and a stable flow_id.
//
// Every time-based decision is taken on packet time, never the wall clock,
// so replaying a capture gives the same flows as seeing it live. The table
// must never grow beyond its cap: when full it evicts the flow idle longest.
package flow

import (
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/firebreak-ir/firebreak/capture/internal/decode"
)

// Direction of a packet relative to the flow's initiator.
type Direction uint8

// Directions.
const (
	ToServer Direction = 0
	ToClient Direction = 1
)

// TCPState is Suricata's TCP session state.
type TCPState uint8

// TCP session states, named as Suricata prints them.
const (
	TCPNone TCPState = iota
	TCPSynSent
	TCPSynRecv
	TCPEstablished
	TCPFinWait1
	TCPFinWait2
	TCPTimeWait
	TCPLastAck
	TCPCloseWait
	TCPClosing
	TCPClosed
)

var tcpStateNames = [...]string{"none", "syn_sent", "syn_recv", "established", "fin_wait1", "fin_wait2",
	"time_wait", "last_ack", "close_wait", "closing", "closed"}

func (s TCPState) String() string { return tcpStateNames[s] }

// State is the flow state printed in EVE flow records.
type State uint8

// Flow states.
const (
	StateNew State = iota
	StateEstablished
	StateClosed
)

func (s State) String() string {
	switch s {
	case StateEstablished:
		return "established"
	case StateClosed:
		return "closed"
	}
	return "new"
}

// Key identifies a flow irrespective of direction.
// Addresses are stored as 16-byte arrays, not netip.Addr, so that the key
// holds no pointer: cheaper to hash and invisible to the garbage collector.
type Key struct {
	A, B         [16]byte
	APort, BPort uint16
	Proto        uint8
	V4           bool
	VLAN         [3]uint16
}

// Flow is one tracked flow. The engine stores its protocol state in App.
type Flow struct {
	Key              Key
	Src, Dst         netip.Addr
	SrcPort, DstPort uint16
	Proto            uint8
	VLAN             [3]uint16
	NVLAN            uint8
	ICMPType         uint8
	ICMPCode         uint8
	Start, Last      time.Time
	Pkts             [2]uint64
	Bytes            [2]uint64
	TCPFlags         [2]uint8
	TCP              TCPState
	HasSession       bool
	State            State
	ID               uint64
	// App is owned by the engine (reassembly and app-layer parser state).
	App any

	prev, next *Flow
	list       int
}

// Timeouts per protocol class, in packet time. Zero values mean Suricata's
// defaults.
type Timeouts struct {
	TCPNew, TCPEstablished, TCPClosed    time.Duration
	UDPNew, UDPEstablished               time.Duration
	ICMPNew, ICMPEstablished             time.Duration
	OtherNew, OtherEstablished, OtherEnd time.Duration
}

func (t *Timeouts) fill() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&t.TCPNew, 60*time.Second)
	def(&t.TCPEstablished, 600*time.Second)
	def(&t.TCPClosed, 60*time.Second)
	def(&t.UDPNew, 30*time.Second)
	def(&t.UDPEstablished, 300*time.Second)
	def(&t.ICMPNew, 30*time.Second)
	def(&t.ICMPEstablished, 300*time.Second)
	def(&t.OtherNew, 30*time.Second)
	def(&t.OtherEstablished, 300*time.Second)
	def(&t.OtherEnd, 30*time.Second)
}

// Options configures a Table.
type Options struct {
	Timeouts Timeouts
	// MaxFlows caps the table. Default 65536.
	MaxFlows int
	// IgnoreVLAN leaves VLAN IDs out of the flow key.
	IgnoreVLAN bool
	// Seed is the Community ID seed.
	Seed uint16
}

// Reason a flow ended.
const (
	ReasonTimeout  = "timeout"
	ReasonForced   = "forced"
	ReasonShutdown = "shutdown"
)

// Table is the flow table. It is not safe for concurrent use.
type Table struct {
	opts  Options
	m     map[Key]*Flow
	lists [12]list // by timeout class
	// Created counts flows created.
	Created uint64
	// Evicted counts flows ended early because the table was full.
	Evicted uint64
}

type list struct {
	head, tail *Flow
	timeout    time.Duration
}

// NewTable returns an empty table.
func NewTable(opts Options) *Table {
	opts.Timeouts.fill()
	if opts.MaxFlows <= 0 {
		opts.MaxFlows = 65536
	}
	t := &Table{opts: opts, m: make(map[Key]*Flow)}
	to := opts.Timeouts
	for i, d := range []time.Duration{to.TCPNew, to.TCPEstablished, to.TCPClosed,
		to.UDPNew, to.UDPEstablished, to.UDPEstablished,
		to.ICMPNew, to.ICMPEstablished, to.ICMPEstablished,
		to.OtherNew, to.OtherEstablished, to.OtherEnd} {
		t.lists[i].timeout = d
	}
	return t
}

// Len returns the number of flows in the table.
func (t *Table) Len() int { return len(t.m) }

// Each calls fn for every flow in the table, in no particular order. fn
// must not change the table.
func (t *Table) Each(fn func(*Flow)) {
	for _, f := range t.m {
		fn(f)
	}
}

func (t *Table) class(f *Flow) int {
	base := 9
	switch f.Proto {
	case decode.ProtoTCP:
		base = 0
	case decode.ProtoUDP:
		base = 3
	case decode.ProtoICMP, decode.ProtoICMPv6:
		base = 6
	}
	return base + int(f.State)
}

func (t *Table) unlink(f *Flow) {
	l := &t.lists[f.list]
	if f.prev != nil {
		f.prev.next = f.next
	} else {
		l.head = f.next
	}
	if f.next != nil {
		f.next.prev = f.prev
	} else {
		l.tail = f.prev
	}
	f.prev, f.next = nil, nil
}

func (t *Table) pushBack(f *Flow) {
	f.list = t.class(f)
	l := &t.lists[f.list]
	f.prev, f.next = l.tail, nil
	if l.tail != nil {
		l.tail.next = f
	} else {
		l.head = f
	}
	l.tail = f
}

// Touch moves f to the tail of its timeout list after a packet or a state
// change.
func (t *Table) Touch(f *Flow) {
	t.unlink(f)
	t.pushBack(f)
}

// KeyOf builds the canonical key of a view.
func (t *Table) KeyOf(v *decode.View) Key {
	k := Key{Proto: v.Proto}
	if !t.opts.IgnoreVLAN {
		k.VLAN = v.VLAN
	}
	sp, dp := v.SrcPort, v.DstPort
	if v.Proto == decode.ProtoICMP || v.Proto == decode.ProtoICMPv6 {
		sp, dp = 0, 0
	}
	k.V4 = v.Src.Is4()
	a, b := v.Src.As16(), v.Dst.As16()
	// Any order the same in both directions will do: the 16-byte forms are
	// compared as two big-endian words, without netip's family and zone
	// checks (addresses of a packet share a family and have no zone).
	a0, b0 := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8])
	a1, b1 := binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:])
	if a0 < b0 || a0 == b0 && (a1 < b1 || a1 == b1 && sp <= dp) {
		k.A, k.APort, k.B, k.BPort = a, sp, b, dp
	} else {
		k.A, k.APort, k.B, k.BPort = b, dp, a, sp
	}
	return k
}

func less(a netip.Addr, ap uint16, b netip.Addr, bp uint16) bool {
	if c := a.Compare(b); c != 0 {
		return c < 0
	}
	return ap <= bp
}

// Lookup finds or creates the flow of v, a view of packet number pkt. It
// returns the flow, the direction of the packet, and whether the flow is
// new. ended receives flows that had to be evicted to make room.
func (t *Table) Lookup(v *decode.View, ts time.Time, pkt uint64, ended func(*Flow, string)) (*Flow, Direction, bool) {
	k := t.KeyOf(v)
	if f := t.m[k]; f != nil {
		dir := ToServer
		if v.Src != f.Src || (v.SrcPort != f.SrcPort && f.Proto != decode.ProtoICMP && f.Proto != decode.ProtoICMPv6) {
			dir = ToClient
		}
		if v.Src == v.Dst && v.SrcPort == v.DstPort {
			dir = ToServer
		}
		return f, dir, false
	}
	for len(t.m) >= t.opts.MaxFlows {
		old := t.oldest()
		if old == nil {
			break
		}
		t.Evicted++
		t.Remove(old)
		ended(old, ReasonForced)
	}
	f := &Flow{Key: k, Src: v.Src, Dst: v.Dst, SrcPort: v.SrcPort, DstPort: v.DstPort, Proto: v.Proto,
		VLAN: v.VLAN, NVLAN: v.NVLAN, ICMPType: v.ICMPType, ICMPCode: v.ICMPCode, Start: ts, Last: ts}
	// A SYN/ACK seen first comes from the server.
	if v.Proto == decode.ProtoTCP && v.TCPFlags&(decode.FlagSYN|decode.FlagACK) == decode.FlagSYN|decode.FlagACK {
		f.Src, f.Dst, f.SrcPort, f.DstPort = v.Dst, v.Src, v.DstPort, v.SrcPort
	}
	f.ID = flowID(f, pkt)
	t.m[k] = f
	t.Created++
	t.pushBack(f)
	dir := ToServer
	if f.Src != v.Src || f.SrcPort != v.SrcPort {
		dir = ToClient
	}
	return f, dir, true
}

// flowID derives a deterministic id from the flow's tuple, its start time
// and the number of the packet that created it, so that re-analysing a
// capture gives the same ids, whether one flow table sees every flow or
// several tables share them out. (A creation index would differ between
// the two.) No two flows share all three: a flow that replaces one with
// the same tuple starts with a later packet.
func flowID(f *Flow, pkt uint64) uint64 {
	const offset, prime = 14695981039346656037, 1099511628211
	h := uint64(offset)
	mix := func(b []byte) {
		for _, c := range b {
			h ^= uint64(c)
			h *= prime
		}
	}
	a := f.Src.As16()
	mix(a[:])
	a = f.Dst.As16()
	mix(a[:])
	var x [21]byte
	binary.BigEndian.PutUint16(x[0:], f.SrcPort)
	binary.BigEndian.PutUint16(x[2:], f.DstPort)
	x[4] = f.Proto
	binary.BigEndian.PutUint64(x[5:], uint64(f.Start.UnixNano()))
	binary.BigEndian.PutUint64(x[13:], pkt)
	mix(x[:])
	h ^= h >> 29 // fold the high bits FNV mixes poorly
	// 51 bits like Suricata's, so that JSON consumers using doubles keep it exact.
	return h & (1<<51 - 1)
}

func (t *Table) oldest() *Flow {
	var old *Flow
	for i := range t.lists {
		if h := t.lists[i].head; h != nil && (old == nil || h.Last.Before(old.Last)) {
			old = h
		}
	}
	return old
}

// Remove takes f out of the table.
func (t *Table) Remove(f *Flow) {
	t.unlink(f)
	delete(t.m, f.Key)
}

// Expire ends every flow idle longer than its timeout at packet time now.
func (t *Table) Expire(now time.Time, ended func(*Flow, string)) {
	for i := range t.lists {
		l := &t.lists[i]
		for f := l.head; f != nil && now.Sub(f.Last) > l.timeout; f = l.head {
			t.Remove(f)
			ended(f, ReasonTimeout)
		}
	}
}

// Flush ends every flow, oldest first, with reason shutdown.
func (t *Table) Flush(ended func(*Flow, string)) {
	for {
		f := t.oldest()
		if f == nil {
			return
		}
		t.Remove(f)
		ended(f, ReasonShutdown)
	}
}

// CommunityID returns the Community ID v1 of f with the table's seed.
func (t *Table) CommunityID(f *Flow) string { return CommunityID(t.opts.Seed, f) }

// CommunityID computes Community ID v1 (https://github.com/corelight/community-id-spec).
func CommunityID(seed uint16, f *Flow) string {
	sa, da := f.Src, f.Dst
	sp, dp := f.SrcPort, f.DstPort
	oneWay := false
	switch f.Proto {
	case decode.ProtoICMP:
		sp, dp, oneWay = icmp4Ports(f.ICMPType, f.ICMPCode)
	case decode.ProtoICMPv6:
		sp, dp, oneWay = icmp6Ports(f.ICMPType, f.ICMPCode)
	}
	if !oneWay && !less(sa, sp, da, dp) {
		sa, da, sp, dp = da, sa, dp, sp
	}
	if !oneWay && sa == da && sp > dp {
		sp, dp = dp, sp
	}
	var buf [2 + 16 + 16 + 2 + 4]byte
	b := buf[:0]
	b = binary.BigEndian.AppendUint16(b, seed)
	if sa.Is4() {
		a4, d4 := sa.As4(), da.As4()
		b = append(b, a4[:]...)
		b = append(b, d4[:]...)
	} else {
		a16, d16 := sa.As16(), da.As16()
		b = append(b, a16[:]...)
		b = append(b, d16[:]...)
	}
	b = append(b, f.Proto, 0)
	switch f.Proto {
	case decode.ProtoTCP, decode.ProtoUDP, decode.ProtoICMP, decode.ProtoICMPv6, 132:
		b = binary.BigEndian.AppendUint16(b, sp)
		b = binary.BigEndian.AppendUint16(b, dp)
	}
	sum := sha1.Sum(b)
	return "1:" + base64.StdEncoding.EncodeToString(sum[:])
}

// Request/response pairs that Community ID treats as two-way.
var (
	icmp4Pairs = map[uint8]uint8{8: 0, 0: 8, 13: 14, 14: 13, 15: 16, 16: 15, 10: 9, 9: 10, 17: 18, 18: 17}
	icmp6Pairs = map[uint8]uint8{128: 129, 129: 128, 133: 134, 134: 133, 135: 136, 136: 135, 130: 131, 131: 130, 144: 145, 145: 144}
)

func icmp4Ports(typ, code uint8) (uint16, uint16, bool) {
	if r, ok := icmp4Pairs[typ]; ok {
		return uint16(typ), uint16(r), false
	}
	return uint16(typ), uint16(code), true
}

func icmp6Ports(typ, code uint8) (uint16, uint16, bool) {
	if r, ok := icmp6Pairs[typ]; ok {
		return uint16(typ), uint16(r), false
	}
	return uint16(typ), uint16(code), true
}

// UpdateTCP advances the session state with a TCP packet in direction dir.
// It reports whether a session exists after the packet (a flow picked up
// without a SYN has none unless midstream is enabled).
func UpdateTCP(f *Flow, dir Direction, flags uint8, midstream bool) {
	syn, ack, fin, rst := flags&decode.FlagSYN != 0, flags&decode.FlagACK != 0, flags&decode.FlagFIN != 0, flags&decode.FlagRST != 0
	toServer := dir == ToServer
	if !f.HasSession {
		switch {
		case syn && !ack:
			f.HasSession, f.TCP = true, TCPSynSent
		case syn && ack:
			f.HasSession, f.TCP = true, TCPSynRecv
		case midstream && !rst:
			f.HasSession, f.TCP = true, TCPEstablished
		default:
			return
		}
		// Suricata records TCP flags only for packets of a session.
		f.TCPFlags[dir] |= flags
		f.setState()
		return
	}
	f.TCPFlags[dir] |= flags
	if rst {
		f.TCP = TCPClosed
		f.setState()
		return
	}
	switch f.TCP {
	case TCPSynSent:
		if syn && ack && !toServer {
			f.TCP = TCPSynRecv
		}
	case TCPSynRecv:
		if ack && !syn && toServer {
			f.TCP = TCPEstablished
			if fin {
				f.TCP = TCPCloseWait
			}
		}
	case TCPEstablished:
		if fin {
			if toServer {
				f.TCP = TCPCloseWait
			} else {
				f.TCP = TCPFinWait1
			}
		}
	case TCPCloseWait: // client sent FIN
		if fin && !toServer {
			f.TCP = TCPLastAck
		}
	case TCPLastAck:
		if ack && toServer && !fin {
			f.TCP = TCPClosed
		}
	case TCPFinWait1: // server sent FIN
		if toServer {
			switch {
			case fin && ack:
				f.TCP = TCPTimeWait
			case fin:
				f.TCP = TCPClosing
			case ack:
				f.TCP = TCPFinWait2
			}
		}
	case TCPFinWait2:
		if fin && toServer {
			f.TCP = TCPTimeWait
		}
	case TCPClosing:
		if ack && !toServer {
			f.TCP = TCPTimeWait
		}
	case TCPTimeWait:
		if ack && !toServer {
			f.TCP = TCPClosed
		}
	}
	f.setState()
}

func (f *Flow) setState() {
	switch f.TCP {
	case TCPEstablished, TCPFinWait1, TCPFinWait2, TCPClosing, TCPCloseWait:
		f.State = StateEstablished
	case TCPLastAck, TCPTimeWait, TCPClosed:
		f.State = StateClosed
	}
}
