//go:build wasip1

package sdk

import "unsafe"

//go:wasmimport firebreak emit
func fbEmit(ptr unsafe.Pointer, n uint32) int32

//go:wasmimport firebreak log
func fbLog(level int32, ptr unsafe.Pointer, n uint32)

//go:wasmimport firebreak kv_get
func fbKVGet(kptr unsafe.Pointer, klen uint32, vptr unsafe.Pointer, vcap uint32) int32

//go:wasmimport firebreak kv_set
func fbKVSet(kptr unsafe.Pointer, klen uint32, vptr unsafe.Pointer, vlen uint32) int32

//go:wasmimport firebreak kv_delete
func fbKVDelete(kptr unsafe.Pointer, klen uint32) int32

//go:wasmimport firebreak match_compile
func fbMatchCompile(ptr unsafe.Pointer, n uint32, flags uint32) int32

//go:wasmimport firebreak match
func fbMatch(set uint32, dptr unsafe.Pointer, dlen uint32, out unsafe.Pointer, outcap uint32) int32

func bptr(b []byte) unsafe.Pointer {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Pointer(&b[0])
}

func sptr(s string) unsafe.Pointer {
	if len(s) == 0 {
		return nil
	}
	return unsafe.Pointer(unsafe.StringData(s))
}

func hostEmit(b []byte) int32         { return fbEmit(bptr(b), uint32(len(b))) }
func hostLog(level int32, msg string) { fbLog(level, sptr(msg), uint32(len(msg))) }
func hostKVGet(key string, dst []byte) int32 {
	return fbKVGet(sptr(key), uint32(len(key)), bptr(dst[:cap(dst)]), uint32(cap(dst)))
}
func hostKVSet(key string, v []byte) int32 {
	return fbKVSet(sptr(key), uint32(len(key)), bptr(v), uint32(len(v)))
}
func hostKVDelete(key string) int32 { return fbKVDelete(sptr(key), uint32(len(key))) }
func hostMatchCompile(b []byte, flags uint32) int32 {
	return fbMatchCompile(bptr(b), uint32(len(b)), flags)
}
func hostMatch(set uint32, data []byte, out []uint32) int32 {
	var op unsafe.Pointer
	if cap(out) > 0 {
		op = unsafe.Pointer(&out[:1][0])
	}
	return fbMatch(set, bptr(data), uint32(len(data)), op, uint32(cap(out)))
}

// The exports of ABI v1.

var batchBuf []byte

//go:wasmexport fb_abi_version
func fbABIVersion() uint32 { return ABIVersion }

//go:wasmexport fb_buffer
func fbBuffer(size uint32) uint32 {
	if uint32(cap(batchBuf)) < size {
		batchBuf = make([]byte, size)
	}
	batchBuf = batchBuf[:size]
	return uint32(uintptr(unsafe.Pointer(&batchBuf[0])))
}

//go:wasmexport fb_init
func fbInit(n uint32) int32 {
	if registered == nil {
		hostLog(LevelError, "no module registered (call sdk.Register in init)")
		return 1
	}
	return result(registered.Init(batchBuf[:n:n]))
}

//go:wasmexport fb_batch
func fbBatch(n uint32) int32 { return result(registered.Batch(Batch(batchBuf[:n:n]))) }

//go:wasmexport fb_file
func fbFile(n uint32) int32 {
	fm, ok := registered.(FileModule)
	if !ok {
		hostLog(LevelError, "the module does not take file events (implement sdk.FileModule)")
		return 1
	}
	rec, content, ok := FileContent(batchBuf[:n:n])
	if !ok {
		hostLog(LevelError, "malformed file record")
		return 1
	}
	return result(fm.File(rec, content))
}

//go:wasmexport fb_flush
func fbFlush() int32 { return result(registered.Flush()) }

func result(err error) int32 {
	if err != nil {
		hostLog(LevelError, err.Error())
		return 1
	}
	return 0
}
