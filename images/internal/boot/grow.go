package boot

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
)

// The image's data partition is small; on a box's real disk it grows, on
// the first boot, to the end of the disk. growGPT works on the partition
// table alone (pure, tested); growDataPartition applies it to the disk and
// tells the kernel; the file system grows online once it is mounted.

var errGPT = errors.New("not a valid GPT")

type gptHeader struct {
	raw                 []byte
	my, alt             uint64
	firstUsable         uint64
	lastUsable          uint64
	entriesLBA          uint64
	numEntries, entrySz uint32
}

func parseGPTHeader(b []byte) (gptHeader, error) {
	if len(b) < 92 || string(b[:8]) != "EFI PART" {
		return gptHeader{}, errGPT
	}
	size := binary.LittleEndian.Uint32(b[12:])
	if size < 92 || int(size) > len(b) {
		return gptHeader{}, errGPT
	}
	h := gptHeader{raw: append([]byte(nil), b[:size]...)}
	crc := binary.LittleEndian.Uint32(h.raw[16:])
	binary.LittleEndian.PutUint32(h.raw[16:], 0)
	if crc32.ChecksumIEEE(h.raw) != crc {
		return gptHeader{}, fmt.Errorf("%w: header checksum", errGPT)
	}
	h.my = binary.LittleEndian.Uint64(b[24:])
	h.alt = binary.LittleEndian.Uint64(b[32:])
	h.firstUsable = binary.LittleEndian.Uint64(b[40:])
	h.lastUsable = binary.LittleEndian.Uint64(b[48:])
	h.entriesLBA = binary.LittleEndian.Uint64(b[72:])
	h.numEntries = binary.LittleEndian.Uint32(b[80:])
	h.entrySz = binary.LittleEndian.Uint32(b[84:])
	if h.entrySz < 128 || h.numEntries == 0 || h.numEntries > 1024 {
		return gptHeader{}, errGPT
	}
	return h, nil
}

func (h gptHeader) encode(my, alt, lastUsable, entriesLBA uint64, entriesCRC uint32) []byte {
	b := append([]byte(nil), h.raw...)
	binary.LittleEndian.PutUint64(b[24:], my)
	binary.LittleEndian.PutUint64(b[32:], alt)
	binary.LittleEndian.PutUint64(b[48:], lastUsable)
	binary.LittleEndian.PutUint64(b[72:], entriesLBA)
	binary.LittleEndian.PutUint32(b[88:], entriesCRC)
	binary.LittleEndian.PutUint32(b[16:], 0)
	binary.LittleEndian.PutUint32(b[16:], crc32.ChecksumIEEE(b))
	return b
}

// gptGrowth is the new partition table: what to write where.
type gptGrowth struct {
	primaryHeader, backupHeader []byte
	entries                     []byte
	backupEntriesLBA, backupLBA uint64
	start, end                  uint64 // the grown partition's first and last LBA
}

// growGPT extends partition pno (1-based), which must be the last on the
// disk, to the end of a disk of diskSectors sectors, aligned to 1 MiB. It
// returns nil when there is nothing to grow.
func growGPT(header, entries []byte, sector, diskSectors uint64, pno int) (*gptGrowth, error) {
	h, err := parseGPTHeader(header)
	if err != nil {
		return nil, err
	}
	if h.my != 1 {
		return nil, fmt.Errorf("%w: not the primary header", errGPT)
	}
	size := int(h.numEntries) * int(h.entrySz)
	if len(entries) < size {
		return nil, fmt.Errorf("%w: short partition entries", errGPT)
	}
	entries = append([]byte(nil), entries[:size]...)
	if pno < 1 || pno > int(h.numEntries) {
		return nil, fmt.Errorf("partition %d is not in the table", pno)
	}
	entrySectors := (uint64(size) + sector - 1) / sector
	last := diskSectors - 1
	lastUsable := last - entrySectors - 1
	align := (1 << 20) / sector
	e := entries[(pno-1)*int(h.entrySz):]
	start := binary.LittleEndian.Uint64(e[32:])
	end := binary.LittleEndian.Uint64(e[40:])
	newEnd := (lastUsable+1)/align*align - 1
	if newEnd <= end || h.lastUsable >= lastUsable {
		return nil, nil
	}
	for i := 0; i < int(h.numEntries); i++ {
		o := entries[i*int(h.entrySz):]
		if i == pno-1 || bytes.Equal(o[:16], make([]byte, 16)) {
			continue
		}
		if binary.LittleEndian.Uint64(o[40:]) > end {
			return nil, fmt.Errorf("partition %d is not the last on the disk", pno)
		}
	}
	binary.LittleEndian.PutUint64(e[40:], newEnd)
	crc := crc32.ChecksumIEEE(entries)
	backupEntries := last - entrySectors
	return &gptGrowth{
		primaryHeader:    h.encode(1, last, lastUsable, h.entriesLBA, crc),
		backupHeader:     h.encode(last, 1, lastUsable, backupEntries, crc),
		entries:          entries,
		backupEntriesLBA: backupEntries,
		backupLBA:        last,
		start:            start,
		end:              newEnd,
	}, nil
}

