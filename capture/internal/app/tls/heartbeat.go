package tls

import "encoding/binary"

// Heartbeat anomalies (RFC 6520 records, content type 24), named as
// Suricata's TLS decoder events so that EVE consumers match on the same
// strings.
const (
	// AnomalyHeartbeatOverflow: a heartbeat declares more payload than its
	// record holds (CVE-2014-0160, Heartbleed, the request side).
	AnomalyHeartbeatOverflow = "OVERFLOW_HEARTBEAT_MESSAGE"
	// AnomalyHeartbeatInvalid: a cleartext heartbeat of an unknown type,
	// with less than the 16 bytes of padding RFC 6520 requires (the
	// payload length reaches into the padding: what Heartbleed tools
	// send), or a second one in flight from the same side.
	AnomalyHeartbeatInvalid = "INVALID_HEARTBEAT_MESSAGE"
	// AnomalyHeartbeatLeak: the answer to a heartbeat is a larger record
	// than the request (the peer echoed memory it should not have).
	AnomalyHeartbeatLeak = "DATALEAK_HEARTBEAT_MISMATCH"
)

// Anomaly is something wrong seen in one direction of the connection.
type Anomaly struct {
	FromClient bool
	Event      string // one of the Anomaly* names
}

// watch follows record boundaries after the handshake without buffering
// record bodies: only a heartbeat's first three bytes are kept.
type watch struct {
	hdr  [5]byte
	n    int // header bytes held
	left int // body bytes of the current record still to come
	typ  byte
	rlen int
	head [3]byte
	hn   int
	enc  bool // a change cipher spec came from this side: its records are encrypted
}

// heartbeats is the heartbeat state of a connection.
type heartbeats struct {
	w        [2]watch
	inflight bool
	from     int
	reqLen   int   // record length of the request in flight
	raised   uint8 // anomalies already reported, one bit each per side
	pending  []Anomaly
}

// Anomalies returns the anomalies found since the last call.
func (c *Conn) Anomalies() []Anomaly {
	a := c.hb.pending
	c.hb.pending = nil
	return a
}

// Watching reports whether the connection still wants stream bytes: the
// handshake is not logged yet, or a direction still carries well-formed
// records that may hold a heartbeat.
func (c *Conn) Watching() bool {
	return !c.logged || !c.d[0].broken || !c.d[1].broken
}

// follow walks the records of data after the handshake.
func (c *Conn) follow(side int, data []byte) {
	w := &c.hb.w[side]
	d := &c.d[side]
	if len(d.rec) > 0 { // the handshake ended inside a segment: go on from the record it left
		held := d.rec
		d.rec = nil
		c.follow(side, held)
	}
	for len(data) > 0 && !d.broken {
		if w.left == 0 && w.n < 5 {
			k := copy(w.hdr[w.n:], data)
			w.n += k
			data = data[k:]
			if w.n < 5 {
				return
			}
			w.typ, w.rlen = w.hdr[0], int(binary.BigEndian.Uint16(w.hdr[3:5]))
			if w.typ < 20 || w.typ > 24 || w.hdr[1] != 3 || w.rlen > MaxRecord {
				d.broken = true // not TLS records any more: stop looking
				return
			}
			w.left, w.hn = w.rlen, 0
			if w.typ == 20 {
				w.enc = true
			}
		}
		if w.typ == 24 && w.hn < 3 {
			k := copy(w.head[w.hn:], data[:min(len(data), w.left)])
			w.hn += k
		}
		k := min(len(data), w.left)
		data = data[k:]
		w.left -= k
		if w.left == 0 {
			if w.typ == 24 {
				c.heartbeat(side, w.rlen, w.head[:w.hn], w.enc)
			}
			w.n = 0
		}
	}
}

// heartbeat checks one heartbeat record of rlen bytes whose first bytes
// are head, as Suricata's TLS parser does. An encrypted heartbeat only
// shows its length: a response longer than its request leaked memory.
func (c *Conn) heartbeat(side, rlen int, head []byte, encrypted bool) {
	h := &c.hb
	switch {
	case !h.inflight:
		h.inflight, h.from, h.reqLen = true, side, rlen
		if encrypted || len(head) < 3 {
			return
		}
		typ, payload := head[0], int(binary.BigEndian.Uint16(head[1:3]))
		switch {
		case typ != 1 && typ != 2:
			c.raise(side, AnomalyHeartbeatInvalid)
		case payload+3 > rlen:
			c.raise(side, AnomalyHeartbeatOverflow)
		case rlen-payload-3 < 16:
			c.raise(side, AnomalyHeartbeatInvalid)
		}
	case h.from == side:
		c.raise(side, AnomalyHeartbeatInvalid) // a second request before the answer
	default:
		if h.reqLen > 0 && rlen > h.reqLen {
			c.raise(side, AnomalyHeartbeatLeak)
		}
		h.inflight, h.reqLen = false, 0
	}
}

// raise queues an anomaly, once per name and direction.
func (c *Conn) raise(side int, event string) {
	bit := uint8(1) << side
	switch event {
	case AnomalyHeartbeatOverflow:
		bit <<= 2
	case AnomalyHeartbeatLeak:
		bit <<= 4
	}
	if c.hb.raised&bit != 0 {
		return
	}
	c.hb.raised |= bit
	c.hb.pending = append(c.hb.pending, Anomaly{FromClient: side == 0, Event: event})
}
