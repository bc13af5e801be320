package pcapng

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Recover finds the segments a crashed writer left unsealed in dir
// (NAME.pcapng.partial), renames each to NAME.truncated.pcapng without
// changing its content, and describes it: the SHA-256 and size of the bytes
// as found, the complete packets in it and their times, and Truncated when
// the file stops inside a block. The caller seals these into the vault as
// truncated evidence. Unlike the writer, Recover has to read the files.
func Recover(dir string) ([]Segment, error) {
	paths, err := filepath.Glob(filepath.Join(dir, "*.pcapng.partial"))
	if err != nil {
		return nil, err
	}
	var out []Segment
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			return out, fmt.Errorf("pcapng: recover %s: %w", p, err)
		}
		seg := scan(b)
		sum := sha256.Sum256(b)
		seg.SHA256 = hex.EncodeToString(sum[:])
		seg.Size = int64(len(b))
		seg.Reason = "recovered"
		seg.Path = strings.TrimSuffix(p, ".pcapng.partial") + ".truncated.pcapng"
		if err := renameNoReplace(p, seg.Path); err != nil {
			return out, fmt.Errorf("pcapng: recover %s: %w", p, err)
		}
		out = append(out, seg)
	}
	if len(out) > 0 {
		if d, err := os.Open(dir); err == nil {
			d.Sync()
			d.Close()
		}
	}
	return out, nil
}

// scan walks the blocks of a segment written by this package (little
// endian, nanosecond timestamps) and counts the complete packets. It stops
// at the first block that is cut short or malformed.
func scan(b []byte) Segment {
	var s Segment
	off := 0
	for off < len(b) {
		if len(b)-off < 12 {
			s.Truncated = true
			break
		}
		typ := binary.LittleEndian.Uint32(b[off:])
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		if n < 12 || n%4 != 0 || n > len(b)-off || binary.LittleEndian.Uint32(b[off+n-4:]) != uint32(n) {
			s.Truncated = true
			break
		}
		if typ == 6 && n >= 32 {
			ns := uint64(binary.LittleEndian.Uint32(b[off+12:]))<<32 | uint64(binary.LittleEndian.Uint32(b[off+16:]))
			ts := time.Unix(0, int64(ns))
			if s.Packets == 0 || ts.Before(s.First) {
				s.First = ts
			}
			if ts.After(s.Last) {
				s.Last = ts
			}
			s.Packets++
		}
		off += n
	}
	return s
}
