package pcapio_test

import (
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	. "github.com/firebreak-ir/firebreak/capture/internal/pcapio"
	"github.com/firebreak-ir/firebreak/capture/internal/testutil"
)

func pcapFile(order binary.ByteOrder, records ...[]byte) []byte {
	var b bytes.Buffer
	h := make([]byte, 24)
	order.PutUint32(h[0:], 0xa1b2c3d4)
	order.PutUint16(h[4:], 2)
	order.PutUint16(h[6:], 4)
	order.PutUint32(h[16:], 65535)
	order.PutUint32(h[20:], 1)
	b.Write(h)
	for i, r := range records {
		rh := make([]byte, 16)
		order.PutUint32(rh[0:], uint32(1500000000+i))
		order.PutUint32(rh[8:], uint32(len(r)))
		order.PutUint32(rh[12:], uint32(len(r)))
		b.Write(rh)
		b.Write(r)
	}
	return b.Bytes()
}

func readAll(t *testing.T, data []byte) (n int, errs []error) {
	t.Helper()
	r, err := Open(bytes.NewReader(data))
	require.NoError(t, err)
	for range 1 << 20 {
		_, _, err := r.Next()
		if errors.Is(err, io.EOF) {
			return n, errs
		}
		if err != nil {
			errs = append(errs, err)
			var pe *PacketError
			if errors.As(err, &pe) && pe.Fatal {
				return n, errs
			}
			continue
		}
		n++
	}
	t.Fatal("reader did not terminate")
	return
}

func TestFormats(t *testing.T) {
	recs := [][]byte{bytes.Repeat([]byte{1}, 60), bytes.Repeat([]byte{2}, 70)}
	le := pcapFile(binary.LittleEndian, recs...)
	be := pcapFile(binary.BigEndian, recs...)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(le)
	zw.Close()
	for _, tc := range []struct {
		name string
		data []byte
		want int
		comp bool
	}{
		{"little endian", le, 2, false},
		{"big endian", be, 2, false},
		{"gzip", gz.Bytes(), 2, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := Open(bytes.NewReader(tc.data))
			require.NoError(t, err)
			assert.Equal(t, tc.comp, r.Compressed())
			n, errs := readAll(t, tc.data)
			assert.Equal(t, tc.want, n)
			assert.Empty(t, errs)
		})
	}
}

func TestOpenErrors(t *testing.T) {
	_, err := Open(bytes.NewReader(nil))
	assert.ErrorIs(t, err, ErrEmpty)
	_, err = Open(bytes.NewReader([]byte("hello world, not a capture")))
	assert.ErrorIs(t, err, ErrUnknownFormat)
}

func TestTruncatedRecord(t *testing.T) {
	data := pcapFile(binary.LittleEndian, make([]byte, 100), make([]byte, 100), make([]byte, 100))
	data = data[:len(data)-40]
	n, errs := readAll(t, data)
	assert.Equal(t, 2, n)
	require.Len(t, errs, 1)
	var pe *PacketError
	require.ErrorAs(t, errs[0], &pe)
	assert.Equal(t, uint64(3), pe.Packet)
	assert.ErrorIs(t, pe, ErrTruncated)
}

func TestCorruptHeaderResync(t *testing.T) {
	data := pcapFile(binary.LittleEndian, make([]byte, 100), make([]byte, 100), make([]byte, 100))
	// Corrupt the caplen of record 2 (header at 24+16+100).
	binary.LittleEndian.PutUint32(data[24+16+100+8:], 0x7fffffff)
	n, errs := readAll(t, data)
	require.NotEmpty(t, errs)
	var pe *PacketError
	require.ErrorAs(t, errs[0], &pe)
	assert.Equal(t, uint64(2), pe.Packet)
	assert.ErrorIs(t, pe, ErrCorrupt)
	assert.Equal(t, 2, n, "records 1 and 3 are read")
}

// A capture joined from traces weeks apart jumps in time: the records
// after the jump agree with it, so they are read; a lone header whose
// time is off, with the next header back in the old time, is corrupt.
func TestTimeJumpBetweenJoinedTraces(t *testing.T) {
	rec := make([]byte, 100)
	at := func(data []byte, i int) []byte { return data[24+i*116:] } // record i's header
	data := pcapFile(binary.LittleEndian, rec, rec, rec, rec)
	for i := 2; i < 4; i++ {
		binary.LittleEndian.PutUint32(at(data, i), 1500000000+40*86400+uint32(i))
	}
	n, errs := readAll(t, data)
	assert.Empty(t, errs)
	assert.Equal(t, 4, n)

	data = pcapFile(binary.LittleEndian, rec, rec, rec, rec)
	binary.LittleEndian.PutUint32(at(data, 2), 1500000000+40*86400)
	n, errs = readAll(t, data)
	require.Len(t, errs, 1)
	var pe *PacketError
	require.ErrorAs(t, errs[0], &pe)
	assert.Equal(t, uint64(3), pe.Packet)
	assert.ErrorIs(t, pe, ErrCorrupt)
	assert.Equal(t, 3, n)

	data = pcapFile(binary.LittleEndian, rec, rec, rec)
	binary.LittleEndian.PutUint32(at(data, 2), 1500000000+40*86400)
	n, errs = readAll(t, data)
	assert.Empty(t, errs, "the last record has nothing after it to disagree")
	assert.Equal(t, 3, n)
}

