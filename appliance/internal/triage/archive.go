package triage

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"syscall"

	"github.com/firebreak-ir/firebreak/appliance/internal/cases"
)

// archiveTarget is a triage archive: a tar (plain or gzip) or zip of files
// collected from a host. Every member is collected; member names are made
// paths inside the target, and one that climbs out ("..") is refused.
type archiveTarget struct {
	name    string
	f       *os.File
	skipped []cases.TriageSkip
}

func openArchive(p string) (*archiveTarget, error) {
	f, err := os.Open(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrTarget, err)
	}
	return &archiveTarget{name: p, f: f}, nil
}

func (a *archiveTarget) Name() string                                       { return a.name }
func (a *archiveTarget) Kind() string                                       { return "archive" }
func (a *archiveTarget) Skipped() []cases.TriageSkip                        { return a.skipped }
func (a *archiveTarget) Close() error                                       { return a.f.Close() }
func (a *archiveTarget) Volatile(context.Context, func(*Entry) error) error { return nil }

// Original is the archive itself, kept as evidence before its members.
func (a *archiveTarget) Original() (*Entry, error) {
	fi, err := a.f.Stat()
	if err != nil {
		return nil, err
	}
	e := &Entry{TriageFile: fileMeta("/", fi)}
	e.Path, e.Note = "/", "the triage archive itself: "+a.name
	e.Open = func() (io.ReadCloser, error) { return io.NopCloser(io.NewSectionReader(a.f, 0, fi.Size())), nil }
	return e, nil
}

func (a *archiveTarget) Walk(ctx context.Context, fn func(*Entry) error) error {
	fi, err := a.f.Stat()
	if err != nil {
		return err
	}
	skipped, err := WalkArchive(ctx, a.f, fi.Size(), fn)
	a.skipped = append(a.skipped, skipped...)
	return err
}

// MemberPath turns an archive member name into a path inside the target
// ("/etc/passwd"). A name with a ".." element, a NUL, or nothing left is
// refused: an archive never writes or names anything outside its target.
func MemberPath(name string) (string, error) {
	n := strings.ReplaceAll(name, "\\", "/")
	if strings.ContainsRune(n, 0) {
		return "", fmt.Errorf("%w: member name %q holds a NUL byte", ErrEscape, name)
	}
	for _, el := range strings.Split(n, "/") {
		if el == ".." {
			return "", fmt.Errorf("%w: member name %q climbs out of the archive with ..", ErrEscape, name)
		}
	}
	p := path.Clean("/" + n)
	if p == "/" {
		return "", fmt.Errorf("%w: member name %q names no file", ErrTarget, name)
	}
	return p, nil
}

// WalkArchive reads a tar, gzip-compressed tar or zip archive from r
// (size bytes) and calls fn with each member. Members it refuses are
// returned as skipped, with the reason; an archive that is none of the
// three, or is damaged, is an error after the members read so far.
func WalkArchive(ctx context.Context, r io.ReaderAt, size int64, fn func(*Entry) error) ([]cases.TriageSkip, error) {
	head := make([]byte, 512)
	n, _ := r.ReadAt(head, 0)
	head = head[:n]
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return walkZip(ctx, r, size, fn)
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		zr, err := gzip.NewReader(io.NewSectionReader(r, 0, size))
		if err != nil {
			return nil, fmt.Errorf("%w: gzip: %v", ErrTarget, err)
		}
		defer zr.Close()
		return walkTar(ctx, bufio.NewReader(zr), fn)
	case len(head) >= 262 && string(head[257:262]) == "ustar", len(head) == 512 && tarChecksumOK(head):
		return walkTar(ctx, io.NewSectionReader(r, 0, size), fn)
	}
	return nil, fmt.Errorf("%w: not a tar, tar.gz or zip archive", ErrTarget)
}

// tarChecksumOK checks a v7 tar header's checksum.
func tarChecksumOK(h []byte) bool {
	var sum int64
	for i, c := range h {
		if i >= 148 && i < 156 {
			c = ' '
		}
		sum += int64(c)
	}
	var want int64
	for _, c := range bytes.TrimRight(bytes.TrimSpace(h[148:156]), "\x00 ") {
		if c < '0' || c > '7' {
			return false
		}
		want = want*8 + int64(c-'0')
	}
	return sum == want && sum > 8*32
}

func walkTar(ctx context.Context, r io.Reader, fn func(*Entry) error) ([]cases.TriageSkip, error) {
	var skipped []cases.TriageSkip
	tr := tar.NewReader(r)
	for {
		if ctx.Err() != nil {
			return skipped, ctx.Err()
		}
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return skipped, nil
		}
		if err != nil {
			return skipped, fmt.Errorf("%w: tar: %v", ErrTarget, err)
		}
		p, err := MemberPath(h.Name)
		if err != nil {
			skipped = append(skipped, cases.TriageSkip{Path: h.Name, Reason: err.Error()})
			continue
		}
		fi := h.FileInfo()
		e := &Entry{TriageFile: cases.TriageFile{Path: p, Size: h.Size, Mode: unixMode(fi.Mode()),
			UID: uint32(h.Uid), GID: uint32(h.Gid), MTime: h.ModTime.UTC(), ATime: h.AccessTime.UTC(), CTime: h.ChangeTime.UTC()}}
		switch h.Typeflag {
		case tar.TypeReg, tar.TypeRegA:
			e.Open = func() (io.ReadCloser, error) { return io.NopCloser(tr), nil }
		case tar.TypeDir:
			continue
		case tar.TypeSymlink:
			e.Link, e.Note = h.Linkname, "symbolic link: recorded, not followed"
		case tar.TypeLink:
			e.Link, e.Note = h.Linkname, "hard link in the archive: recorded, not followed"
		default:
			e.Note = "not a regular file: metadata only"
		}
		if err := fn(e); err != nil {
			return skipped, err
		}
	}
}

func walkZip(ctx context.Context, r io.ReaderAt, size int64, fn func(*Entry) error) ([]cases.TriageSkip, error) {
	var skipped []cases.TriageSkip
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: zip: %v", ErrTarget, err)
	}
	for _, zf := range zr.File {
		if ctx.Err() != nil {
			return skipped, ctx.Err()
		}
		p, err := MemberPath(zf.Name)
		if err != nil {
			skipped = append(skipped, cases.TriageSkip{Path: zf.Name, Reason: err.Error()})
			continue
		}
		fi := zf.FileInfo()
		if fi.IsDir() {
			continue
		}
		e := &Entry{TriageFile: cases.TriageFile{Path: p, Size: int64(min(zf.UncompressedSize64, 1<<62)),
			Mode: unixMode(fi.Mode()), MTime: zf.Modified.UTC()}}
		switch {
		case fi.Mode().IsRegular():
			e.Open = func() (io.ReadCloser, error) { return zf.Open() }
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Note = "symbolic link: recorded, not followed"
		default:
			e.Note = "not a regular file: metadata only"
		}
		if e.Mode&syscall.S_IFMT == 0 {
			e.Mode |= syscall.S_IFREG
		}
		if err := fn(e); err != nil {
			return skipped, err
		}
	}
	return skipped, nil
}
