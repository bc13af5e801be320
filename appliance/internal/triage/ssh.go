package triage

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// sshTarget is a live Linux host reached over SSH. Nothing is installed on
// it: the appliance runs the host's own ps, ss, who, find and tar, and
// reads their output. The key is read from a file on the appliance; it is
// never logged or journaled (only the host key's fingerprint is).
type sshTarget struct {
	name    string
	client  *ssh.Client
	hostKey string
	skipped []cases.TriageSkip
}

// sshRoots are the places of a live host the triage set is looked for in,
// with how deep: the set itself (wanted) is then picked from them.
var sshRoots = []struct {
	dir   string
	depth int
}{
	{"/etc", 6}, {"/var/spool/cron", 4}, {"/var/log", 3}, {"/root", 3}, {"/home", 5}, {"/var/www", 12}, {"/srv", 12},
	{"/usr/share/nginx/html", 12}, {"/usr/lib/systemd/system", 2}, {"/lib/systemd/system", 2},
}

// volatileCommands are run first, most volatile first (RFC 3227).
var volatileCommands = []struct{ name, cmd string }{
	{"processes", "ps -eo pid,ppid,user,pcpu,pmem,lstart,stat,args --no-headers 2>&1"},
	{"process-executables", "ls -l /proc/[0-9]*/exe 2>/dev/null; true"},
	{"process-ids", "ls -d /proc/[0-9]* 2>/dev/null; true"},
	{"network-connections", "(ss -tunap || netstat -tunap) 2>&1"},
	{"logged-in-users", "(who -a; echo; w) 2>&1"},
	{"crontabs", "for u in $(cut -d: -f1 /etc/passwd); do c=$(crontab -l -u \"$u\" 2>/dev/null) && printf '### %s\\n%s\\n' \"$u\" \"$c\"; done; true"},
}

const sshTimeout = 15 * time.Second

func openSSH(ctx context.Context, sp Spec) (Target, error) {
	u, err := url.Parse(sp.Target)
	if err != nil || u.Scheme != "ssh" || u.Hostname() == "" || u.User == nil || u.User.Username() == "" {
		return nil, fmt.Errorf("%w: want ssh://USER@HOST[:PORT]", ErrTarget)
	}
	if _, hasPass := u.User.Password(); hasPass {
		return nil, fmt.Errorf("%w: a password in the target address is refused (it would be recorded); use --identity", ErrTarget)
	}
	if sp.Identity == "" {
		return nil, fmt.Errorf("%w: an ssh target needs --identity KEYFILE", ErrTarget)
	}
	pem, err := os.ReadFile(sp.Identity)
	if err != nil {
		return nil, fmt.Errorf("%w: read the identity file: %v", ErrTarget, err)
	}
	signer, err := ssh.ParsePrivateKey(pem)
	clear(pem)
	if err != nil {
		var pp *ssh.PassphraseMissingError
		if errors.As(err, &pp) {
			return nil, fmt.Errorf("%w: the identity key is protected by a passphrase, which the appliance does not take yet", ErrNotYet)
		}
		return nil, fmt.Errorf("%w: the identity file is not a private key the appliance can use", ErrTarget)
	}
	t := &sshTarget{name: "ssh://" + u.User.Username() + "@" + u.Host}
	var check ssh.HostKeyCallback
	switch {
	case sp.KnownHosts != "":
		if check, err = knownhosts.New(sp.KnownHosts); err != nil {
			return nil, fmt.Errorf("%w: known hosts: %v", ErrTarget, err)
		}
	case sp.HostKey != "":
		check = func(_ string, _ net.Addr, k ssh.PublicKey) error {
			if ssh.FingerprintSHA256(k) != sp.HostKey {
				return fmt.Errorf("host key %s is not the expected %s", ssh.FingerprintSHA256(k), sp.HostKey)
			}
			return nil
		}
	default:
		return nil, fmt.Errorf("%w: give the host's key (--host-key SHA256:... or --known-hosts FILE); an unknown host key is never trusted", ErrTarget)
	}
	cfg := &ssh.ClientConfig{User: u.User.Username(), Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, Timeout: sshTimeout,
		HostKeyCallback: func(host string, remote net.Addr, k ssh.PublicKey) error {
			t.hostKey = k.Type() + " " + ssh.FingerprintSHA256(k)
			return check(host, remote, k)
		}}
	port := u.Port()
	if port == "" {
		port = "22"
	}
	addr := net.JoinHostPort(u.Hostname(), port)
	var d net.Dialer
	dctx, cancel := context.WithTimeout(ctx, sshTimeout)
	defer cancel()
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("%w: connect to %s: %v", ErrTarget, addr, err)
	}
	cc, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: ssh to %s: %v", ErrTarget, addr, err)
	}
	t.client = ssh.NewClient(cc, chans, reqs)
	return t, nil
}

func (t *sshTarget) Name() string                { return t.name }
func (t *sshTarget) Kind() string                { return "ssh" }
func (t *sshTarget) HostKey() string             { return t.hostKey }
func (t *sshTarget) Skipped() []cases.TriageSkip { return t.skipped }
func (t *sshTarget) Close() error                { return t.client.Close() }

// run runs cmd on the host with stdin, writing its output to stdout; a
// non-zero exit is not an error (partial output is still evidence), but
// its stderr is returned beside.
func (t *sshTarget) run(ctx context.Context, cmd string, stdin io.Reader, stdout io.Writer) (string, error) {
	s, err := t.client.NewSession()
	if err != nil {
		return "", err
	}
	defer s.Close()
	var stderr bytes.Buffer
	s.Stdin, s.Stdout, s.Stderr = stdin, stdout, &limitedBuffer{b: &stderr, max: 4096}
	done := make(chan error, 1)
	go func() { done <- s.Run(cmd) }()
	select {
	case err = <-done:
	case <-ctx.Done():
		s.Close()
		return "", ctx.Err()
	}
	var ee *ssh.ExitError
	if err != nil && !errors.As(err, &ee) {
		return stderr.String(), err
	}
	return stderr.String(), nil
}

