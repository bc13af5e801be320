//go:build linux

package netlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gopacket/gopacket/pcapgo"
	"github.com/stretchr/testify/require"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/sys/unix"
)

// StartServers starts, in the srv namespace, an HTTP server on :8080, a DNS
// responder on :53 and, when installed, sshd on :2222.
func StartServers(t *testing.T, l *Lab) (ssh bool) {
	var httpLn net.Listener
	var dnsConn net.PacketConn
	In(t, l.Srv, func() (err error) {
		if httpLn, err = net.Listen("tcp", "10.77.0.2:8080"); err != nil {
			return err
		}
		dnsConn, err = net.ListenPacket("udp", "10.77.0.2:53")
		return err
	})
	body := strings.Repeat("firebreak evidence ", 3000) // ~57 kB: many segments
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, body) })}
	go srv.Serve(httpLn)
	t.Cleanup(func() { srv.Close() })
	go serveDNS(dnsConn)
	t.Cleanup(func() { dnsConn.Close() })

	sshd, err := exec.LookPath("sshd")
	if err != nil {
		t.Log("sshd not installed: no SSH traffic")
		return false
	}
	dir := t.TempDir()
	key := filepath.Join(dir, "host_ed25519")
	Run(t, "ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key)
	os.MkdirAll("/run/sshd", 0o755)
	ctx, cancel := context.WithCancel(context.Background())
	cmd := Cmd(ctx, l.Srv, sshd, "-D", "-e", "-f", "/dev/null", "-p", "2222", "-h", key, "-o", "PidFile=none")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cancel(); cmd.Wait() })
	// Wait for the port.
	for i := 0; i < 50; i++ {
		if Cmd(context.Background(), l.Srv, "ss", "-ltn", "sport = :2222").Run() == nil {
			out, _ := Cmd(context.Background(), l.Srv, "ss", "-Hltn", "sport = :2222").Output()
			if len(out) > 0 {
				return true
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Log("sshd did not start listening: no SSH traffic")
	return false
}

func serveDNS(c net.PacketConn) {
	buf := make([]byte, 1500)
	for {
		n, addr, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired})
		b.StartQuestions()
		b.Question(q)
		b.StartAnswers()
		b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}, dnsmessage.AResource{A: [4]byte{10, 77, 0, 99}})
		msg, err := b.Finish()
		if err == nil {
			c.WriteTo(msg, addr)
		}
	}
}

// InjectTagged writes n broadcast UDP frames tagged with VLAN vid on eth0
// in ns.
func InjectTagged(t *testing.T, ns string, vid uint16, n int) {
	injectTags(t, ns, []uint16{0x8100, vid}, n)
}

// InjectQinQ writes n broadcast UDP frames tagged 802.1ad outer, 802.1Q
// inner on eth0 in ns.
func InjectQinQ(t *testing.T, ns string, outer, inner uint16, n int) {
	injectTags(t, ns, []uint16{0x88a8, outer, 0x8100, inner}, n)
}

func injectTags(t *testing.T, ns string, tags []uint16, n int) {
	In(t, ns, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return err
		}
		defer unix.Close(fd)
		ifi, err := net.InterfaceByName("eth0")
		if err != nil {
			return err
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
			return err
		}
		for i := 0; i < n; i++ {
			f := make([]byte, 0, 64)
			f = append(f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
			f = append(f, ifi.HardwareAddr...)
			for _, v := range tags {
				f = append(f, byte(v>>8), byte(v))
			}
			f = append(f, 0x08, 0x00)
			ip := []byte{0x45, 0, 0, 29, 0, byte(i), 0, 0, 64, 17, 0, 0, 10, 78, 0, 1, 10, 78, 0, 255}
			f = append(f, ip...)
			f = append(f, 0x30, 0x39, 0x30, 0x39, 0, 9, 0, 0, byte(i))
			if _, err := unix.Write(fd, f); err != nil {
				return err
			}
		}
		return nil
	})
}

// Frame is one captured frame.
type Frame struct {
	TS   time.Time
	Data []byte
}

// StartTcpdump runs tcpdump -w on dev in ns and waits until it listens.
func StartTcpdump(t *testing.T, ns, dev, path, filter string) (stop func()) {
	cmd := Cmd(context.Background(), ns, "tcpdump", "-i", dev, "-w", path, "-U", "--immediate-mode", "-n", "-s", "0", "-B", "16384", filter)
	stderr, err := cmd.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	sc := bufio.NewScanner(stderr)
	listening := make(chan struct{})
	go func() {
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(listening)
			}
		}
		io.Copy(io.Discard, stderr)
	}()
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		cmd.Process.Kill()
		t.Fatal("tcpdump did not start")
	}
	return func() {
		cmd.Process.Signal(syscall.SIGINT)
		cmd.Wait()
	}
}

func ReadPcap(t *testing.T, path string) []Frame {
	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	require.NoError(t, err)
	var out []Frame
	for {
		data, ci, err := r.ReadPacketData()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		out = append(out, Frame{ci.Timestamp, data})
	}
}

// Traffic runs real clients in Cli against the servers: three curl
// downloads, three dig queries, ping (also over VLAN 100, or raw tagged
// frames without 8021q) and, when sshd runs, an ssh key exchange.
func Traffic(t *testing.T, l *Lab, sshOK bool) {
	tctx, tcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer tcancel()
	client := func(args ...string) {
		out, err := Cmd(tctx, l.Cli, args...).CombinedOutput()
		require.NoError(t, err, "%v: %s", args, out)
	}
	if sshOK {
		// No credentials: the key exchange happens, then authentication
		// fails, which is all the traffic needed.
		Cmd(tctx, l.Cli, "ssh", "-p", "2222", "-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=no",
			"-o", "UserKnownHostsFile=/dev/null", "-o", "ConnectTimeout=3", "nobody@10.77.0.2", "true").Run()
	}
	for i := 0; i < 3; i++ {
		client("curl", "-sS", "-o", "/dev/null", fmt.Sprintf("http://10.77.0.2:8080/case/%d", i))
		client("dig", "+short", "+tries=1", "+time=2", "@10.77.0.2", fmt.Sprintf("host%d.firebreak.test", i))
	}
	client("ping", "-c", "2", "-i", "0.2", "10.77.0.2")
	// Over VLAN 100: the kernel strips the tag on receive; the source must
	// put it back exactly as libpcap does. Without 8021q in the kernel,
	// tagged frames are written raw onto the cli link instead (the
	// receive path strips the tag all the same).
	if l.VLAN {
		client("ping", "-c", "2", "-i", "0.2", "10.78.0.2")
	} else {
		InjectTagged(t, l.Cli, 100, 5)
	}
}

// Between keeps the frames stamped in [from, to): two captures started and
// stopped one after the other are compared over the window both covered.
func Between(fs []Frame, from, to time.Time) []Frame {
	var out []Frame
	for _, f := range fs {
		if !f.TS.Before(from) && f.TS.Before(to) {
			out = append(out, f)
		}
	}
	return out
}
