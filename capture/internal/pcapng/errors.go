package pcapng

import "errors"

// Errors returned by Writer methods (match with errors.Is).
var (
	// ErrWatermark is returned by WritePacket once free disk space
	// reached the watermark and recording stopped.
	ErrWatermark = errors.New("pcapng: recording stopped: free disk space at the watermark")
	// ErrClosed is returned after Close.
	ErrClosed = errors.New("pcapng: writer closed")
	// ErrInterface is returned for a packet whose interface index is not
	// one of Options.Interfaces.
	ErrInterface = errors.New("pcapng: unknown interface index")
	// ErrTooLarge is returned for a packet longer than the snap length of
	// its interface.
	ErrTooLarge = errors.New("pcapng: packet longer than the snap length")
)
