// Package pcapng is Firebreak's packet-evidence recorder: it writes live
// traffic to rotating pcapng segments, hashes each segment while writing
// it, and seals it (flush, fsync, rename, fsync of the directory) before
// reporting it, so that what the vault ingests and the journal records is
// exactly what is on disk.
//
// API:
//
//	w, err := pcapng.Create(pcapng.Options{Dir: dir, Interfaces: []pcapng.Interface{{Name: "eth1", Filter: "tcp"}},
//		CaseID: "2026-0042", ApplianceID: "fb-07", OnSeal: func(s pcapng.Segment) { ... }})
//	err = w.WritePacket(ts, ifaceIndex, data, origLen)  // ErrWatermark once the disk is nearly full
//	err = w.Close()                                      // seals the open segment
//	segs, err := pcapng.Recover(dir)                     // after a crash: what was left unsealed
//
// Each segment is one pcapng section: a Section Header Block with
// shb_hardware, shb_os, shb_userappl and a comment naming the interfaces,
// the filter, the case and the appliance; one Interface Description Block
// per interface with if_name, if_filter and if_tsresol (nanoseconds); then
// Enhanced Packet Blocks; and, when the segment is sealed, one Interface
// Statistics Block per interface with the segment's first and last packet
// times and the kernel drops since the previous segment (isb_ifdrop), so
// the drop count travels inside the evidence file. Segments rotate when the next packet would take
// the file past MaxBytes, or when packet time (never the wall clock) has
// moved MaxDuration past the segment's first packet, so replaying a capture
// rotates the same way it did live.
//
// Segments are named PREFIX-NNNNNN.pcapng; numbering continues after the
// highest number already in Dir, so a restarted daemon never reuses a
// name, and a sealed file is never replaced (renameat2 RENAME_NOREPLACE).
// A segment is written as NAME.pcapng.partial and renamed to NAME.pcapng
// only once it is complete and on stable storage. After a crash (kill -9,
// power loss) the directory holds the sealed segments and at most one
// .partial file, which ends at whatever the kernel had written; it may stop
// in the middle of a block. On restart, Recover renames each such file to
// NAME.truncated.pcapng (so it is never reported twice) without changing a
// byte, and describes it: the hash and size of the bytes as found, the
// count of complete packets and their times, and Truncated when it ends
// inside a block. The daemon seals it into the case vault as truncated
// evidence and journals it as such (capture/internal/live reports it
// through OnSeal with Reason "recovered"). Evidence is never repaired in
// place.
//
// Disk watermark: before writing, the free space of Dir is checked with
// statfs (cached, re-checked every CheckEvery bytes). Recording stops,
// cleanly and before the free space could fall below MinFree, when free
// space minus what may be written before the next check would cross it:
// the open segment is sealed with Reason "watermark", OnWatermark is
// called once, and every later WritePacket returns ErrWatermark. The store
// and the journal therefore never run out of space because of capture.
//
// This package must never modify a sealed segment, never re-read a file to
// hash it (the hash is of the bytes as written), never use the wall clock
// for rotation, and never keep a reference to the packet data it is given.
package pcapng
