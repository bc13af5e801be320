package api

import (
	"bufio"
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/firebreak-ir/firebreak/appliance/internal/auth"
	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// trafficView is GET /api/v1/console/traffic: the dashboard's chart, top
// talkers and protocol mix, computed from the latest flow records the
// sensor keeps, in packet time.
type trafficView struct {
	Flows     int            `json:"flows"` // flow records considered
	From      time.Time      `json:"from,omitzero"`
	To        time.Time      `json:"to,omitzero"`
	Step      float64        `json:"step_seconds"`
	Series    []trafficPoint `json:"series"`
	Talkers   []talker       `json:"top_talkers"`
	Protocols []protoShare   `json:"protocols"`
}

type trafficPoint struct {
	T       time.Time `json:"t"`
	Bytes   uint64    `json:"bytes"`
	Packets uint64    `json:"packets"`
	Flows   int       `json:"flows"`
}

type talker struct {
	IP      string `json:"ip"`
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
	Flows   int    `json:"flows"`
}

type protoShare struct {
	Proto string `json:"proto"` // app_proto when known, else the transport
	Flows int    `json:"flows"`
	Bytes uint64 `json:"bytes"`
}

const maxTrafficFlows = 10000

func consoleTraffic(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	buckets, err := intParam(r, "buckets", 60)
	if err != nil {
		return err
	}
	top, err := intParam(r, "top", 10)
	if err != nil {
		return err
	}
	if buckets < 1 || buckets > 1000 || top < 1 || top > 100 {
		return userErrorf(ErrBadRequest, "buckets must be 1-1000 and top 1-100")
	}
	v := trafficView{Series: []trafficPoint{}, Talkers: []talker{}, Protocols: []protoShare{}}
	type rec struct {
		start         time.Time
		bytes, pkts   uint64
		src, dst, app string
	}
	var recs []rec
	for _, ev := range s.cfg.Sensor.Events("flow", maxTrafficFlows) {
		if ev.Flow == nil {
			continue
		}
		t, err := time.Parse("2006-01-02T15:04:05.999999-0700", ev.Flow.Start)
		if err != nil {
			continue
		}
		app := ev.AppProto
		if app == "" || app == "failed" {
			app = ev.Proto
		}
		recs = append(recs, rec{start: t, bytes: ev.Flow.BytesToServer + ev.Flow.BytesToClient,
			pkts: ev.Flow.PktsToServer + ev.Flow.PktsToClient, src: ev.SrcIP, dst: ev.DestIP, app: app})
	}
	v.Flows = len(recs)
	if len(recs) == 0 {
		return writeJSON(w, http.StatusOK, v)
	}
	v.From, v.To = recs[0].start, recs[0].start
	for _, r := range recs {
		if r.start.Before(v.From) {
			v.From = r.start
		}
		if r.start.After(v.To) {
			v.To = r.start
		}
	}
	span := v.To.Sub(v.From)
	step := max(span/time.Duration(buckets), time.Second)
	n := int(span/step) + 1
	v.Step = step.Seconds()
	v.Series = make([]trafficPoint, n)
	for i := range v.Series {
		v.Series[i].T = v.From.Add(time.Duration(i) * step).UTC()
	}
	talkers, protos := map[string]*talker{}, map[string]*protoShare{}
	for _, r := range recs {
		p := &v.Series[min(int(r.start.Sub(v.From)/step), n-1)]
		p.Bytes += r.bytes
		p.Packets += r.pkts
		p.Flows++
		for _, ip := range []string{r.src, r.dst} {
			if ip == "" {
				continue
			}
			t := talkers[ip]
			if t == nil {
				t = &talker{IP: ip}
				talkers[ip] = t
			}
			t.Bytes += r.bytes
			t.Packets += r.pkts
			t.Flows++
		}
		ps := protos[r.app]
		if ps == nil {
			ps = &protoShare{Proto: r.app}
			protos[r.app] = ps
		}
		ps.Flows++
		ps.Bytes += r.bytes
	}
	for _, t := range talkers {
		v.Talkers = append(v.Talkers, *t)
	}
	slices.SortFunc(v.Talkers, func(a, b talker) int { return cmp.Or(cmp.Compare(b.Bytes, a.Bytes), cmp.Compare(a.IP, b.IP)) })
	v.Talkers = v.Talkers[:min(len(v.Talkers), int(top))]
	for _, p := range protos {
		v.Protocols = append(v.Protocols, *p)
	}
	slices.SortFunc(v.Protocols, func(a, b protoShare) int {
		return cmp.Or(cmp.Compare(b.Flows, a.Flows), cmp.Compare(a.Proto, b.Proto))
	})
	return writeJSON(w, http.StatusOK, v)
}

// flowKey is the 5-tuple of a flow, matched in either direction.
type flowKey struct {
	proto      string
	a, b       netip.Addr
	aPort, bPt uint16
}

func (k flowKey) matches(p gopacket.Packet) bool {
	var src, dst netip.Addr
	switch ip := p.NetworkLayer().(type) {
	case *layers.IPv4:
		src, _ = netip.AddrFromSlice(ip.SrcIP.To4())
		dst, _ = netip.AddrFromSlice(ip.DstIP.To4())
	case *layers.IPv6:
		src, _ = netip.AddrFromSlice(ip.SrcIP)
		dst, _ = netip.AddrFromSlice(ip.DstIP)
	default:
		return false
	}
	var sp, dp uint16
	var proto string
	switch tl := p.TransportLayer().(type) {
	case *layers.TCP:
		proto, sp, dp = "TCP", uint16(tl.SrcPort), uint16(tl.DstPort)
	case *layers.UDP:
		proto, sp, dp = "UDP", uint16(tl.SrcPort), uint16(tl.DstPort)
	default:
		if p.Layer(layers.LayerTypeICMPv4) != nil || p.Layer(layers.LayerTypeICMPv6) != nil {
			proto = "ICMP"
		}
	}
	if proto == "" || (k.proto != proto && !(proto == "ICMP" && (k.proto == "ICMP" || k.proto == "IPV6-ICMP"))) {
		return false
	}
	return (src == k.a && dst == k.b && sp == k.aPort && dp == k.bPt) || (src == k.b && dst == k.a && sp == k.bPt && dp == k.aPort)
}

// maxFlowPackets bounds one flow download.
const maxFlowPackets = 1 << 20

// findingPcap is GET /api/v1/cases/{id}/findings/{fid}/pcap: the packets of
// a network finding's flow, read from the capture evidence it was found in,
// as a pcap file.
func findingPcap(s *Server, w http.ResponseWriter, r *http.Request, c auth.Caller) error {
	id, fid := r.PathValue("id"), r.PathValue("fid")
	var f cases.FindingRecord
	var found bool
	if err := s.cfg.Book.View(id, func(cs *cases.Case) error {
		for _, fr := range cs.Findings {
			if fr.ID == fid {
				f, found = fr, true
				f.Inputs = slices.Clone(fr.Inputs)
			}
		}
		return nil
	}); err != nil {
		return caseError(err)
	}
	if !found {
		return userErrorf(ErrNotFound, "case %s has no finding %s", id, fid)
	}
	a, errA := netip.ParseAddr(f.Src)
	b, errB := netip.ParseAddr(f.Dst)
	if errA != nil || errB != nil || f.Proto == "" {
		return userErrorf(ErrBadRequest, "finding %s is not about a network flow", fid)
	}
	if len(f.Inputs) == 0 {
		return userErrorf(ErrNotFound, "finding %s names no capture evidence to cut its packets from", fid)
	}
	key := flowKey{proto: f.Proto, a: a.Unmap(), b: b.Unmap(), aPort: f.SrcPort, bPt: f.DstPort}
	// Buffer the first input's answer so that a bad first input is an error,
	// not a truncated download.
	var out bytes.Buffer
	var pw *pcapgo.Writer
	var link layers.LinkType
	n := 0
	for _, sum := range f.Inputs {
		err := s.eachPacket(sum, func(lt layers.LinkType, ci gopacket.CaptureInfo, data []byte) error {
			if pw == nil {
				link, pw = lt, pcapgo.NewWriterNanos(&out)
				if err := pw.WriteFileHeader(65535, lt); err != nil {
					return err
				}
			}
			if lt != link || n >= maxFlowPackets {
				return nil
			}
			p := gopacket.NewPacket(data, lt, gopacket.DecodeOptions{Lazy: true, NoCopy: true})
			if !key.matches(p) {
				return nil
			}
			n++
			ci.CaptureLength = len(data)
			return pw.WritePacket(ci, data)
		})
		if err != nil {
			return err
		}
	}
	if n == 0 {
		return userErrorf(ErrNotFound, "no packets of finding %s's flow in its evidence", fid)
	}
	w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", id+"-"+fid+".pcap"))
	w.Header().Set("Content-Length", fmt.Sprint(out.Len()))
	_, err := w.Write(out.Bytes())
	return err
}

// eachPacket reads a pcap or pcapng exhibit from the vault.
func (s *Server) eachPacket(sum string, fn func(layers.LinkType, gopacket.CaptureInfo, []byte) error) error {
	f, err := s.cfg.Vault.Open(sum)
	if err != nil {
		return userErrorf(ErrNotFound, "evidence %s is not in the vault", sum)
	}
	defer f.Close()
	br := bufio.NewReader(f)
	magic, _ := br.Peek(4)
	type reader interface {
		ReadPacketData() ([]byte, gopacket.CaptureInfo, error)
	}
	var rd reader
	var lt layers.LinkType
	if bytes.Equal(magic, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		ng, err := pcapgo.NewNgReader(br, pcapgo.DefaultNgReaderOptions)
		if err != nil {
			return userErrorf(ErrBadRequest, "evidence %s: %v", sum, err)
		}
		rd, lt = ng, ng.LinkType()
	} else {
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return userErrorf(ErrBadRequest, "evidence %s is not a capture: %v", sum, err)
		}
		rd, lt = pr, pr.LinkType()
	}
	for {
		data, ci, err := rd.ReadPacketData()
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return userErrorf(ErrBadRequest, "evidence %s: %v", sum, err)
		}
		if err := fn(lt, ci, data); err != nil {
			return err
		}
	}
}
