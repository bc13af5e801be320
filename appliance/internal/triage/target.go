package triage

import (
	"context"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// Entry is one file of a target as a walk finds it. Open yields its
// content (regular files only) and is valid only during the walk's call.
type Entry struct {
	cases.TriageFile
	Open func() (io.ReadCloser, error)
}

// Target is somewhere files are collected from.
type Target interface {
	// Name is the target as the engineer named it; findings and plans
	// are recorded under it.
	Name() string
	// Kind is "directory", "archive" or "ssh".
	Kind() string
	// Volatile collects volatile data (processes, connections, logged-in
	// users, crontabs), most volatile first; nil for a target with none.
	Volatile(ctx context.Context, fn func(*Entry) error) error
	// Walk calls fn with every file of the triage set, never following a
	// symbolic link.
	Walk(ctx context.Context, fn func(*Entry) error) error
	// Skipped lists what the walk refused or could not read.
	Skipped() []cases.TriageSkip
	Close() error
}

// Spec names a target: a directory (a mounted disk), a triage archive
// (.tar, .tar.gz, .tgz, .zip) or ssh://USER@HOST[:PORT] with a key.
type Spec struct {
	Target string `json:"target"`
	// For ssh:// targets.
	Identity   string `json:"identity,omitempty"`    // private key file on the appliance
	KnownHosts string `json:"known_hosts,omitempty"` // known_hosts file; or HostKey
	HostKey    string `json:"host_key,omitempty"`    // the expected host key fingerprint, SHA256:...
}

// Open opens the target a spec names.
func Open(ctx context.Context, sp Spec) (Target, error) {
	t := sp.Target
	switch {
	case t == "":
		return nil, fmt.Errorf("%w: no target given", ErrTarget)
	case strings.HasPrefix(t, "ssh://"):
		return openSSH(ctx, sp)
	}
	fi, err := os.Stat(t)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTarget, err)
	}
	abs, err := filepath.Abs(t)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTarget, err)
	}
	if fi.IsDir() {
		if abs == "/" {
			return nil, fmt.Errorf("%w: / is the appliance's own root; mount the host's disk and name its mount point", ErrTarget)
		}
		return openDir(abs)
	}
	return openArchive(abs)
}

// Canonical is the name findings and plans are recorded under: an
// absolute path for a directory or archive, the address for ssh.
func Canonical(target string) string {
	if strings.HasPrefix(target, "ssh://") || target == "" {
		return target
	}
	if abs, err := filepath.Abs(target); err == nil {
		return abs
	}
	return target
}

// skipTop are top-level directories of a mounted root that hold no files
// of the host's disk.
var skipTop = map[string]bool{"proc": true, "sys": true, "dev": true, "run": true}

// wanted reports whether a file of a host's root is in the triage set:
// accounts, scheduled tasks, services, startup and shell files, SSH keys,
// the preload list, authentication and web logs, web content, and any
// set-user-ID or set-group-ID file.
func wanted(p string, mode uint32) bool {
	if mode&(syscall.S_ISUID|syscall.S_ISGID) != 0 && mode&syscall.S_IFMT == syscall.S_IFREG {
		return true
	}
	base := path.Base(p)
	switch p {
	case "/etc/passwd", "/etc/shadow", "/etc/group", "/etc/gshadow", "/etc/sudoers", "/etc/crontab", "/etc/rc.local",
		"/etc/rc.d/rc.local", "/etc/profile", "/etc/bash.bashrc", "/etc/ld.so.preload", "/etc/hosts", "/etc/ssh/sshd_config":
		return true
	}
	for _, pre := range []string{"/etc/sudoers.d/", "/etc/cron.", "/etc/profile.d/", "/etc/systemd/", "/etc/tmpfiles.d/",
		"/var/spool/cron/", "/lib/systemd/system/", "/usr/lib/systemd/system/", "/var/www/", "/srv/", "/usr/share/nginx/html/",
		"/root/.ssh/", "/etc/init.d/"} {
		if strings.HasPrefix(p, pre) {
			return true
		}
	}
	if strings.HasPrefix(p, "/root/") || strings.HasPrefix(p, "/home/") {
		switch base {
		case ".bashrc", ".bash_profile", ".profile", ".zshrc", ".bash_history", "authorized_keys", "authorized_keys2":
			return true
		}
		if strings.Contains(p, "/.ssh/") || strings.Contains(p, "/.config/systemd/") {
			return true
		}
	}
	if strings.Contains(p, "/webapps/") || strings.Contains(p, "/htdocs/") || strings.Contains(p, "/public_html/") {
		return true
	}
	if strings.HasPrefix(p, "/var/log/") {
		return authLog(p) || wtmpLog(p) != "" || accessLog(p)
	}
	return false
}

