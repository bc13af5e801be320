// Package boot is process 1 of the Firebreak appliance image. It loads the
// drivers the hardware needs, mounts the read-only system partition and the
// data partition, names the management port and gives it an address, then
// runs firebreak serve and restarts it if it stops. On the first boot it
// prints the console address, the certificate fingerprint and a one-time
// admin token on the console.
//
// It never starts a shell, a login or any service other than Firebreak's,
// and it never formats or repairs a partition: the data partition's ext4
// journal makes it consistent again on mount after a power cut.
package boot

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Where things are on the running appliance.
const (
	SystemDir   = "/system" // the read-only system partition
	Binary      = SystemDir + "/firebreak"
	StateDir    = "/var/lib/firebreak" // the data partition
	DataDir     = StateDir + "/data"   // firebreak serve --data
	LogFile     = StateDir + "/firebreak.log"
	firstBooted = StateDir + "/first-boot-done"
	espDir      = "/boot"

	// GPT partition names the image is built with.
	PartESP    = "fb-esp"
	PartSystem = "fb-system"
	PartData   = "fb-data"

	// MgmtLink is the name the management port is given.
	MgmtLink = "mgmt"
)

var console io.Writer = os.Stdout

// stages records how long after the kernel started each boot stage ended.
var stages []string

func stage(name string) {
	stages = append(stages, fmt.Sprintf("%s %.1fs", name, uptime()))
}

func uptime() float64 {
	var up float64
	if b, err := os.ReadFile("/proc/uptime"); err == nil {
		fmt.Sscan(string(b), &up)
	}
	return up
}

// say prints a line on every console: the serial line and the screen.
func say(format string, args ...any) {
	fmt.Fprintf(console, "firebreak: "+format+"\n", args...)
}

// Main brings the appliance up and never returns.
func Main() {
	if os.Getpid() != 1 {
		fmt.Fprintln(os.Stderr, "fbinit: must run as process 1 of the appliance image, never on its own")
		os.Exit(2)
	}
	if err := early(); err != nil {
		fail(err)
	}
	if err := run(); err != nil {
		fail(err)
	}
}

// fail reports a boot that cannot go on, then restarts the machine: there is
// no shell to fall back to.
func fail(err error) {
	say("boot failed: %v", err)
	say("restarting in 60 s")
	unix.Sync()
	time.Sleep(60 * time.Second)
	unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART)
	select {}
}

func early() error {
	for _, m := range []struct{ src, dst, typ, opts string }{
		{"devtmpfs", "/dev", "devtmpfs", "mode=0755"},
		{"proc", "/proc", "proc", ""},
		{"sysfs", "/sys", "sysfs", ""},
		{"tmpfs", "/run", "tmpfs", "mode=0755,size=16m"},
		{"tmpfs", "/tmp", "tmpfs", "mode=1777,size=64m"},
	} {
		if err := os.MkdirAll(m.dst, 0o755); err != nil {
			return err
		}
		if err := unix.Mount(m.src, m.dst, m.typ, unix.MS_NOSUID|unix.MS_NOEXEC*boolBit(m.dst != "/dev"), m.opts); err != nil {
			return fmt.Errorf("mount %s: %w", m.dst, err)
		}
	}
	if c, err := os.OpenFile("/dev/console", os.O_WRONLY, 0); err == nil {
		unix.Dup3(int(c.Fd()), 1, 0)
		unix.Dup3(int(c.Fd()), 2, 0)
		var ws []io.Writer
		ws = append(ws, os.Stdout)
		// The screen too, when the serial line is the console.
		if active, _ := os.ReadFile("/sys/class/tty/console/active"); !strings.Contains(string(active), "tty0") {
			if tty, err := os.OpenFile("/dev/tty0", os.O_WRONLY, 0); err == nil {
				ws = append(ws, tty)
			}
		}
		console = io.MultiWriter(ws...)
	}
	// No process may ask the kernel to run a helper program: there is none.
	os.WriteFile("/proc/sys/kernel/modprobe", []byte("\n"), 0)
	unix.Reboot(unix.LINUX_REBOOT_CMD_CAD_OFF) // Ctrl-Alt-Del becomes SIGINT to us
	unix.Sethostname([]byte("firebreak"))
	return nil
}

func boolBit(b bool) uintptr {
	if b {
		return 1
	}
	return 0
}

