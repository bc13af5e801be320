//go:build linux

package afpacket

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	xbpf "golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// Options configures a Source. Zero values mean the documented defaults.
type Options struct {
	// Interfaces to capture on, by name. Required.
	Interfaces []string
	// Filter is a classic BPF program attached to every socket before it
	// receives anything (capture/internal/bpf's Program.Raw). Nil
	// captures everything.
	Filter []xbpf.RawInstruction
	// FilterUsesVLAN is Program.UsesVLAN; Open refuses such filters.
	FilterUsesVLAN bool
	// Workers is the number of fanout sockets (and goroutines) per
	// interface; 0 means runtime.NumCPU(). With 1 there is no fanout.
	Workers int
	// BlockSize is the size of one ring block; 0 means 1 MiB. It must be
	// a multiple of the page size.
	BlockSize int
	// Blocks is the number of blocks per socket; 0 means 64 divided by
	// Workers, at least 8: about 64 MiB of ring per interface with the
	// default BlockSize, whatever the number of cores.
	Blocks int
	// BlockTimeout retires a partly filled block to user space after this
	// long; 0 means 10ms. It bounds the latency of a quiet link.
	BlockTimeout time.Duration
	// NoPromiscuous leaves the interfaces out of promiscuous mode. The
	// default (false) is promiscuous: an incident responder wants every
	// frame on the segment.
	NoPromiscuous bool
}

// Packet is one captured frame, as handed to a Handler.
type Packet struct {
	Timestamp time.Time // kernel receive time, nanosecond resolution
	IfIndex   int       // interface index the frame was captured on
	IfName    string    // interface name
	Length    int       // length on the wire
	// Data is the captured frame (the whole frame unless the filter
	// returned a smaller snap length). It points into the kernel ring and
	// is valid only until the handler returns.
	Data []byte
	// Worker is the index of the fanout worker that delivered the packet,
	// 0 <= Worker < Workers*len(Interfaces).
	Worker int
	// Outgoing is set for frames the host itself sent on the interface.
	Outgoing bool
}

// Handler receives packets; see the package comment for its concurrency.
// The *Packet and its Data are reused once the handler returns.
type Handler func(p *Packet)

// IfaceStats are cumulative kernel counters for one interface, summed over
// its fanout sockets since Open.
type IfaceStats struct {
	Name  string
	Index int
	// Received is packets the kernel passed the filter, including drops.
	Received uint64
	// Drops is packets the kernel dropped because the ring was full.
	Drops uint64
	// FreezeQueue is how many times the ring filled up (tp_freeze_q_cnt).
	FreezeQueue uint64
	// Delivered is packets handed to the handler.
	Delivered uint64
	// LinkDowns counts the times a worker saw the link go down (ENETDOWN,
	// summed over workers); capture resumes when it comes back up.
	LinkDowns uint64
	// WorkerUser and WorkerSystem are the CPU time of this interface's
	// worker threads (capture loop and handler) once Run has returned.
	// System time may include packet-delivery softirq work the kernel
	// charged to whichever thread was running.
	WorkerUser, WorkerSystem time.Duration
}

// Source is a set of AF_PACKET sockets on one or more interfaces.
type Source struct {
	opts    Options
	ifaces  []*iface
	workers []*worker
	ran     atomic.Bool
	statsMu sync.Mutex
	closed  bool
}

type iface struct {
	name  string
	index int
	stats IfaceStats // guarded by Source.statsMu
}

type worker struct {
	id        int
	fd        int
	ring      []byte
	iface     *iface
	delivered atomic.Uint64
	linkDowns atomic.Uint64
	user, sys time.Duration // set when the loop ends
}

