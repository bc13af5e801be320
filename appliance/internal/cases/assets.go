package cases

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strings"
	"unicode/utf8"
)

// Asset is one entry of the customer's asset list.
type Asset struct {
	IP       string `json:"ip,omitempty"`       // address or prefix, canonical form
	Hostname string `json:"hostname,omitempty"` //
	MAC      string `json:"mac,omitempty"`      // lower-case, colon-separated
	Owner    string `json:"owner,omitempty"`
	Role     string `json:"role,omitempty"` // what it does: "web server", "域控"
	// Importance is as the customer wrote it; Grade is the grade it was
	// recognised as, if any, for use as the object importance when grading.
	Importance string     `json:"importance,omitempty"`
	Grade      Importance `json:"importance_grade,omitempty"`
	OS         string     `json:"os,omitempty"`
	Location   string     `json:"location,omitempty"`
	Notes      string     `json:"notes,omitempty"`
}

// Key identifies an asset within a case: its IP, or failing that its
// hostname (case-insensitive). Merging imports matches on it.
func (a Asset) Key() string {
	if a.IP != "" {
		return "ip:" + a.IP
	}
	return "host:" + strings.ToLower(a.Hostname)
}

// Validate checks one asset as it would be stored: IP and MAC must already
// be in canonical form (ParseAssetsCSV produces that).
func (a *Asset) Validate() error {
	if a.IP == "" && a.Hostname == "" {
		return fieldErr("ip", "an asset needs an IP address or a hostname")
	}
	for _, f := range []struct{ name, v string }{
		{"ip", a.IP}, {"hostname", a.Hostname}, {"mac", a.MAC}, {"owner", a.Owner}, {"role", a.Role},
		{"importance", a.Importance}, {"os", a.OS}, {"location", a.Location},
	} {
		if err := short(f.name, f.v, MaxShort, false); err != nil {
			return err
		}
	}
	if err := text("notes", a.Notes, MaxReason, false); err != nil {
		return err
	}
	if a.IP != "" {
		ip, err := canonicalIP(a.IP)
		if err != nil {
			return fieldErr("ip", "%v", err)
		}
		if ip != a.IP {
			return fieldErr("ip", "%q is not in canonical form %q", a.IP, ip)
		}
	}
	if a.MAC != "" {
		mac, err := canonicalMAC(a.MAC)
		if err != nil {
			return fieldErr("mac", "%v", err)
		}
		if mac != a.MAC {
			return fieldErr("mac", "%q is not in canonical form %q", a.MAC, mac)
		}
	}
	if a.Grade != "" && !a.Grade.Valid() {
		return fieldErr("importance_grade", "unknown grade %q", a.Grade)
	}
	return nil
}

func canonicalIP(s string) (string, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return "", fmt.Errorf("%q is not an IP address or prefix", s)
		}
		if p.Addr().Zone() != "" {
			return "", fmt.Errorf("%q: zoned addresses are not allowed", s)
		}
		return p.Masked().String(), nil
	}
	ip, err := netip.ParseAddr(s)
	if err != nil || ip.Zone() != "" {
		return "", fmt.Errorf("%q is not an IP address", s)
	}
	return ip.Unmap().String(), nil
}

func canonicalMAC(s string) (string, error) {
	hw, err := net.ParseMAC(s)
	if err != nil || len(hw) != 6 {
		return "", fmt.Errorf("%q is not a 48-bit MAC address", s)
	}
	return hw.String(), nil
}

// GradeOf recognises the customer's importance wording as a grade, or
// returns "" when it does not.
func GradeOf(s string) Importance {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "critical", "crucial", "very high", "highest", "特别重要", "非常重要", "核心", "关键", "极高":
		return ImportanceCritical
	case "important", "high", "重要", "高", "较重要":
		return ImportanceImportant
	case "ordinary", "normal", "medium", "low", "general", "一般", "普通", "中", "低", "不重要":
		return ImportanceOrdinary
	}
	return ""
}

