package imagetest

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The image under test, from make image-test.
func imagePath(t *testing.T) string {
	t.Helper()
	img := os.Getenv("FIREBREAK_IMAGE")
	if img == "" {
		t.Skip("skipping: set FIREBREAK_IMAGE to a built image (make image-test does)")
	}
	if _, err := os.Stat(img); err != nil {
		t.Fatalf("FIREBREAK_IMAGE: %v", err)
	}
	for _, f := range []string{ovmfCode, ovmfVars} {
		if _, err := os.Stat(f); err != nil {
			t.Fatalf("UEFI firmware %s: %v (apt-get install ovmf)", f, err)
		}
	}
	if _, err := exec.LookPath("qemu-system-x86_64"); err != nil {
		t.Fatal("qemu-system-x86_64 not found (apt-get install qemu-system-x86)")
	}
	return img
}

const (
	ovmfCode  = "/usr/share/OVMF/OVMF_CODE_4M.fd"
	ovmfVars  = "/usr/share/OVMF/OVMF_VARS_4M.fd"
	espOffset = 1 << 20 // the EFI system partition starts at 1 MiB
)

// copyImage gives a test its own copy of the disk, sparse like the original.
func copyImage(t *testing.T, img string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "disk.img")
	out, err := exec.Command("cp", "--sparse=always", img, dst).CombinedOutput()
	require.NoError(t, err, "%s", out)
	return dst
}

// setConfig writes firebreak.cfg on a disk's boot partition, as an engineer
// would from a laptop, without mounting it.
func setConfig(t *testing.T, disk, cfg string) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "firebreak.cfg")
	require.NoError(t, os.WriteFile(f, []byte(cfg), 0o644))
	cmd := exec.Command("mcopy", "-o", "-i", fmt.Sprintf("%s@@%d", disk, espOffset), f, "::firebreak.cfg")
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "mcopy: %s", out)
}

// vm is one power-on of the appliance under qemu.
type vm struct {
	t       *testing.T
	cmd     *exec.Cmd
	started time.Time
	port    int // host loopback port forwarded to the console (443)
	exited  chan struct{}

	mu     sync.Mutex
	serial []string
	log    *os.File
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// boot powers the disk on: q35, UEFI with fresh variables, software
// emulation, the disk on virtio, the management port on user networking
// with a loopback port forwarded to the console, and extra NICs.
func boot(t *testing.T, disk string, extraNICs ...string) *vm {
	t.Helper()
	dir := t.TempDir()
	vars := filepath.Join(dir, "OVMF_VARS.fd")
	b, err := os.ReadFile(ovmfVars)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(vars, b, 0o600))
	v := &vm{t: t, port: freePort(t), exited: make(chan struct{})}
	args := []string{
		"-nodefaults", "-machine", "q35", "-accel", "tcg", "-m", "1024", "-smp", "2",
		"-display", "none", "-serial", "stdio", "-no-reboot",
		"-drive", "if=pflash,format=raw,readonly=on,file=" + ovmfCode,
		"-drive", "if=pflash,format=raw,file=" + vars,
		"-drive", "file=" + disk + ",format=raw,if=virtio",
		"-netdev", fmt.Sprintf("user,id=mgmt,hostfwd=tcp:127.0.0.1:%d-:443", v.port),
		"-device", "virtio-net-pci,netdev=mgmt,mac=52:54:00:fb:00:00",
	}
	for i, nd := range extraNICs {
		args = append(args, "-netdev", nd+fmt.Sprintf(",id=port%d", i+1),
			"-device", fmt.Sprintf("virtio-net-pci,netdev=port%d,mac=52:54:00:fb:00:%02x", i+1, i+1))
	}
	v.cmd = exec.Command("qemu-system-x86_64", args...)
	out, err := v.cmd.StdoutPipe()
	require.NoError(t, err)
	v.cmd.Stderr = v.cmd.Stdout
	v.log, err = os.Create(filepath.Join(dir, "serial.log"))
	require.NoError(t, err)
	v.started = time.Now()
	require.NoError(t, v.cmd.Start())
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := strings.TrimRight(sc.Text(), "\r")
			v.mu.Lock()
			v.serial = append(v.serial, line)
			fmt.Fprintln(v.log, line)
			v.mu.Unlock()
		}
		v.cmd.Wait()
		close(v.exited)
	}()
	t.Cleanup(func() {
		v.kill()
		if t.Failed() {
			t.Logf("serial console:\n%s", v.tail(40))
		}
	})
	return v
}

// kill cuts the power: SIGKILL, so qemu writes nothing more to the disk.
func (v *vm) kill() {
	select {
	case <-v.exited:
		return
	default:
	}
	v.cmd.Process.Kill()
	<-v.exited
}

func (v *vm) tail(n int) string {
	v.mu.Lock()
	defer v.mu.Unlock()
	s := v.serial
	if len(s) > n {
		s = s[len(s)-n:]
	}
	return strings.Join(s, "\n")
}