// Open creates, configures and binds the sockets. The caller must Close the
// source or Run it (Run closes it when it returns).
func Open(opts Options) (*Source, error) {
	if len(opts.Interfaces) == 0 {
		return nil, fmt.Errorf("%w: no interfaces given", ErrNoInterface)
	}
	if opts.FilterUsesVLAN {
		return nil, ErrVLANFilter
	}
	if opts.Workers <= 0 {
		opts.Workers = runtime.NumCPU()
	}
	if opts.BlockSize <= 0 {
		opts.BlockSize = 1 << 20
	}
	if opts.Blocks <= 0 {
		opts.Blocks = max(8, 64/opts.Workers)
	}
	if opts.BlockTimeout <= 0 {
		opts.BlockTimeout = 10 * time.Millisecond
	}
	if opts.BlockSize%unix.Getpagesize() != 0 {
		return nil, fmt.Errorf("afpacket: block size %d is not a multiple of the page size %d", opts.BlockSize, unix.Getpagesize())
	}
	s := &Source{opts: opts}
	for _, name := range opts.Interfaces {
		ifi, err := net.InterfaceByName(name)
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("%w: %s: %v", ErrNoInterface, name, err)
		}
		in := &iface{name: name, index: ifi.Index, stats: IfaceStats{Name: name, Index: ifi.Index}}
		s.ifaces = append(s.ifaces, in)
		// Fanout group IDs are per network namespace; pick a random one
		// and move on if another process holds it.
		group := uint16(rand.IntN(1 << 16))
		for w := 0; w < opts.Workers; w++ {
			wk, err := s.openSocket(in, group, len(s.workers))
			if errors.Is(err, unix.EADDRINUSE) && w == 0 {
				group++
				wk, err = s.openSocket(in, group, len(s.workers))
			}
			if err != nil {
				s.Close()
				return nil, fmt.Errorf("afpacket: %s: %w", name, err)
			}
			s.workers = append(s.workers, wk)
		}
	}
	return s, nil
}

func mapErr(op string, err error) error {
	switch {
	case errors.Is(err, unix.EPERM), errors.Is(err, unix.EACCES):
		return fmt.Errorf("%s: %w", op, ErrPermission)
	case errors.Is(err, unix.ENOPROTOOPT), errors.Is(err, unix.EPROTONOSUPPORT), errors.Is(err, unix.EAFNOSUPPORT):
		return fmt.Errorf("%s: %w: %v", op, ErrNotSupported, err)
	}
	return fmt.Errorf("%s: %w", op, err)
}

func (s *Source) openSocket(in *iface, group uint16, id int) (_ *worker, err error) {
	// Protocol 0: nothing is delivered until bind below.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, mapErr("socket", err)
	}
	w := &worker{id: id, fd: fd, iface: in}
	defer func() {
		if err != nil {
			w.close()
		}
	}()
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, mapErr("set TPACKET_V3", err)
	}
	const frameSize = 2048 // V3 packs frames; this only has to divide the block
	req := unix.TpacketReq3{
		Block_size:     uint32(s.opts.BlockSize),
		Block_nr:       uint32(s.opts.Blocks),
		Frame_size:     frameSize,
		Frame_nr:       uint32(s.opts.BlockSize / frameSize * s.opts.Blocks),
		Retire_blk_tov: uint32(max(1, s.opts.BlockTimeout.Milliseconds())),
	}
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, mapErr("set PACKET_RX_RING", err)
	}
	w.ring, err = unix.Mmap(fd, 0, s.opts.BlockSize*s.opts.Blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED|unix.MAP_POPULATE)
	if err != nil {
		return nil, mapErr("mmap ring", err)
	}
	if len(s.opts.Filter) > 0 {
		prog := unix.SockFprog{Len: uint16(len(s.opts.Filter)), Filter: (*unix.SockFilter)(unsafe.Pointer(&s.opts.Filter[0]))}
		if err := unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
			return nil, mapErr("attach filter", err)
		}
	}
	sa := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: in.index}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, mapErr("bind", err)
	}
	if s.opts.Workers > 1 {
		arg := int(group) | unix.PACKET_FANOUT_HASH<<16
		if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_FANOUT, arg); err != nil {
			return nil, mapErr("join fanout group", err)
		}
	}
	if !s.opts.NoPromiscuous {
		mreq := unix.PacketMreq{Ifindex: int32(in.index), Type: unix.PACKET_MR_PROMISC}
		if err := unix.SetsockoptPacketMreq(fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
			return nil, mapErr("promiscuous mode", err)
		}
	}
	return w, nil
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func (w *worker) close() {
	if w.ring != nil {
		unix.Munmap(w.ring)
		w.ring = nil
	}
	if w.fd >= 0 {
		unix.Close(w.fd)
		w.fd = -1
	}
}

// Workers is the number of worker goroutines Run starts (Workers per
// interface times the number of interfaces); Packet.Worker is below it.
func (s *Source) Workers() int { return len(s.workers) }