// growDataPartition grows the data partition (a device such as /dev/vda3)
// to the end of its disk, if the disk has room after it, and tells the
// kernel. It reports the partition's size in bytes after.
func growDataPartition(part string) (uint64, bool, error) {
	name := filepath.Base(part)
	pnoText, err := os.ReadFile(filepath.Join("/sys/class/block", name, "partition"))
	if err != nil {
		return 0, false, err
	}
	pno, err := strconv.Atoi(strings.TrimSpace(string(pnoText)))
	if err != nil {
		return 0, false, err
	}
	partPath, err := filepath.EvalSymlinks(filepath.Join("/sys/class/block", name))
	if err != nil {
		return 0, false, err
	}
	disk := "/dev/" + filepath.Base(filepath.Dir(partPath)) // .../block/vda/vda3
	f, err := os.OpenFile(disk, os.O_RDWR, 0)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	ssz, err := unix.IoctlGetInt(int(f.Fd()), unix.BLKSSZGET)
	if err != nil {
		return 0, false, err
	}
	var bytesTotal uint64
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKGETSIZE64, uintptr(unsafe.Pointer(&bytesTotal))); e != 0 {
		return 0, false, e
	}
	sector := uint64(ssz)
	header := make([]byte, sector)
	if _, err := f.ReadAt(header, int64(sector)); err != nil {
		return 0, false, err
	}
	h, err := parseGPTHeader(header)
	if err != nil {
		return 0, false, err
	}
	entries := make([]byte, int(h.numEntries)*int(h.entrySz))
	if _, err := f.ReadAt(entries, int64(h.entriesLBA*sector)); err != nil {
		return 0, false, err
	}
	g, err := growGPT(header, entries, sector, bytesTotal/sector, pno)
	if err != nil || g == nil {
		e := entries[(pno-1)*int(h.entrySz):]
		return (binary.LittleEndian.Uint64(e[40:]) - binary.LittleEndian.Uint64(e[32:]) + 1) * sector, false, err
	}
	// Backup first, then primary: a power cut in between leaves a valid
	// primary table (the old one), which firmware and the kernel prefer.
	for _, w := range []struct {
		b   []byte
		lba uint64
	}{{g.entries, g.backupEntriesLBA}, {pad(g.backupHeader, sector), g.backupLBA}, {g.entries, h.entriesLBA}, {pad(g.primaryHeader, sector), 1}} {
		if _, err := f.WriteAt(w.b, int64(w.lba*sector)); err != nil {
			return 0, false, fmt.Errorf("write the partition table: %w", err)
		}
	}
	mbr := make([]byte, sector)
	if _, err := f.ReadAt(mbr, 0); err == nil && growPMBR(mbr, bytesTotal/sector) {
		if _, err := f.WriteAt(mbr, 0); err != nil {
			return 0, false, fmt.Errorf("write the protective MBR: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return 0, false, err
	}
	length := (g.end - g.start + 1) * sector
	p := unix.BlkpgPartition{Start: int64(g.start * sector), Length: int64(length), Pno: int32(pno)}
	arg := unix.BlkpgIoctlArg{Op: unix.BLKPG_RESIZE_PARTITION, Datalen: int32(unsafe.Sizeof(p)), Data: (*byte)(unsafe.Pointer(&p))}
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.BLKPG, uintptr(unsafe.Pointer(&arg))); e != 0 {
		return 0, false, fmt.Errorf("tell the kernel the new partition size: %w", e)
	}
	return length, true, nil
}

// growPMBR makes the protective MBR's 0xEE partition cover the whole disk
// again, as the GPT specification asks.
func growPMBR(mbr []byte, diskSectors uint64) bool {
	if len(mbr) < 512 || mbr[510] != 0x55 || mbr[511] != 0xAA || mbr[446+4] != 0xEE {
		return false
	}
	size := min(diskSectors-1, 0xFFFFFFFF)
	binary.LittleEndian.PutUint32(mbr[446+12:], uint32(size))
	return true
}

func pad(b []byte, n uint64) []byte {
	out := make([]byte, n)
	copy(out, b)
	return out
}

// growFS grows the mounted ext4 file system at dir to fill its partition.
func growFS(dir string, partBytes uint64) error {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return err
	}
	blocks := partBytes / uint64(st.Bsize)
	if blocks <= st.Blocks+64 {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	const ext4IOCResizeFS = 0x40086610 // _IOW('f', 16, __u64)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, d.Fd(), ext4IOCResizeFS, uintptr(unsafe.Pointer(&blocks))); e != 0 {
		return fmt.Errorf("grow the data file system: %w", e)
	}
	return nil
}
