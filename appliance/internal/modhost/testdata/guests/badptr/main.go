// Command badptr is a test module that calls the host function its config
// names with an address outside its memory. It implements the ABI without
// the SDK. It must never be shipped.
package main

import "unsafe"

func main() {}

//go:wasmimport firebreak emit
func emit(ptr, n uint32) int32

//go:wasmimport firebreak log
func log(level int32, ptr, n uint32)

//go:wasmimport firebreak kv_get
func kvGet(kptr, klen, vptr, vcap uint32) int32

//go:wasmimport firebreak kv_set
func kvSet(kptr, klen, vptr, vlen uint32) int32

//go:wasmimport firebreak kv_delete
func kvDelete(kptr, klen uint32) int32

//go:wasmimport firebreak match_compile
func matchCompile(ptr, n, flags uint32) int32

//go:wasmimport firebreak match
func match(set, dptr, dlen, optr, ocap uint32) int32

var buf []byte
var target string

const bad = 0xFFFFFF00

//go:wasmexport fb_abi_version
func abiVersion() uint32 { return 1 }

//go:wasmexport fb_buffer
func buffer(size uint32) uint32 {
	buf = make([]byte, size)
	return uint32(uintptr(unsafe.Pointer(&buf[0])))
}

//go:wasmexport fb_init
func initialize(n uint32) int32 {
	target = string(buf[:n])
	if target == "match" {
		if matchCompile(uint32(uintptr(unsafe.Pointer(&buf[0]))), 0, 0) < 0 {
			return 1
		}
	}
	return 0
}

//go:wasmexport fb_batch
func batch(n uint32) int32 {
	ok := uint32(uintptr(unsafe.Pointer(&buf[0])))
	switch target {
	case "emit":
		emit(bad, 4096)
	case "log":
		log(1, bad, 100)
	case "kv_get":
		kvGet(ok, 1, bad, 4096)
	case "kv_set":
		kvSet(bad, 8, ok, 1)
	case "kv_delete":
		kvDelete(bad, 1<<31)
	case "match_compile":
		matchCompile(bad, 4096, 0)
	case "match":
		match(0, ok, 16, bad, 1<<29)
	}
	return 0
}

//go:wasmexport fb_flush
func flush() int32 { return 0 }
