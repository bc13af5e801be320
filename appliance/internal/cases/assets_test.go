package cases

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseAssetsCSV(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []Asset
		ignored []string
	}{
		{
			name: "english headers",
			in:   "IP Address,Hostname,MAC,Owner,Function,Criticality,OS,Location,Notes\n10.0.0.5,fs01,00-1A-2B-3C-4D-5E,Wang,file server,High,Windows 2019,Room 3,finance share\n",
			want: []Asset{{IP: "10.0.0.5", Hostname: "fs01", MAC: "00:1a:2b:3c:4d:5e", Owner: "Wang", Role: "file server",
				Importance: "High", Grade: ImportanceImportant, OS: "Windows 2019", Location: "Room 3", Notes: "finance share"}},
		},
		{
			name: "chinese headers with BOM",
			in:   "\ufeffIP地址,主机名,负责人,用途,重要性,操作系统,位置,备注\r\n192.168.1.10,dc01,李娜,域控,特别重要,Windows,机房A,\r\n",
			want: []Asset{{IP: "192.168.1.10", Hostname: "dc01", Owner: "李娜", Role: "域控", Importance: "特别重要", Grade: ImportanceCritical, OS: "Windows", Location: "机房A"}},
		},
		{
			name: "semicolon separated, hostname only, blank rows, extra empty fields",
			in:   "name;role\n\nweb01;web;;\n;;\n",
			want: []Asset{{Hostname: "web01", Role: "web"}},
		},
		{
			name:    "unknown columns ignored, ipv6 and prefix canonical",
			in:      "address,rack unit,serial\n2001:DB8::1,4,X\n10.1.2.3/16,,\n::ffff:10.0.0.9,,\n",
			want:    []Asset{{IP: "2001:db8::1"}, {IP: "10.1.0.0/16"}, {IP: "10.0.0.9"}},
			ignored: []string{"rack unit", "serial"},
		},
		{
			name: "quoted fields with separators, unrecognised importance kept raw",
			in:   "ip,notes,importance\n10.0.0.1,\"has, commas\",P1\n",
			want: []Asset{{IP: "10.0.0.1", Notes: "has, commas", Importance: "P1"}},
		},
		{
			name: "tab separated",
			in:   "ip\thost_name\n10.0.0.1\ta\n",
			want: []Asset{{IP: "10.0.0.1", Hostname: "a"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseAssetsCSV(strings.NewReader(tt.in))
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.Assets)
			assert.Equal(t, tt.ignored, got.Ignored)
		})
	}
}

func TestParseAssetsCSVErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		line   int
		column string
		msg    string
		err    error
	}{
		{"empty", nil, 0, "", "empty", ErrInvalid},
		{"header only", []byte("ip,hostname\n"), 0, "", "no assets", ErrInvalid},
		{"no key column", []byte("owner,os\na,b\n"), 1, "", "no IP or hostname column", ErrInvalid},
		{"duplicate column", []byte("ip,IP地址\n1.1.1.1,1.1.1.1\n"), 1, "IP地址", "already given", ErrInvalid},
		{"bad ip", []byte("ip,hostname\n10.0.0.1,a\n10.0.0.300,b\n"), 3, "ip", "not an IP address", ErrInvalid},
		{"bad mac", []byte("hostname,mac\na,zz:zz\n"), 2, "mac", "not a 48-bit MAC", ErrInvalid},
		{"row without ip or host", []byte("ip,hostname,owner\n,,bob\n"), 2, "ip", "needs an IP address or a hostname", ErrInvalid},
		{"duplicate ip", []byte("ip\n10.0.0.1\n\n10.0.0.1\n"), 4, "", "already listed on line 2", ErrInvalid},
		{"too many fields", []byte("ip\n10.0.0.1,x\n"), 2, "", "2 fields but the header has 1", ErrInvalid},
		{"bare quote", []byte("ip,notes\n10.0.0.1,a\"b\n"), 2, "", "bare", ErrInvalid},
		{"gbk", []byte("ip,\xd6\xf7\xbb\xfa\xc3\xfb\n10.0.0.1,a\n"), 1, "", "not UTF-8", ErrInvalid},
		{"control character", []byte("hostname\nweb\x01\n"), 2, "hostname", "control", ErrInvalid},
		{"field too long", []byte("hostname\n" + strings.Repeat("h", MaxShort+1) + "\n"), 2, "hostname", "at most", ErrInvalid},
		{"file too large", append([]byte("hostname\n"), bytes.Repeat([]byte("h\n"), MaxCSVBytes)...), 0, "", "over", ErrTooLarge},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseAssetsCSV(bytes.NewReader(tt.in))
			require.ErrorIs(t, err, tt.err)
			var ce *CSVError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.line, ce.Line)
			assert.Equal(t, tt.column, ce.Column)
			assert.Contains(t, err.Error(), tt.msg)
		})
	}
}

