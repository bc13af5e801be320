package modhost_test

import (
	"bufio"
	"context"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/firebreak-ir/firebreak/appliance/internal/modhost"
)

// Password guessing over HTTP, for real: a web server on loopback that
// refuses every basic authentication and every form login, a client that
// tries twelve passwords each way, tcpdump recording the traffic, and the
// bruteforce module analysing the recording.
func TestHTTPPasswordGuessing(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("capturing on the loopback interface needs root")
	}
	if _, err := exec.LookPath("tcpdump"); err != nil {
		t.Skip("tcpdump is not installed")
	}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	require.NoError(t, err)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/login" {
			w.Write([]byte("wrong user name or password")) // a form's failure is a 200 page
			return
		}
		w.Header().Set("WWW-Authenticate", `Basic realm="admin"`)
		http.Error(w, "unauthorized", http.StatusUnauthorized)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	port := ln.Addr().(*net.TCPAddr).Port

	pcap := filepath.Join(t.TempDir(), "guessing.pcap")
	dump := exec.Command("tcpdump", "-Z", "root", "--immediate-mode", "-B", "16384", "-i", "lo", "-U", "-n", "-w", pcap, "tcp port "+strconv.Itoa(port))
	stderr, err := dump.StderrPipe()
	require.NoError(t, err)
	require.NoError(t, dump.Start())
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if strings.Contains(sc.Text(), "listening on") {
				close(listening)
			}
		}
	}()
	select {
	case <-listening:
	case <-time.After(10 * time.Second):
		dump.Process.Kill()
		t.Fatal("tcpdump did not start")
	}

	base := "http://" + ln.Addr().String()
	for i := 0; i < 12; i++ {
		req, _ := http.NewRequest("GET", base+"/admin/", nil)
		req.SetBasicAuth("admin", "guess"+strconv.Itoa(i))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
		resp, err = http.PostForm(base+"/login", url.Values{"user": {"admin"}, "password": {"guess" + strconv.Itoa(i)}})
		require.NoError(t, err)
		resp.Body.Close()
		time.Sleep(20 * time.Millisecond) // a guessing tool's pace; the capture keeps every packet
	}
	time.Sleep(200 * time.Millisecond) // the last segments reach the capture
	require.NoError(t, dump.Process.Signal(syscall.SIGINT))
	dump.Wait()

	h, _ := newHost(t, modhost.Options{})
	m, err := h.Load(context.Background(), firstParty(t, "bruteforce"), nil)
	require.NoError(t, err)
	events, _ := analyze(t, h, []*modhost.Module{m}, false, pcap)
	got := signatures(alerts(events))
	target := "127.0.0.1:" + strconv.Itoa(port)
	require.Contains(t, got, "127.0.0.1 -> 127.0.0.1 FIREBREAK brute force: 10+ HTTP authentications refused (401) from 127.0.0.1 to "+target+" within 300s")
	require.Contains(t, got, "127.0.0.1 -> 127.0.0.1 FIREBREAK brute force: 10+ POSTs to the login form from 127.0.0.1 to "+target+" within 300s")
}