// pcapNG builds a minimal pcapng: SHB, IDB (Ethernet), one EPB with pkt.
func pcapNG(pkt []byte) []byte {
	var b bytes.Buffer
	le := binary.LittleEndian
	block := func(typ uint32, body []byte) {
		l := uint32(12 + len(body))
		binary.Write(&b, le, typ)
		binary.Write(&b, le, l)
		b.Write(body)
		binary.Write(&b, le, l)
	}
	shb := make([]byte, 16)
	le.PutUint32(shb[0:], 0x1a2b3c4d)
	le.PutUint16(shb[4:], 1)
	le.PutUint64(shb[8:], ^uint64(0))
	block(0x0a0d0d0a, shb)
	idb := make([]byte, 8)
	le.PutUint16(idb[0:], 1)
	le.PutUint32(idb[4:], 65535)
	block(1, idb)
	epb := make([]byte, 20)
	le.PutUint32(epb[12:], uint32(len(pkt)))
	le.PutUint32(epb[16:], uint32(len(pkt)))
	block(6, append(epb, pkt...))
	return b.Bytes()
}

func TestPcapNG(t *testing.T) {
	pkt := bytes.Repeat([]byte{0xab}, 60)
	b := bytes.NewBuffer(pcapNG(pkt))
	r, err := Open(b)
	require.NoError(t, err)
	assert.Equal(t, FormatPcapNG, r.Format())
	data, info, err := r.Next()
	require.NoError(t, err)
	assert.Equal(t, pkt, data)
	assert.EqualValues(t, 1, info.LinkType)
	_, _, err = r.Next()
	assert.ErrorIs(t, err, io.EOF)
}

func FuzzReader(f *testing.F) {
	td := testutil.Dir(f)
	for _, name := range []string{"dns-udp-eve-dig", "tls-glupteba", "http-not09", "tcp-fastopen-10-syn-data-ignore"} {
		b, err := os.ReadFile(td + "/pcap/" + name + ".pcap")
		if err == nil {
			f.Add(b[:min(len(b), 4096)])
		}
	}
	f.Add(pcapFile(binary.BigEndian, []byte{1, 2, 3}))
	f.Add(pcapNG(make([]byte, 60)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Open(bytes.NewReader(data))
		if err != nil {
			return
		}
		for range len(data) + 2 {
			d, _, err := r.Next()
			if len(d) > MaxPacket {
				t.Fatalf("record of %d bytes", len(d))
			}
			if errors.Is(err, io.EOF) {
				return
			}
			var pe *PacketError
			if errors.As(err, &pe) && pe.Fatal {
				return
			}
		}
		t.Fatal("more records than input bytes: reader does not terminate")
	})
}

// TestOpenInputMapsFiles: a regular file is read in place, a pipe through
// a buffer; both give the records Open gives, and report their progress up
// to the whole input. The file is long enough for the pages behind the
// reader to be handed back to the kernel on the way.
func TestOpenInputMapsFiles(t *testing.T) {
	recs := make([][]byte, 40000)
	for i := range recs {
		recs[i] = bytes.Repeat([]byte{byte(i)}, 500+i%1000)
	}
	data := pcapFile(binary.LittleEndian, recs...)
	path := t.TempDir() + "/big.pcap"
	require.NoError(t, os.WriteFile(path, data, 0o644))

	f, err := os.Open(path)
	require.NoError(t, err)
	defer f.Close()
	pr, pw, err := os.Pipe()
	require.NoError(t, err)
	go func() { pw.Write(data); pw.Close() }()
	defer pr.Close()

	for name, in := range map[string]*os.File{"file": f, "pipe": pr} {
		t.Run(name, func(t *testing.T) {
			var reports []int64
			r, err := OpenInput(in, func(n int64) { reports = append(reports, n) })
			require.NoError(t, err)
			assert.Equal(t, name == "file", r.Mapped())
			n := 0
			for {
				rec, _, err := r.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				require.Equal(t, recs[n], rec, "record %d", n+1)
				n++
			}
			require.NoError(t, r.Close())
			assert.Equal(t, len(recs), n)
			require.Greater(t, len(reports), 10)
			assert.Equal(t, int64(len(data)), reports[len(reports)-1])
		})
	}
}
