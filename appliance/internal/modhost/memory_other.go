//go:build !linux

package modhost

import "github.com/tetratelabs/wazero/experimental"

// mmapAllocator is nil off Linux: wazero's own slices back module memory.
var mmapAllocator experimental.MemoryAllocator