type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if room := l.max - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (t *sshTarget) Volatile(ctx context.Context, fn func(*Entry) error) error {
	for i, c := range volatileCommands {
		var out bytes.Buffer
		started := time.Now().UTC()
		if _, err := t.run(ctx, c.cmd, nil, &out); err != nil {
			t.skipped = append(t.skipped, cases.TriageSkip{Path: c.name, Reason: err.Error()})
			continue
		}
		data := out.Bytes()
		e := &Entry{TriageFile: cases.TriageFile{Path: fmt.Sprintf("/.firebreak-volatile/%d-%s", i+1, c.name), Size: int64(len(data)),
			Mode: syscall.S_IFREG | 0o400, MTime: started, Volatile: true, Command: c.cmd}}
		e.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// Walk lists the triage set with find (NUL-separated, so any name is
// read exactly), then fetches the regular files' contents in one tar
// stream; a file larger than the tar limit is fetched cut with head.
func (t *sshTarget) Walk(ctx context.Context, fn func(*Entry) error) error {
	var list bytes.Buffer
	for _, r := range sshRoots {
		cmd := fmt.Sprintf("test -d %s && find %s -xdev -maxdepth %d \\( -type f -o -type l \\) -printf '%%p\\0%%s\\0%%m\\0%%U\\0%%G\\0%%i\\0%%n\\0%%T@\\0%%C@\\0%%A@\\0%%y\\0%%l\\0'; true",
			shellQuote(r.dir), shellQuote(r.dir), r.depth)
		if _, err := t.run(ctx, cmd, nil, &list); err != nil {
			return fmt.Errorf("list %s: %w", r.dir, err)
		}
	}
	fields := strings.Split(list.String(), "\x00")
	entries := map[string]*Entry{}
	var order []string
	var fetch bytes.Buffer
	for i := 0; i+12 <= len(fields); i += 12 {
		f := fields[i : i+12]
		p := f[0]
		if _, err := CheckTarget(p); err != nil {
			t.skipped = append(t.skipped, cases.TriageSkip{Path: p, Reason: err.Error()})
			continue
		}
		perm, _ := strconv.ParseUint(f[2], 8, 32)
		mode := uint32(perm)
		if f[10] == "l" {
			mode |= syscall.S_IFLNK
		} else {
			mode |= syscall.S_IFREG
		}
		if !wanted(p, mode) {
			continue
		}
		e := &Entry{TriageFile: cases.TriageFile{Path: p, Mode: mode, MTime: epoch(f[7]), CTime: epoch(f[8]), ATime: epoch(f[9])}}
		e.Size, _ = strconv.ParseInt(f[1], 10, 64)
		uid, _ := strconv.ParseUint(f[3], 10, 32)
		gid, _ := strconv.ParseUint(f[4], 10, 32)
		e.UID, e.GID = uint32(uid), uint32(gid)
		e.Inode, _ = strconv.ParseUint(f[5], 10, 64)
		e.Links, _ = strconv.ParseUint(f[6], 10, 64)
		if f[10] == "l" {
			e.Link, e.Note = f[11], "symbolic link: recorded, not followed"
		} else if e.Size <= tarLimit {
			fetch.WriteString(strings.TrimPrefix(p, "/"))
			fetch.WriteByte(0)
		}
		if _, dup := entries[p]; !dup {
			order = append(order, p)
		}
		entries[p] = e
	}
	// The contents, in one stream, read as it comes.
	contents := map[string][]byte{}
	if fetch.Len() > 0 {
		pr, pw := io.Pipe()
		errc := make(chan error, 1)
		go func() {
			_, err := t.run(ctx, "tar --numeric-owner --no-recursion -C / -cf - --null -T - 2>/dev/null; true", &fetch, pw)
			pw.CloseWithError(err)
			errc <- err
		}()
		_, werr := walkTar(ctx, pr, func(e *Entry) error {
			if e.Open == nil {
				return nil
			}
			rc, _ := e.Open()
			b, err := io.ReadAll(io.LimitReader(rc, tarLimit+1))
			if err != nil {
				return err
			}
			contents[e.Path] = b
			return nil
		})
		io.Copy(io.Discard, pr) // tar's padding after its end marker
		pr.Close()
		if err := <-errc; err != nil {
			return fmt.Errorf("fetch files: %w", err)
		}
		if werr != nil && !errors.Is(werr, ErrTarget) {
			return werr
		}
	}
	for _, p := range order {
		e := entries[p]
		if e.Link == "" {
			if b, ok := contents[p]; ok {
				e.Open = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
			} else if e.Size > tarLimit {
				e.Open = func() (io.ReadCloser, error) {
					var out bytes.Buffer
					_, err := t.run(ctx, fmt.Sprintf("head -c %d -- %s", tarLimit, shellQuote(p)), nil, &out)
					return io.NopCloser(&out), err
				}
			} else {
				e.Note = "listed but not readable over SSH (vanished or unreadable)"
			}
		}
		if err := fn(e); err != nil {
			return err
		}
	}
	return nil
}

// tarLimit is the largest file fetched whole over SSH; larger ones are
// fetched cut (the collection records them as such).
const tarLimit = 16 << 20

func epoch(s string) time.Time {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}
	}
	sec := int64(f)
	return time.Unix(sec, int64((f-float64(sec))*1e9)).UTC()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
