;; The WebAssembly-text half of the ABI conformance test: the same module
;; as guests/conformance (Go, with the SDK), written against sdk/ABI.md
;; alone. For every flow record it emits an alert with the record's header,
;; signature "conformance", severity 3 and signature ID the packets to the
;; server (field 10); it counts records in the key-value state under "n";
;; fb_flush emits "conformance total" with the count.
;; Build: wat2wasm conformance.wat -o conformance.wasm (the test checks the
;; checked-in .wasm is current when wat2wasm is installed).
(module
  (import "firebreak" "emit" (func $emit (param i32 i32) (result i32)))
  (import "firebreak" "kv_get" (func $kv_get (param i32 i32 i32 i32) (result i32)))
  (import "firebreak" "kv_set" (func $kv_set (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2)
  (data (i32.const 16) "n")
  (data (i32.const 48) "conformance total")

  (func (export "fb_abi_version") (result i32) (i32.const 1))

  ;; The batch buffer starts at 64 KiB; grow the memory to hold it.
  (func (export "fb_buffer") (param $size i32) (result i32)
    (local $need i32)
    (local.set $need (i32.shr_u (i32.add (i32.add (i32.const 65536) (local.get $size)) (i32.const 65535)) (i32.const 16)))
    (if (i32.gt_u (local.get $need) (memory.size))
      (then (if (i32.lt_s (memory.grow (i32.sub (local.get $need) (memory.size))) (i32.const 0))
        (then (unreachable)))))
    (i32.const 65536))

  (func (export "fb_init") (param $len i32) (result i32)
    (i32.store (i32.const 32) (i32.const 0))
    (drop (call $kv_set (i32.const 16) (i32.const 1) (i32.const 32) (i32.const 4)))
    (i32.const 0))

  ;; A field: u16 tag, u16 len, value, padding to 4.
  (func $field64 (param $at i32) (param $tag i32) (param $v i64)
    (i32.store16 (local.get $at) (local.get $tag))
    (i32.store16 offset=2 (local.get $at) (i32.const 8))
    (i64.store offset=4 (local.get $at) (local.get $v)))

  (func (export "fb_batch") (param $len i32) (result i32)
    (local $off i32) (local $end i32) (local $size i32) (local $n i32)
    (local $f i32) (local $fend i32) (local $pkts i64)
    (if (i32.lt_s (call $kv_get (i32.const 16) (i32.const 1) (i32.const 32) (i32.const 4)) (i32.const 0))
      (then (return (i32.const 1))))
    (local.set $n (i32.load (i32.const 32)))
    (local.set $off (i32.const 65536))
    (local.set $end (i32.add (i32.const 65536) (local.get $len)))
    (block $done
      (loop $rec
        (br_if $done (i32.gt_u (i32.add (local.get $off) (i32.const 64)) (local.get $end)))
        (local.set $size (i32.load (local.get $off)))
        (br_if $done (i32.lt_u (local.get $size) (i32.const 64)))
        (local.set $n (i32.add (local.get $n) (i32.const 1)))
        (if (i32.eq (i32.load16_u offset=4 (local.get $off)) (i32.const 3))
          (then
            (local.set $pkts (i64.const 0))
            (local.set $f (i32.add (local.get $off) (i32.const 64)))
            (local.set $fend (i32.add (local.get $off) (local.get $size)))
            (block $fdone
              (loop $field
                (br_if $fdone (i32.gt_u (i32.add (local.get $f) (i32.const 4)) (local.get $fend)))
                (if (i32.eq (i32.load16_u (local.get $f)) (i32.const 10))
                  (then
                    (local.set $pkts (i64.load offset=4 (local.get $f)))
                    (br $fdone)))
                (local.set $f (i32.add (i32.add (local.get $f) (i32.const 4))
                  (i32.and (i32.add (i32.load16_u offset=2 (local.get $f)) (i32.const 3)) (i32.const -4))))
                (br $field)))
            ;; The alert at 1024: the event's header, kind 64, then fields.
            (memory.copy (i32.const 1024) (local.get $off) (i32.const 64))
            (i32.store16 (i32.const 1028) (i32.const 64))
            (i32.store16 (i32.const 1088) (i32.const 100))
            (i32.store16 (i32.const 1090) (i32.const 11))
            (memory.copy (i32.const 1092) (i32.const 48) (i32.const 11))
            (i32.store8 (i32.const 1103) (i32.const 0))
            (call $field64 (i32.const 1104) (i32.const 102) (i64.const 3))
            (call $field64 (i32.const 1116) (i32.const 104) (local.get $pkts))
            (i32.store (i32.const 1024) (i32.const 104))
            (if (i32.lt_s (call $emit (i32.const 1024) (i32.const 104)) (i32.const 0))
              (then (return (i32.const 1))))))
        (local.set $off (i32.add (local.get $off) (local.get $size)))
        (br $rec)))
    (i32.store (i32.const 32) (local.get $n))
    (drop (call $kv_set (i32.const 16) (i32.const 1) (i32.const 32) (i32.const 4)))
    (i32.const 0))

  (func (export "fb_flush") (result i32)
    (if (i32.lt_s (call $kv_get (i32.const 16) (i32.const 1) (i32.const 32) (i32.const 4)) (i32.const 0))
      (then (return (i32.const 1))))
    (memory.fill (i32.const 1024) (i32.const 0) (i32.const 64))
    (i32.store16 (i32.const 1028) (i32.const 64))
    (i32.store16 (i32.const 1088) (i32.const 100))
    (i32.store16 (i32.const 1090) (i32.const 17))
    (memory.copy (i32.const 1092) (i32.const 48) (i32.const 17))
    (i32.store (i32.const 1109) (i32.const 0))
    (call $field64 (i32.const 1112) (i32.const 102) (i64.const 3))
    (call $field64 (i32.const 1124) (i32.const 104) (i64.extend_i32_u (i32.load (i32.const 32))))
    (i32.store (i32.const 1024) (i32.const 112))
    (if (i32.lt_s (call $emit (i32.const 1024) (i32.const 112)) (i32.const 0))
      (then (return (i32.const 1))))
    (i32.const 0))
)
