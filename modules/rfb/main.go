// Command rfb is the Firebreak module that follows the handshake of VNC
// (RFB, RFC 6143) sessions in their packets and reports failed VNC
// authentications: a scanner testing a server's password, or someone
// guessing it. The server speaks first ("RFB 003.008\n"); after the
// client answers the 16-byte VNC authentication challenge, the server's
// next four bytes are the security result, 0 for success and 1 for
// failure. One alert per client and server; the count of failures goes in
// its metadata when the session's flow ends. It must never read a session
// it did not see begin: a flow picked up in the middle is ignored.
//
// Build: GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o rfb.wasm .
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strings"

	"github.com/firebreak-ir/firebreak/sdk"
)

func main() {}

func init() { sdk.Register(&rfb{}) }

// session is what the module knows of one RFB flow.
type session struct {
	server   netip.Addr
	version  string // the server's, "003.008"
	answered bool   // the client sent its 16-byte authentication response
}

type pair struct{ client, server netip.Addr }

// maxSessions bounds the sessions followed at once.
const maxSessions = 4096

type rfb struct {
	sessions map[uint64]*session // by flow ID
	alerted  map[pair]bool
}

func (r *rfb) Init([]byte) error {
	r.sessions, r.alerted = map[uint64]*session{}, map[pair]bool{}
	return nil
}

// serverVersion is the protocol version of a server's greeting
// "RFB xxx.yyy\n", or "".
func serverVersion(p []byte) string {
	if len(p) != 12 || !bytes.HasPrefix(p, []byte("RFB ")) || p[7] != '.' || p[11] != '\n' {
		return ""
	}
	return string(p[4:11])
}

func (r *rfb) Batch(b sdk.Batch) error {
	return b.Each(func(ev sdk.Event) error {
		if ev.Kind() == sdk.KindPacket {
			return r.packet(ev)
		}
		return nil
	})
}

// TCP flags that end a session.
const (
	fin = 0x01
	rst = 0x04
)

func (r *rfb) packet(ev sdk.Event) error {
	if ev.Uint(sdk.FieldTCPFlags)&(fin|rst) != 0 {
		// The session is over once this packet is read: a server may send
		// its last answer with its FIN.
		defer delete(r.sessions, ev.FlowID())
	}
	p := ev.Bytes(sdk.FieldPayload)
	if len(p) == 0 {
		return nil
	}
	s := r.sessions[ev.FlowID()]
	if s == nil {
		// Only a session seen from the server's greeting is followed.
		if v := serverVersion(p); v != "" && len(r.sessions) < maxSessions {
			r.sessions[ev.FlowID()] = &session{server: ev.Src(), version: v}
		}
		return nil
	}
	if ev.Src() != s.server {
		if len(p) == 16 {
			s.answered = true // the response to the VNC authentication challenge
		}
		return nil
	}
	if !s.answered || len(p) < 4 {
		return nil
	}
	s.answered = false
	if binary.BigEndian.Uint32(p) != 1 { // 0: authenticated
		return nil
	}
	k := pair{ev.Dst(), s.server}
	if r.alerted[k] {
		return nil
	}
	r.alerted[k] = true
	reason := ""
	if len(p) > 8 { // RFB 3.8 sends a reason with the failure
		if n := int(binary.BigEndian.Uint32(p[4:])); n > 0 && 8+n <= len(p) {
			reason = strings.ToValidUTF8(string(p[8:8+n]), "?")
		}
	}
	a := sdk.Alert{Signature: fmt.Sprintf("FIREBREAK VNC authentication failed: %s tried the password of %s:%d", k.client, k.server, ev.SrcPort()),
		Category: "Attempted User Privilege Gain", Severity: 2, SignatureID: 1023001, Techniques: []string{"T1110", "T1021.005"},
		Metadata: []string{"rfb_version=" + s.version}}
	if reason != "" {
		a.Metadata = append(a.Metadata, "reason="+reason)
	}
	// The result travels from the server: the alert names the client as
	// its source.
	a.On(ev)
	a.Src, a.Dst, a.SrcPort, a.DstPort = a.Dst, a.Src, a.DstPort, a.SrcPort
	return sdk.EmitAlert(&a)
}

func (r *rfb) Flush() error { return nil }