// Asset-list columns, and the headers each accepts. Headers are compared
// after lower-casing and dropping spaces, '_', '-' and '.'.
var columnAliases = map[string][]string{
	"ip":         {"ip", "ipaddress", "ipaddr", "address", "addr", "ipv4", "ipv6", "ip地址", "地址", "ip地址段"},
	"hostname":   {"hostname", "host", "name", "hostnames", "computername", "devicename", "fqdn", "主机名", "主机名称", "计算机名", "设备名称", "设备名", "名称"},
	"mac":        {"mac", "macaddress", "macaddr", "mac地址", "物理地址"},
	"owner":      {"owner", "contact", "responsible", "custodian", "负责人", "责任人", "使用人", "管理员", "所有者"},
	"role":       {"role", "function", "purpose", "service", "usage", "用途", "角色", "功能", "业务", "业务系统", "服务"},
	"importance": {"importance", "criticality", "priority", "重要性", "重要程度", "重要等级", "等级"},
	"os":         {"os", "operatingsystem", "system", "platform", "操作系统", "系统"},
	"location":   {"location", "site", "room", "rack", "位置", "所在位置", "机房", "地点"},
	"notes":      {"notes", "note", "comment", "comments", "remark", "remarks", "description", "备注", "说明", "描述"},
}

var headerToColumn = func() map[string]string {
	m := map[string]string{}
	for col, as := range columnAliases {
		for _, a := range as {
			m[a] = col
		}
	}
	return m
}()

func normalizeHeader(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '_', '-', '.', '\u3000':
			return -1
		}
		return r
	}, h)
}

// AssetList is the result of parsing an asset-list file.
type AssetList struct {
	Assets  []Asset  `json:"assets"`
	Ignored []string `json:"ignored_columns"` // headers that matched no column, as written
}

// ParseAssetsCSV reads a customer's asset list: CSV (comma, semicolon or
// tab separated, detected from the header), UTF-8 with or without a BOM,
// a header row naming the columns in English or Chinese (see the aliases
// above; at least an IP or hostname column), then one asset per row. Blank
// rows are skipped. Every error is a *CSVError with the line number.
//
// It reads at most MaxCSVBytes and returns at most MaxAssets assets.
func ParseAssetsCSV(r io.Reader) (AssetList, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCSVBytes+1))
	if err != nil {
		return AssetList{}, &CSVError{Err: fmt.Errorf("read: %w", err)}
	}
	if len(data) > MaxCSVBytes {
		return AssetList{}, &CSVError{Err: fmt.Errorf("%w: the file is over %d bytes", ErrTooLarge, MaxCSVBytes)}
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(data) {
		line := 1 + bytes.Count(data[:firstInvalid(data)], []byte("\n"))
		return AssetList{}, &CSVError{Line: line, Err: fmt.Errorf("%w: not UTF-8 text (save from Excel as \"CSV UTF-8\", or convert from GBK)", ErrInvalid)}
	}

	cr := csv.NewReader(bytes.NewReader(data))
	cr.Comma = detectComma(data)
	cr.FieldsPerRecord = -1
	cr.TrimLeadingSpace = true
	cr.ReuseRecord = false

	header, err := cr.Read()
	if err == io.EOF {
		return AssetList{}, &CSVError{Err: fmt.Errorf("%w: the file is empty", ErrInvalid)}
	}
	if err != nil {
		return AssetList{}, csvReadError(err)
	}
	if len(header) > MaxCSVColumns {
		return AssetList{}, &CSVError{Line: 1, Err: fmt.Errorf("%w: %d columns, at most %d", ErrTooLarge, len(header), MaxCSVColumns)}
	}
	cols := make([]string, len(header)) // column name per field, "" = ignored
	var out AssetList
	seenCol := map[string]string{}
	for i, h := range header {
		col, ok := headerToColumn[normalizeHeader(h)]
		if !ok {
			if strings.TrimSpace(h) != "" {
				out.Ignored = append(out.Ignored, clip(strings.TrimSpace(h), MaxShort))
			}
			continue
		}
		if prevH, dup := seenCol[col]; dup {
			return AssetList{}, &CSVError{Line: 1, Column: h, Err: fmt.Errorf("%w: the %s column is already given by %q", ErrInvalid, col, prevH)}
		}
		seenCol[col] = h
		cols[i] = col
	}
	if seenCol["ip"] == "" && seenCol["hostname"] == "" {
		return AssetList{}, &CSVError{Line: 1, Err: fmt.Errorf("%w: no IP or hostname column in the header %q (accepted: ip, address, hostname, name, IP地址, 主机名, ...)", ErrInvalid, clip(strings.Join(header, string(cr.Comma)), 200))}
	}

	out.Assets = []Asset{}
	firstLine := map[string]int{}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return AssetList{}, csvReadError(err)
		}
		line, _ := cr.FieldPos(0)
		if blank(rec) {
			continue
		}
		if len(rec) > len(header) {
			for _, extra := range rec[len(header):] {
				if strings.TrimSpace(extra) != "" {
					return AssetList{}, &CSVError{Line: line, Err: fmt.Errorf("%w: %d fields but the header has %d", ErrInvalid, len(rec), len(header))}
				}
			}
		}
		if len(out.Assets) == MaxAssets {
			return AssetList{}, &CSVError{Line: line, Err: fmt.Errorf("%w: more than %d assets", ErrTooLarge, MaxAssets)}
		}
		a, err := assetFromRecord(rec, cols)
		if err != nil {
			var fe *FieldError
			if errors.As(err, &fe) {
				return AssetList{}, &CSVError{Line: line, Column: seenCol[fe.Field], Err: fmt.Errorf("%w: %s", ErrInvalid, fe.Reason)}
			}
			return AssetList{}, &CSVError{Line: line, Err: err}
		}
		if l, dup := firstLine[a.Key()]; dup {
			return AssetList{}, &CSVError{Line: line, Err: fmt.Errorf("%w: %s is already listed on line %d", ErrInvalid, a.Key()[strings.IndexByte(a.Key(), ':')+1:], l)}
		}
		firstLine[a.Key()] = line
		out.Assets = append(out.Assets, a)
	}
	if len(out.Assets) == 0 {
		return AssetList{}, &CSVError{Err: fmt.Errorf("%w: no assets after the header", ErrInvalid)}
	}
	return out, nil
}