func run() error {
	stage("init")
	var uts unix.Utsname
	unix.Uname(&uts)
	release := string(bytes.TrimRight(uts.Release[:], "\x00"))
	db, err := openModDB(filepath.Join("/lib/modules", release))
	if err != nil {
		return fmt.Errorf("kernel modules: %w", err)
	}
	for _, m := range baseModules {
		if err := db.load(m); err != nil {
			return err
		}
	}
	// Drivers: repeat until the partitions are there and nothing new loads.
	var parts map[string]string
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := db.coldplug(say)
		parts = partitions()
		if n == 0 && parts[PartSystem] != "" && parts[PartData] != "" {
			break
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("partitions %s and %s not found (found %v)", PartSystem, PartData, parts)
		}
		time.Sleep(50 * time.Millisecond)
	}
	stage("drivers")
	cfg, err := readConfig(parts[PartESP])
	if err != nil {
		return err
	}
	// On the first boot on a bigger disk than the image, the data
	// partition grows to the end of the disk; not being able to is no
	// reason not to boot.
	dataBytes, grew, err := growDataPartition(parts[PartData])
	if err != nil {
		say("data partition: cannot grow it: %v", err)
	} else if grew {
		say("data partition grown to %d MiB", dataBytes>>20)
	}
	if err := mountParts(parts); err != nil {
		return err
	}
	if dataBytes > 0 {
		var before unix.Statfs_t
		unix.Statfs(StateDir, &before)
		if err := growFS(StateDir, dataBytes); err != nil {
			say("data partition: %v", err)
		} else {
			var after unix.Statfs_t
			unix.Statfs(StateDir, &after)
			if after.Blocks != before.Blocks {
				say("data file system grown to %d MiB", after.Blocks*uint64(after.Bsize)>>20)
			}
		}
	}
	// Everything the appliance runs is on read-only file systems from here.
	if err := unix.Mount("", "/", "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		say("could not make the root file system read-only: %v", err)
	}
	stage("mounts")
	mg, err := setupNetwork(cfg)
	if err != nil {
		return err
	}
	stage("network")
	return supervise(cfg, mg)
}

// baseModules are loaded on every boot, whatever the hardware: the file
// systems, and what containment builds in the kernel (bridge, VLANs, the
// ingress qdisc, flower filters and drop actions).
var baseModules = []string{
	"crc32c_generic", "ext4", "vfat", "nls_cp437", "nls_iso8859_1",
	"bridge", "8021q", "sch_ingress", "cls_u32", "cls_flower", "act_gact", "act_mirred", "veth",
	// The netlink families containment's handle opens besides route.
	"xfrm_user", "nfnetlink",
}

// partitions maps GPT partition names to their device nodes.
func partitions() map[string]string {
	out := map[string]string{}
	files, _ := filepath.Glob("/sys/class/block/*/uevent")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var name, dev string
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "PARTNAME="); ok {
				name = v
			}
			if v, ok := strings.CutPrefix(line, "DEVNAME="); ok {
				dev = "/dev/" + v
			}
		}
		if name != "" && dev != "" {
			if _, dup := out[name]; !dup {
				out[name] = dev
			}
		}
	}
	return out
}

func readConfig(esp string) (Config, error) {
	if esp == "" {
		return Config{}, nil
	}
	if err := os.MkdirAll(espDir, 0o755); err != nil {
		return Config{}, err
	}
	if err := unix.Mount(esp, espDir, "vfat", unix.MS_RDONLY|unix.MS_NOEXEC|unix.MS_NOSUID|unix.MS_NODEV, "codepage=437,iocharset=iso8859-1"); err != nil {
		return Config{}, fmt.Errorf("mount the boot partition %s: %w", esp, err)
	}
	defer unix.Unmount(espDir, 0)
	f, err := os.Open(filepath.Join(espDir, ConfigFile))
	if errors.Is(err, os.ErrNotExist) {
		return Config{}, nil
	} else if err != nil {
		return Config{}, err
	}
	defer f.Close()
	return ParseConfig(f)
}

func mountParts(parts map[string]string) error {
	for _, d := range []string{SystemDir, StateDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	if err := unix.Mount(parts[PartSystem], SystemDir, "ext4", unix.MS_RDONLY|unix.MS_NODEV|unix.MS_NOSUID, "noload"); err != nil {
		return fmt.Errorf("mount the system partition %s: %w", parts[PartSystem], err)
	}
	// data=ordered and barriers (the defaults) are what make an fsync on
	// this partition survive a power cut; the journal replays on mount.
	if err := unix.Mount(parts[PartData], StateDir, "ext4", unix.MS_NODEV|unix.MS_NOSUID|unix.MS_NOEXEC|unix.MS_NOATIME, "errors=remount-ro"); err != nil {
		return fmt.Errorf("mount the data partition %s: %w", parts[PartData], err)
	}
	return os.MkdirAll(DataDir, 0o700)
}

var consoleLine = regexp.MustCompile(`^console https://\S+ certificate sha256 ([0-9A-Fa-f:]+)`)

// supervise runs firebreak serve, announces it, and restarts it when it
// stops. SIGINT (Ctrl-Alt-Del) and SIGTERM stop it and power the box off.
func supervise(cfg Config, mg mgmtState) error {
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	for attempt := 0; ; attempt++ {
		logf, err := openLog()
		if err != nil {
			return err
		}
		cmd := exec.Command(Binary, cfg.serveArgs(DataDir)...)
		cmd.Env = []string{"PATH=/system", "HOME=" + StateDir, "TMPDIR=/tmp", "FIREBREAK_DATA=" + DataDir}
		out, err := cmd.StdoutPipe()
		if err != nil {
			return err
		}
		last := &lastLine{}
		cmd.Stderr = io.MultiWriter(logf, last)
		if err := cmd.Start(); err != nil {
			return fmt.Errorf("start firebreak: %w", err)
		}
		fingerprint := make(chan string, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				fmt.Fprintln(logf, sc.Text())
				if m := consoleLine.FindStringSubmatch(sc.Text()); m != nil {
					select {
					case fingerprint <- m[1]:
					default:
					}
				}
			}
		}()
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		go announce(cfg, mg, fingerprint)
		select {
		case err := <-exited:
			logf.Close()
			say("firebreak serve stopped: %v: %s (see %s); restarting", err, last.String(), LogFile)
			time.Sleep(time.Duration(min(attempt+1, 10)) * time.Second)
		case sig := <-stop:
			say("%v: stopping firebreak and powering off", sig)
			cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
			}
			unix.Sync()
			unix.Unmount(StateDir, 0)
			unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF)
		}
	}
}