// Run delivers packets to h until ctx is cancelled or a socket fails, then
// drains what the kernel already queued, closes the sockets and returns.
// A cancelled context is a clean stop and returns nil.
func (s *Source) Run(ctx context.Context, h Handler) error {
	if !s.ran.CompareAndSwap(false, true) {
		return ErrRunning
	}
	s.statsMu.Lock()
	closed := s.closed
	s.statsMu.Unlock()
	if closed {
		return ErrRunning
	}
	defer s.Close()
	efd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return fmt.Errorf("afpacket: eventfd: %w", err)
	}
	defer unix.Close(efd)
	stopped := make(chan struct{})
	notified := make(chan struct{})
	go func() {
		defer close(notified)
		select {
		case <-ctx.Done():
		case <-stopped:
		}
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		unix.Write(efd, one[:])
	}()
	// efd is closed (deferred above) only after the notifier is done.
	defer func() { <-notified }()
	errs := make(chan error, len(s.workers))
	var wg sync.WaitGroup
	for _, w := range s.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// One OS thread per worker: the ring stays in one cache and
			// the thread's CPU time is the worker's.
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			var r0, r1 unix.Rusage
			unix.Getrusage(unix.RUSAGE_THREAD, &r0)
			err := s.loop(w, efd, h)
			unix.Getrusage(unix.RUSAGE_THREAD, &r1)
			w.user = time.Duration(r1.Utime.Nano() - r0.Utime.Nano())
			w.sys = time.Duration(r1.Stime.Nano() - r0.Stime.Nano())
			errs <- err
		}()
	}
	// The first worker error stops everyone.
	var first error
	for range s.workers {
		if err := <-errs; err != nil && first == nil {
			first = err
			close(stopped)
		}
	}
	wg.Wait()
	if first == nil {
		select {
		case <-stopped:
		default:
			close(stopped)
		}
	}
	s.pollStats()
	return first
}

// Block descriptor and packet header layout (linux/if_packet.h).
const (
	blkStatus     = 8  // tpacket_block_desc.hdr.bh1.block_status
	blkNumPkts    = 12 // num_pkts
	blkFirstPkt   = 16 // offset_to_first_pkt
	pktNextOffset = 0  // tpacket3_hdr.tp_next_offset
	pktSec        = 4
	pktNsec       = 8
	pktSnaplen    = 12
	pktLen        = 16
	pktStatus     = 20
	pktMac        = 24
	pktVLANTCI    = 32
	pktVLANTPID   = 36
	pktSLL        = 48 // struct sockaddr_ll follows the aligned header
	sllPktType    = pktSLL + 10
)