func TestParseAssetsCSVTooManyRows(t *testing.T) {
	var b strings.Builder
	b.WriteString("hostname\n")
	for i := 0; i <= MaxAssets; i++ {
		b.WriteString("h")
		b.WriteString(strings.Repeat("x", i%7))
		b.WriteString(string(rune('a' + i%26)))
		b.WriteString(strings.Repeat("0", 1+i/26))
		b.WriteString("\n")
	}
	_, err := ParseAssetsCSV(strings.NewReader(b.String()))
	require.ErrorIs(t, err, ErrTooLarge)
	var ce *CSVError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, MaxAssets+2, ce.Line)
}

func TestImportAssetsMerge(t *testing.T) {
	k := newKase(t)
	k.must(k.c.ImportAssets(ImportAssetsRequest{Assets: []Asset{{IP: "10.0.0.1", Role: "web"}, {Hostname: "DC01"}}}))
	k.must(k.c.ImportAssets(ImportAssetsRequest{Mode: ImportMerge, Assets: []Asset{{Hostname: "dc01", Role: "domain controller"}, {IP: "10.0.0.2"}}}))
	assert.Equal(t, []Asset{{IP: "10.0.0.1", Role: "web"}, {Hostname: "dc01", Role: "domain controller"}, {IP: "10.0.0.2"}}, k.c.Assets)
	k.must(k.c.ImportAssets(ImportAssetsRequest{Assets: []Asset{{IP: "10.0.0.3"}}}))
	assert.Equal(t, []Asset{{IP: "10.0.0.3"}}, k.c.Assets, "replace is the default")

	for name, req := range map[string]ImportAssetsRequest{
		"empty":         {},
		"bad mode":      {Mode: "append", Assets: []Asset{{IP: "10.0.0.1"}}},
		"non-canonical": {Assets: []Asset{{IP: "010.0.0.1"}}},
		"upper mac":     {Assets: []Asset{{IP: "10.0.0.1", MAC: "AA:BB:CC:DD:EE:FF"}}},
		"duplicate":     {Assets: []Asset{{IP: "10.0.0.1"}, {IP: "10.0.0.1", Role: "x"}}},
		"bad grade":     {Assets: []Asset{{IP: "10.0.0.1", Grade: "vital"}}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := k.c.ImportAssets(req)
			require.ErrorIs(t, err, ErrInvalid)
		})
	}
}

func FuzzParseAssetsCSV(f *testing.F) {
	f.Add([]byte("ip,hostname\n10.0.0.1,a\n"))
	f.Add([]byte("\ufeffIP地址,主机名,重要性\n10.0.0.1,dc01,特别重要\n"))
	f.Add([]byte("name;mac\nx;00:11:22:33:44:55\n"))
	f.Add([]byte("ip,notes\n\"10.0.0.1\",\"a\"\"b\nc\"\n"))
	f.Add([]byte("ip\n::1\n1.2.3.4/8\nfe80::1%eth0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		list, err := ParseAssetsCSV(bytes.NewReader(data))
		if err != nil {
			var ce *CSVError
			if !errors.As(err, &ce) {
				t.Fatalf("error is not a *CSVError: %v", err)
			}
			if !errors.Is(err, ErrInvalid) && !errors.Is(err, ErrTooLarge) {
				t.Fatalf("error matches no sentinel: %v", err)
			}
			return
		}
		// Whatever parses must be importable as is.
		if err := (&ImportAssetsRequest{Assets: list.Assets}).Validate(); err != nil {
			t.Fatalf("parsed assets do not validate: %v", err)
		}
	})
}
