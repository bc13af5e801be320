// Package testutil locates Firebreak's shared test data and extracts seed
// inputs (frames, transport payloads) from its captures for the tests and
// fuzz corpora of the capture packages.
//
// It is imported by tests only and must never be imported by production
// code.
package testutil

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gopacket/gopacket/layers"

	"github.com/firebreak-ir/firebreak/capture/internal/decode"
	"github.com/firebreak-ir/firebreak/capture/internal/pcapio"
)

// Dir returns ../shared/testdata relative to the repository root (the
// directory holding go.mod above the working directory), or skips tb.
func Dir(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Skip("no go.mod above the test directory; cannot locate ../shared/testdata")
		}
		dir = parent
	}
	td := filepath.Join(dir, "..", "shared", "testdata")
	if _, err := os.Stat(filepath.Join(td, "pcap")); err != nil {
		tb.Skipf("shared test data not found at %s: %v", td, err)
	}
	return td
}

// Pcap returns the path of a suricata-verify capture by name.
func Pcap(tb testing.TB, name string) string {
	return filepath.Join(Dir(tb), "pcap", name+".pcap")
}

// Frame is one record of a capture.
type Frame struct {
	Data     []byte
	LinkType layers.LinkType
}

// Frames returns up to max records of a capture.
func Frames(tb testing.TB, name string, max int) []Frame {
	tb.Helper()
	f, err := os.Open(Pcap(tb, name))
	if err != nil {
		tb.Skipf("capture %s: %v", name, err)
	}
	defer f.Close()
	r, err := pcapio.Open(f)
	if err != nil {
		tb.Fatalf("capture %s: %v", name, err)
	}
	var out []Frame
	for len(out) < max {
		data, info, err := r.Next()
		if err != nil {
			break
		}
		out = append(out, Frame{Data: append([]byte(nil), data...), LinkType: info.LinkType})
	}
	return out
}

// Payloads returns the non-empty innermost transport payloads of a capture
// whose source or destination port is port (0: any).
func Payloads(tb testing.TB, name string, port uint16, max int) [][]byte {
	tb.Helper()
	d := decode.New(decode.Options{})
	var p decode.Packet
	var out [][]byte
	for _, fr := range Frames(tb, name, 100000) {
		d.Decode(fr.Data, fr.LinkType, time.Time{}, &p)
		v := p.Last()
		if v == nil || len(v.Payload) == 0 || (port != 0 && v.SrcPort != port && v.DstPort != port) {
			continue
		}
		out = append(out, append([]byte(nil), v.Payload...))
		if len(out) >= max {
			break
		}
	}
	return out
}

// Streams concatenates the TCP payloads of a capture per direction, in
// capture order: toServer holds bytes sent to port, toClient bytes sent from
// it. Retransmissions are not removed; use it with clean captures only.
func Streams(tb testing.TB, name string, port uint16) (toServer, toClient []byte) {
	tb.Helper()
	d := decode.New(decode.Options{})
	var p decode.Packet
	for _, fr := range Frames(tb, name, 100000) {
		d.Decode(fr.Data, fr.LinkType, time.Time{}, &p)
		v := p.Last()
		if v == nil || v.Proto != decode.ProtoTCP || len(v.Payload) == 0 {
			continue
		}
		switch port {
		case v.DstPort:
			toServer = append(toServer, v.Payload...)
		case v.SrcPort:
			toClient = append(toClient, v.Payload...)
		}
	}
	return toServer, toClient
}

// Feed hands two directions of a stream to data in segments of seg bytes,
// alternating between them as a conversation would: the parser benchmarks'
// way of replaying Streams.
func Feed(toServer, toClient []byte, seg int, data func(toServer bool, b []byte)) {
	for len(toServer) > 0 || len(toClient) > 0 {
		x, y := min(seg, len(toServer)), min(seg, len(toClient))
		if x > 0 {
			data(true, toServer[:x])
		}
		if y > 0 {
			data(false, toClient[:y])
		}
		toServer, toClient = toServer[x:], toClient[y:]
	}
}