func assetFromRecord(rec, cols []string) (Asset, error) {
	var a Asset
	for i, v := range rec {
		if i >= len(cols) || cols[i] == "" {
			continue
		}
		v = strings.TrimSpace(v)
		switch cols[i] {
		case "ip":
			if v != "" {
				ip, err := canonicalIP(v)
				if err != nil {
					return a, fieldErr("ip", "%v", err)
				}
				a.IP = ip
			}
		case "hostname":
			a.Hostname = v
		case "mac":
			if v != "" {
				mac, err := canonicalMAC(v)
				if err != nil {
					return a, fieldErr("mac", "%v", err)
				}
				a.MAC = mac
			}
		case "owner":
			a.Owner = v
		case "role":
			a.Role = v
		case "importance":
			a.Importance = v
			a.Grade = GradeOf(v)
		case "os":
			a.OS = v
		case "location":
			a.Location = v
		case "notes":
			a.Notes = v
		}
	}
	return a, a.Validate()
}

func csvReadError(err error) error {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return &CSVError{Line: pe.Line, Err: fmt.Errorf("%w: %v", ErrInvalid, pe.Err)}
	}
	return &CSVError{Err: fmt.Errorf("%w: %v", ErrInvalid, err)}
}

// clip shortens s to at most n bytes for an error message, on a rune
// boundary.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "..."
}

func blank(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// detectComma picks the separator that occurs most in the header line,
// outside quotes: Excel in many locales writes ';', and some tools tab.
func detectComma(data []byte) rune {
	line, _ := bufio.NewReader(bytes.NewReader(data)).ReadString('\n')
	counts := map[rune]int{}
	inQuote := false
	for _, r := range line {
		switch {
		case r == '"':
			inQuote = !inQuote
		case !inQuote && (r == ',' || r == ';' || r == '\t'):
			counts[r]++
		}
	}
	best := ','
	for _, r := range []rune{';', '\t'} {
		if counts[r] > counts[best] {
			best = r
		}
	}
	return best
}

func firstInvalid(b []byte) int {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && n <= 1 {
			return i
		}
		i += n
	}
	return len(b)
}

// ImportMode says how an import combines with the assets already on the
// case.
type ImportMode string

// Import modes.
const (
	ImportReplace ImportMode = "replace" // the import is the whole list
	ImportMerge   ImportMode = "merge"   // assets with the same Key are replaced, others added
)

func mergeAssets(have, add []Asset, mode ImportMode) []Asset {
	if mode != ImportMerge {
		return append([]Asset{}, add...)
	}
	out := append([]Asset{}, have...)
	pos := map[string]int{}
	for i, a := range out {
		pos[a.Key()] = i
	}
	for _, a := range add {
		if i, ok := pos[a.Key()]; ok {
			out[i] = a
			continue
		}
		pos[a.Key()] = len(out)
		out = append(out, a)
	}
	return out
}
