package pcapio

import (
	"os"

	"golang.org/x/sys/unix"
)

// mapFile maps a regular, non-empty file read-only, or returns nil.
func mapFile(f *os.File) *mapped {
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() || fi.Size() == 0 || fi.Size() != int64(int(fi.Size())) {
		return nil
	}
	data, err := unix.Mmap(int(f.Fd()), 0, int(fi.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		return nil
	}
	_ = unix.Madvise(data, unix.MADV_SEQUENTIAL)
	return &mapped{
		data:    data,
		unmap:   func(b []byte) { _ = unix.Munmap(b) },
		release: func(b []byte) { _ = unix.Madvise(b, unix.MADV_DONTNEED) },
	}
}
