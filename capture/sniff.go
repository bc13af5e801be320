package capture

import "bytes"

// Format names a capture file format from its first bytes: "pcap",
// "pcapng", "gzip" (of either), or "" when it is none of them.
func Format(head []byte) string {
	switch {
	case len(head) >= 4 && bytes.Equal(head[:4], []byte{0x0a, 0x0d, 0x0d, 0x0a}):
		return "pcapng"
	case len(head) >= 4 && (bytes.Equal(head[:4], []byte{0xa1, 0xb2, 0xc3, 0xd4}) || bytes.Equal(head[:4], []byte{0xd4, 0xc3, 0xb2, 0xa1}) ||
		bytes.Equal(head[:4], []byte{0xa1, 0xb2, 0x3c, 0x4d}) || bytes.Equal(head[:4], []byte{0x4d, 0x3c, 0xb2, 0xa1})):
		return "pcap"
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		return "gzip"
	}
	return ""
}
