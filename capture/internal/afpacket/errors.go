package afpacket

import "errors"

// Errors returned by Open and Run (match with errors.Is).
var (
	// ErrNoInterface is returned when Options.Interfaces is empty or names
	// an interface that does not exist.
	ErrNoInterface = errors.New("afpacket: no such interface")
	// ErrVLANFilter is returned for a filter that reads 802.1Q tags from
	// the frame bytes, which the kernel has already removed.
	ErrVLANFilter = errors.New("afpacket: the filter reads the VLAN tag from the frame, where a live socket never has it (compile it with bpf.Options.LinuxVLAN)")
	// ErrNotSupported is returned when the kernel lacks a feature the
	// source needs (TPACKET_V3, PACKET_FANOUT).
	ErrNotSupported = errors.New("afpacket: kernel feature not supported")
	// ErrPermission is returned without CAP_NET_RAW.
	ErrPermission = errors.New("afpacket: permission denied (needs CAP_NET_RAW)")
	// ErrRunning is returned by a second call to Run, or by Run after
	// Close.
	ErrRunning = errors.New("afpacket: source already ran or closed")
)