// authLog reports whether p is an authentication log (auth.log, secure,
// and their rotations).
func authLog(p string) bool {
	b := path.Base(p)
	return strings.HasPrefix(b, "auth.log") || b == "secure" || strings.HasPrefix(b, "secure.") || strings.HasPrefix(b, "secure-")
}

// wtmpLog says whether p is a login record file: "wtmp" (logins) or
// "btmp" (failures), "" if neither.
func wtmpLog(p string) string {
	b := path.Base(p)
	switch {
	case strings.HasPrefix(b, "wtmp"):
		return "wtmp"
	case strings.HasPrefix(b, "btmp"):
		return "btmp"
	}
	return ""
}

// accessLog reports whether p is a web server's access log.
func accessLog(p string) bool {
	b := path.Base(p)
	return strings.Contains(b, "access") && (strings.Contains(p, "/apache") || strings.Contains(p, "/httpd") ||
		strings.Contains(p, "/nginx") || strings.HasPrefix(b, "access") || strings.Contains(b, "access_log") || strings.Contains(b, "access.log"))
}

// dirTarget is a host's root filesystem mounted on the box.
type dirTarget struct {
	name    string
	root    *os.Root
	skipped []cases.TriageSkip
	// all collects every regular file, not only the triage set (a
	// directory that is not a whole root: a web root copied aside).
	all bool
}

func openDir(dir string) (*dirTarget, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTarget, err)
	}
	_, errEtc := root.Stat("etc")
	return &dirTarget{name: dir, root: root, all: errEtc != nil}, nil
}

func (d *dirTarget) Name() string                                       { return d.name }
func (d *dirTarget) Kind() string                                       { return "directory" }
func (d *dirTarget) Skipped() []cases.TriageSkip                        { return d.skipped }
func (d *dirTarget) Close() error                                       { return d.root.Close() }
func (d *dirTarget) Volatile(context.Context, func(*Entry) error) error { return nil }

// Root is the target's root, for applying steps.
func (d *dirTarget) Root() *os.Root { return d.root }

func (d *dirTarget) Walk(ctx context.Context, fn func(*Entry) error) error {
	return fs.WalkDir(d.root.FS(), ".", func(name string, de fs.DirEntry, err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		p := "/" + name
		if name == "." {
			p = "/"
		}
		if err != nil {
			d.skipped = append(d.skipped, cases.TriageSkip{Path: p, Reason: err.Error()})
			if de != nil && de.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if de.IsDir() {
			if !d.all && !strings.Contains(name, "/") && skipTop[name] {
				return fs.SkipDir
			}
			return nil
		}
		fi, err := d.root.Lstat(name)
		if err != nil {
			d.skipped = append(d.skipped, cases.TriageSkip{Path: p, Reason: err.Error()})
			return nil
		}
		e := &Entry{TriageFile: fileMeta(p, fi)}
		if !d.all && !wanted(p, e.Mode) {
			return nil
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			if l, err := d.root.Readlink(name); err == nil {
				e.Link = l
			}
			e.Note = "symbolic link: recorded, not followed"
		case fi.Mode().IsRegular():
			e.Open = func() (io.ReadCloser, error) { return d.root.Open(name) }
		default:
			e.Note = "not a regular file: metadata only"
		}
		return fn(e)
	})
}

// fileMeta is a file's metadata from lstat.
func fileMeta(p string, fi fs.FileInfo) cases.TriageFile {
	f := cases.TriageFile{Path: p, Size: fi.Size(), MTime: fi.ModTime().UTC()}
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		f.Mode, f.UID, f.GID, f.Inode, f.Links = st.Mode, st.Uid, st.Gid, st.Ino, uint64(st.Nlink)
		f.ATime = time.Unix(st.Atim.Sec, st.Atim.Nsec).UTC()
		f.CTime = time.Unix(st.Ctim.Sec, st.Ctim.Nsec).UTC()
		f.MTime = time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC()
	} else {
		f.Mode = unixMode(fi.Mode())
	}
	return f
}

// unixMode converts a Go file mode to st_mode bits.
func unixMode(m fs.FileMode) uint32 {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= syscall.S_ISUID
	}
	if m&fs.ModeSetgid != 0 {
		u |= syscall.S_ISGID
	}
	if m&fs.ModeSticky != 0 {
		u |= syscall.S_ISVTX
	}
	switch {
	case m.IsRegular():
		u |= syscall.S_IFREG
	case m.IsDir():
		u |= syscall.S_IFDIR
	case m&fs.ModeSymlink != 0:
		u |= syscall.S_IFLNK
	case m&fs.ModeNamedPipe != 0:
		u |= syscall.S_IFIFO
	case m&fs.ModeSocket != 0:
		u |= syscall.S_IFSOCK
	case m&fs.ModeCharDevice != 0:
		u |= syscall.S_IFCHR
	case m&fs.ModeDevice != 0:
		u |= syscall.S_IFBLK
	}
	return u
}
