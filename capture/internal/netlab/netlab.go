//go:build linux

// Package netlab builds throw-away network namespaces joined by veth pairs
// for the live-capture tests and benchmarks: real kernels, real clients,
// nothing faked. Every namespace is named fbcap-<random>-<role> and
// deleted in t.Cleanup.
//
// It is test support only: it must never be imported by code that ships in
// the firebreak binary, and never touch a namespace it did not create.
package netlab

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/vishvananda/netns"
)

// RequireRoot skips tests that need CAP_NET_ADMIN/CAP_NET_RAW and the ip
// tool.
func RequireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: creates network namespaces and AF_PACKET sockets")
	}
	if _, err := exec.LookPath("ip"); err != nil {
		t.Skip("needs iproute2 (ip)")
	}
}

// Run runs a command and fails the test if it fails.
func Run(t testing.TB, args ...string) string {
	t.Helper()
	out, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	require.NoError(t, err, "%s: %s", strings.Join(args, " "), out)
	return string(out)
}

// Cmd is a command run inside namespace ns.
func Cmd(ctx context.Context, ns string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
}

func prefix() string {
	var b [3]byte
	rand.Read(b[:])
	return "fbcap-" + hex.EncodeToString(b[:])
}

func addNS(t testing.TB, names ...string) {
	for _, ns := range names {
		Run(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		// Quiet namespaces: no IPv6 autoconfiguration chatter.
		Run(t, "ip", "netns", "exec", ns, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
		Run(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
}

// Lab is three namespaces: Cli and Srv, each joined by a veth pair to Box,
// which bridges them (the appliance in the middle). Cli has 10.77.0.1/24 on
// eth0 and, when the kernel has 802.1Q support (VLAN set), 10.78.0.1/24 on
// eth0.100 (VLAN 100); Srv has .2 on the same. In Box the bridge ports are
// c0 (towards Cli) and s0 (towards Srv).
type Lab struct {
	Cli, Box, Srv string
	VLAN          bool
}

// NewLab creates a Lab.
func NewLab(t testing.TB) *Lab {
	t.Helper()
	RequireRoot(t)
	p := prefix()
	l := &Lab{Cli: p + "-cli", Box: p + "-box", Srv: p + "-srv"}
	addNS(t, l.Cli, l.Box, l.Srv)
	Run(t, "ip", "-n", l.Box, "link", "add", "c0", "type", "veth", "peer", "name", "eth0", "netns", l.Cli)
	Run(t, "ip", "-n", l.Box, "link", "add", "s0", "type", "veth", "peer", "name", "eth0", "netns", l.Srv)
	Run(t, "ip", "-n", l.Box, "link", "add", "br0", "type", "bridge")
	for _, dev := range []string{"c0", "s0"} {
		Run(t, "ip", "-n", l.Box, "link", "set", dev, "master", "br0", "up")
	}
	Run(t, "ip", "-n", l.Box, "link", "set", "br0", "up")
	l.VLAN = true
	for ns, host := range map[string]string{l.Cli: "1", l.Srv: "2"} {
		Run(t, "ip", "-n", ns, "addr", "add", "10.77.0."+host+"/24", "dev", "eth0")
		Run(t, "ip", "-n", ns, "link", "set", "eth0", "up")
		if exec.Command("ip", "-n", ns, "link", "add", "link", "eth0", "name", "eth0.100", "type", "vlan", "id", "100").Run() != nil {
			l.VLAN = false // no 8021q in this kernel
			continue
		}
		Run(t, "ip", "-n", ns, "addr", "add", "10.78.0."+host+"/24", "dev", "eth0.100")
		Run(t, "ip", "-n", ns, "link", "set", "eth0.100", "up")
	}
	return l
}

// NewPair is two namespaces, Snd and Box, joined by a veth pair: eth0 in
// Snd, v0 in Box. Nothing is configured above the link layer.
func NewPair(t testing.TB) (snd, box string) {
	t.Helper()
	RequireRoot(t)
	p := prefix()
	snd, box = p+"-snd", p+"-box"
	addNS(t, snd, box)
	Run(t, "ip", "-n", box, "link", "add", "v0", "type", "veth", "peer", "name", "eth0", "netns", snd)
	Run(t, "ip", "-n", box, "link", "set", "v0", "up")
	Run(t, "ip", "-n", snd, "link", "set", "eth0", "up")
	return snd, box
}

// In runs f on an OS thread switched into namespace ns; sockets created
// there stay in ns after f returns.
func In(t testing.TB, ns string, f func() error) {
	t.Helper()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		// The thread stays locked and is discarded when the goroutine
		// ends: it never returns to the pool in the wrong namespace.
		h, err := netns.GetFromName(ns)
		if err != nil {
			errc <- err
			return
		}
		defer h.Close()
		if err := netns.Set(h); err != nil {
			errc <- err
			return
		}
		errc <- f()
	}()
	require.NoError(t, <-errc)
}