// openLog opens the daemon's log on the data partition, starting it afresh
// when it has grown past 64 MiB.
func openLog() (*os.File, error) {
	if st, err := os.Stat(LogFile); err == nil && st.Size() > 64<<20 {
		os.Rename(LogFile, LogFile+".1")
	}
	return os.OpenFile(LogFile, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
}

// announce waits for the API on the local socket, makes the one-time admin
// token on the first boot, and prints where the console is.
func announce(cfg Config, mg mgmtState, fingerprint <-chan string) {
	c := socketClient(filepath.Join(DataDir, "firebreak.sock"))
	var status struct {
		Appliance string `json:"appliance"`
		Version   string `json:"version"`
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if err := c.call("GET", "/api/v1/status", nil, &status); err == nil {
			break
		} else if time.Now().After(deadline) {
			say("the API did not answer on its socket: %v", err)
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	fp := "(not reported)"
	select {
	case fp = <-fingerprint:
	case <-time.After(10 * time.Second):
	}
	port := ""
	if cfg.ManagePort != 0 && cfg.ManagePort != 443 {
		port = fmt.Sprintf(":%d", cfg.ManagePort)
	}
	addr := "(no address yet)"
	if a := mg.address(); a.IsValid() {
		addr = a.Addr().String()
	}
	stage("api")
	say("appliance %s (firebreak %s) ready %.1f s after the kernel started (%s)", status.Appliance, status.Version, uptime(), strings.Join(stages, ", "))
	say("management port %s (%s) address %s", MgmtLink, mg.mac, mg.describe())
	say("console https://%s%s/ certificate sha256 %s", addr, port, fp)
	if cfg.Mode != "" {
		say("containment: %s mode over %s", cfg.Mode, strings.Join(cfg.Ports, " "))
	}
	if _, err := os.Stat(firstBooted); err == nil {
		return
	}
	tok, err := firstToken(c)
	if err != nil {
		say("first boot: could not make the admin token: %v", err)
		return
	}
	say("one-time admin token (shown on this first boot only): %s", tok)
	if err := writeSynced(firstBooted, []byte(time.Now().UTC().Format(time.RFC3339)+"\n")); err != nil {
		say("first boot: %v", err)
	}
}

// firstToken makes the admin token printed on the first boot. A token left
// by a first boot that lost power before it finished is replaced.
func firstToken(c *apiClient) (string, error) {
	const name = "first-boot-admin"
	var tok struct {
		Secret string `json:"secret"`
	}
	err := c.call("POST", "/api/v1/tokens", map[string]string{"name": name, "role": "admin"}, &tok)
	if err != nil && strings.Contains(err.Error(), "409") {
		if err := c.call("DELETE", "/api/v1/tokens/"+name, nil, nil); err != nil {
			return "", err
		}
		err = c.call("POST", "/api/v1/tokens", map[string]string{"name": name, "role": "admin"}, &tok)
	}
	if err != nil {
		return "", err
	}
	if tok.Secret == "" {
		return "", errors.New("the API returned no secret")
	}
	return tok.Secret, nil
}

func writeSynced(name string, data []byte) error {
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(name))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// apiClient calls the daemon's local API on its Unix socket, where the
// caller is this process's account (root).
type apiClient struct{ hc *http.Client }

func socketClient(sock string) *apiClient {
	return &apiClient{hc: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}}
}

func (c *apiClient) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://firebreak"+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, bytes.TrimSpace(b))
	}
	if out != nil {
		return json.Unmarshal(b, out)
	}
	return nil
}

// lastLine keeps the last complete line written to it: the daemon's last
// word before it stopped, for the console.
type lastLine struct {
	mu        sync.Mutex
	cur, last []byte
}

func (l *lastLine) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, b := range p {
		if b == '\n' {
			if len(l.cur) > 0 {
				l.last = append(l.last[:0], l.cur...)
			}
			l.cur = l.cur[:0]
		} else if len(l.cur) < 512 {
			l.cur = append(l.cur, b)
		}
	}
	return len(p), nil
}

func (l *lastLine) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.cur) > 0 {
		return string(l.cur)
	}
	return string(l.last)
}