func (s *Source) loop(w *worker, efd int, h Handler) error {
	pfd := []unix.PollFd{{Fd: int32(w.fd), Events: unix.POLLIN | unix.POLLERR}, {Fd: int32(efd), Events: unix.POLLIN}}
	bs := s.opts.BlockSize
	next := 0
	var p Packet
	p.IfIndex, p.IfName, p.Worker = w.iface.index, w.iface.name, w.id
	draining := false
	drainWait := 2 * max(s.opts.BlockTimeout, time.Millisecond)
	var drainUntil time.Time
	for {
		if draining && time.Now().After(drainUntil) {
			return nil // a busy link never ends: stop after the drain window
		}
		blk := w.ring[next*bs : (next+1)*bs]
		status := (*uint32)(unsafe.Pointer(&blk[blkStatus]))
		if atomic.LoadUint32(status)&unix.TP_STATUS_USER == 0 {
			timeout := -1
			if draining {
				pfd = pfd[:1]
				timeout = int(drainWait / time.Millisecond)
			}
			n, err := unix.Poll(pfd, timeout)
			if err != nil && !errors.Is(err, unix.EINTR) {
				return fmt.Errorf("afpacket: %s: poll: %w", w.iface.name, err)
			}
			if n == 0 && draining {
				return nil // nothing more arrived within two block timeouts
			}
			if !draining && len(pfd) > 1 && pfd[1].Revents != 0 {
				draining = true
				// Blocks the kernel has not retired yet are retired
				// within one block timeout; take them, then stop.
				drainUntil = time.Now().Add(drainWait + 50*time.Millisecond)
			}
			if pfd[0].Revents&unix.POLLERR != 0 {
				// POLLERR reports a pending socket error; reading SO_ERROR
				// clears it. ENETDOWN means the link went down: the kernel
				// re-attaches the socket when it comes back up, so count
				// it and keep waiting.
				v, err := unix.GetsockoptInt(w.fd, unix.SOL_SOCKET, unix.SO_ERROR)
				switch {
				case err != nil:
					return fmt.Errorf("afpacket: %s: socket error: %w", w.iface.name, err)
				case v == int(unix.ENETDOWN):
					w.linkDowns.Add(1)
				case v != 0:
					return fmt.Errorf("afpacket: %s: socket error: %w", w.iface.name, unix.Errno(v))
				}
			}
			continue
		}
		n := binary.NativeEndian.Uint32(blk[blkNumPkts:])
		off := binary.NativeEndian.Uint32(blk[blkFirstPkt:])
		for i := uint32(0); i < n; i++ {
			hdr := blk[off:]
			mac := uint32(binary.NativeEndian.Uint16(hdr[pktMac:]))
			snap := binary.NativeEndian.Uint32(hdr[pktSnaplen:])
			p.Length = int(binary.NativeEndian.Uint32(hdr[pktLen:]))
			p.Timestamp = time.Unix(int64(binary.NativeEndian.Uint32(hdr[pktSec:])), int64(binary.NativeEndian.Uint32(hdr[pktNsec:])))
			p.Outgoing = hdr[sllPktType] == unix.PACKET_OUTGOING
			pst := binary.NativeEndian.Uint32(hdr[pktStatus:])
			data := hdr[mac : mac+snap]
			if pst&unix.TP_STATUS_VLAN_VALID != 0 && snap >= 12 && mac >= pktSLL+20+4 {
				// Put the stripped tag back, as libpcap does: move the
				// MAC addresses four bytes left (over the sockaddr_ll,
				// already read) and write TPID and TCI after them.
				tpid := uint16(unix.ETH_P_8021Q)
				if pst&unix.TP_STATUS_VLAN_TPID_VALID != 0 {
					tpid = binary.NativeEndian.Uint16(hdr[pktVLANTPID:])
				}
				tci := uint16(binary.NativeEndian.Uint32(hdr[pktVLANTCI:]))
				copy(hdr[mac-4:mac+8], hdr[mac:mac+12])
				binary.BigEndian.PutUint16(hdr[mac+8:], tpid)
				binary.BigEndian.PutUint16(hdr[mac+10:], tci)
				data = hdr[mac-4 : mac+snap]
				p.Length += 4
			}
			p.Data = data[:len(data):len(data)]
			h(&p)
			off += binary.NativeEndian.Uint32(hdr[pktNextOffset:])
		}
		w.delivered.Add(uint64(n))
		atomic.StoreUint32(status, unix.TP_STATUS_KERNEL)
		next = (next + 1) % s.opts.Blocks
	}
}

// pollStats reads and accumulates the kernel counters (reading resets them).
func (s *Source) pollStats() {
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	for _, w := range s.workers {
		if w.fd < 0 {
			continue
		}
		st, err := unix.GetsockoptTpacketStatsV3(w.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err != nil {
			continue
		}
		w.iface.stats.Received += uint64(st.Packets)
		w.iface.stats.Drops += uint64(st.Drops)
		w.iface.stats.FreezeQueue += uint64(st.Freeze_q_cnt)
	}
}

// Stats returns cumulative counters per interface, in Options.Interfaces
// order. It is safe to call while Run is running and after it returned.
func (s *Source) Stats() []IfaceStats {
	s.pollStats()
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	out := make([]IfaceStats, len(s.ifaces))
	for i, in := range s.ifaces {
		out[i] = in.stats
		out[i].Delivered = 0
	}
	for _, w := range s.workers {
		for i, in := range s.ifaces {
			if w.iface == in {
				out[i].Delivered += w.delivered.Load()
				out[i].LinkDowns += w.linkDowns.Load()
				if s.ran.Load() && s.closed {
					out[i].WorkerUser += w.user
					out[i].WorkerSystem += w.sys
				}
			}
		}
	}
	return out
}

// Close closes every socket and unmaps the rings, for a Source that is not
// going to Run. Run closes the source itself when it returns; to stop a
// running source cancel its context, never call Close while Run runs. It
// is safe to call more than once.
func (s *Source) Close() error {
	s.pollStats()
	s.statsMu.Lock()
	defer s.statsMu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	for _, w := range s.workers {
		w.close()
	}
	return nil
}