// waitSerial waits for a console line matching re and returns its groups.
func (v *vm) waitSerial(re *regexp.Regexp, timeout time.Duration) []string {
	v.t.Helper()
	deadline := time.Now().Add(timeout)
	for seen := 0; ; {
		v.mu.Lock()
		lines := v.serial[seen:]
		seen = len(v.serial)
		v.mu.Unlock()
		for _, l := range lines {
			if m := re.FindStringSubmatch(l); m != nil {
				return m
			}
		}
		select {
		case <-v.exited:
			v.t.Fatalf("the machine stopped before the console printed %q", re)
		default:
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("the console did not print %q within %v", re, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitAPI waits until the console port answers HTTP, and returns the time
// since power-on.
func (v *vm) waitAPI(timeout time.Duration) time.Duration {
	v.t.Helper()
	c := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer c.CloseIdleConnections()
	for deadline := time.Now().Add(timeout); ; time.Sleep(200 * time.Millisecond) {
		resp, err := c.Get(fmt.Sprintf("https://127.0.0.1:%d/api/v1/status", v.port))
		if err == nil {
			resp.Body.Close()
			return time.Since(v.started)
		}
		select {
		case <-v.exited:
			v.t.Fatalf("the machine stopped before the API answered")
		default:
		}
		if time.Now().After(deadline) {
			v.t.Fatalf("the API did not answer within %v: %v", timeout, err)
		}
	}
}

// client talks to the console port with a token, trusting only the
// certificate whose fingerprint the console printed.
type client struct {
	t     *testing.T
	base  string
	token string
	hc    *http.Client
}

var errPinned = errors.New("the certificate is not the one the console printed")

func (v *vm) client(fingerprint, token string) *client {
	fingerprint = strings.ToLower(strings.ReplaceAll(fingerprint, ":", ""))
	tc := &tls.Config{InsecureSkipVerify: true, VerifyConnection: func(cs tls.ConnectionState) error {
		if len(cs.PeerCertificates) == 0 {
			return errPinned
		}
		sum := sha256.Sum256(cs.PeerCertificates[0].Raw)
		if hex.EncodeToString(sum[:]) != fingerprint {
			return errPinned
		}
		return nil
	}}
	return &client{t: v.t, base: fmt.Sprintf("https://127.0.0.1:%d", v.port), token: token,
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{TLSClientConfig: tc}}}
}

// do calls the API and decodes the answer; it returns the status code.
func (c *client) do(method, path string, in, out any) (int, error) {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return 0, err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+"/api/v1"+path, body)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, err
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return resp.StatusCode, json.Unmarshal(b, out)
	}
	return resp.StatusCode, nil
}

func (c *client) must(method, path string, in, out any) {
	c.t.Helper()
	_, err := c.do(method, path, in, out)
	require.NoError(c.t, err)
}

var (
	tokenLine   = regexp.MustCompile(`one-time admin token \(shown on this first boot only\): (\S+)`)
	consoleLine = regexp.MustCompile(`firebreak: console https://(\S+)/ certificate sha256 ([0-9a-f]{64})`)
	readyLine   = regexp.MustCompile(`firebreak: appliance (fb-[0-9a-f]+) .* ready ([0-9.]+) s after the kernel started \((.*)\)`)
)

// firstBoot boots a fresh copy and logs in with the token the console
// printed. It returns the machine, the client and the power-on to API
// time.
func firstBoot(t *testing.T, v *vm) (*client, time.Duration) {
	t.Helper()
	ready := v.waitAPI(3 * time.Minute)
	c := v.waitSerial(consoleLine, time.Minute)
	tok := v.waitSerial(tokenLine, time.Minute)
	cl := v.client(c[2], tok[1])
	var st struct {
		Appliance string `json:"appliance"`
		Role      string `json:"role"`
	}
	cl.must("GET", "/status", nil, &st)
	require.Equal(t, "admin", st.Role, "the printed token is an admin's")
	return cl, ready
}

// openCase opens a case and returns its ID.
func (c *client) openCase(title string) string {
	c.t.Helper()
	var cs struct {
		ID string `json:"id"`
	}
	c.must("POST", "/cases", map[string]any{"title": title, "intake": map[string]any{"symptoms": []string{"cpu_hog"}}}, &cs)
	require.NotEmpty(c.t, cs.ID)
	return cs.ID
}

type entry struct {
	Seq     uint64          `json:"seq"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

func (c *client) journal(id string) []entry {
	c.t.Helper()
	var all []entry
	for after := uint64(0); ; {
		var es []entry
		c.must("GET", fmt.Sprintf("/cases/%s/journal?after=%d&limit=500", id, after), nil, &es)
		if len(es) == 0 {
			return all
		}
		all = append(all, es...)
		after = es[len(es)-1].Seq
	}
}

func (c *client) verify(id string) (bool, uint64, string) {
	c.t.Helper()
	var v struct {
		OK      bool            `json:"ok"`
		Entries uint64          `json:"entries"`
		Problem json.RawMessage `json:"problem"`
	}
	c.must("GET", "/cases/"+id+"/verify", nil, &v)
	return v.OK, v.Entries, string(v.Problem)
}

func regexpQuote(s string) *regexp.Regexp { return regexp.MustCompile(regexp.QuoteMeta(s)) }
