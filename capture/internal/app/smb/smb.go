// Package smb parses SMB1 and SMB2/3 conversations over TCP (NetBIOS
// session framing) into one EVE smb record per request/response pair:
// command, status, negotiated dialect, client dialects and server GUID,
// native OS/LAN manager strings, tree connects (share or named pipe) and
// the NTLMSSP user, domain, host and version of session setups.
//
// It covers the commands an incident responder needs to see who
// authenticated where; other commands are logged with their header fields
// only. It never decrypts SMB3 encryption, must never panic, and never
// buffers more than 16 KiB of a message per direction or MaxPending open
// requests.
package smb

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/firebreak-ir/firebreak/capture/internal/eve"
)

// Limits.
const (
	MaxMessage = 1 << 24 // the NetBIOS length field's own limit
	MaxPending = 256
	// maxParsed is how much of a message is kept: headers, negotiate,
	// session setup and tree connect bodies fit; bulk data is skipped.
	maxParsed = 16 << 10
)

// Conn is the SMB state of one TCP connection.
type Conn struct {
	buf        [2][]byte
	broken     [2]bool
	skip       [2]int // bytes of an oversized message still to discard
	pending    map[uint64]*eve.SMB
	order      []uint64
	dialect    string
	negotiated []string // SMB1 dialects offered in the last negotiate
	nextID     uint64
	out        []*eve.SMB
}

// Probe reports whether b starts with a NetBIOS session message carrying
// SMB1, SMB2 or an SMB3 transform header.
func Probe(b []byte) bool {
	return len(b) >= 8 && b[0] == 0 && (b[4] == 0xff || b[4] == 0xfe || b[4] == 0xfd) && b[5] == 'S' && b[6] == 'M' && b[7] == 'B'
}

// Data feeds stream bytes; it returns completed transactions.
//
// Messages wholly inside data are parsed where they are; only a message
// split over calls is assembled in the connection's buffer.
func (c *Conn) Data(toServer bool, data []byte, gap int) []*eve.SMB {
	c.out = c.out[:0]
	d := 1
	if toServer {
		d = 0
	}
	if gap > 0 {
		c.buf[d] = c.buf[d][:0]
		c.skip[d] = 0
		c.broken[d] = true // resynchronise on the next NetBIOS header
	}
	if c.skip[d] > 0 {
		n := min(c.skip[d], len(data))
		c.skip[d] -= n
		data = data[n:]
		if len(data) == 0 {
			return nil
		}
	}
	if c.broken[d] {
		if !Probe(data) {
			return nil
		}
		c.broken[d] = false
	}
	if len(c.buf[d]) > 0 {
		data = c.complete(toServer, d, data)
	}
	if len(data) > 0 {
		rest := c.frames(toServer, d, data)
		c.buf[d] = append(reserve(c.buf[d][:0], rest), rest...)
	}
	if len(c.buf[d]) == 0 && cap(c.buf[d]) > 64<<10 {
		c.buf[d] = nil
	}
	return c.out
}

// complete goes on with the message held in the buffer, taking from data
// only the bytes it needs, and returns the rest of data. It treats the
// buffer and data as one stream, exactly as frames would their
// concatenation.
func (c *Conn) complete(toServer bool, d int, data []byte) []byte {
	buf := c.buf[d]
	if len(buf) < 4 {
		n := min(4-len(buf), len(data))
		buf = append(buf, data[:n]...)
		data = data[n:]
		if len(buf) < 4 {
			c.buf[d] = buf
			return nil
		}
		buf = reserve(buf, buf)
	}
	if buf[0] != 0 {
		c.buf[d] = buf[:0]
		if buf[0] == 0x85 { // keep-alive: only held when split
			return data
		}
		c.broken[d] = true
		return nil
	}
	l := int(buf[1])<<16 | int(buf[2])<<8 | int(buf[3])
	if l > MaxMessage {
		c.broken[d] = true
		c.buf[d] = buf[:0]
		return nil
	}
	total := len(buf) + len(data)
	switch {
	case total >= 4+l:
		n := 4 + l - len(buf)
		buf = append(buf, data[:n]...)
		c.message(toServer, buf[4:4+l])
		c.buf[d] = buf[:0]
		return data[n:]
	case l > maxParsed && total >= 4+maxParsed:
		buf = append(buf, data[:4+maxParsed-len(buf)]...)
		c.message(toServer, buf[4:4+maxParsed])
		c.skip[d] = 4 + l - total
		c.buf[d] = buf[:0]
		return nil
	}
	c.buf[d] = append(buf, data...)
	return nil
}

// reserve returns buf with room for what a message starting with head
// needs to be parsed: all of it, or its first maxParsed bytes when longer.
// Sizing the buffer once spares the copies of growing it segment by segment.
func reserve(buf, head []byte) []byte {
	need := len(head)
	if len(head) >= 4 && head[0] == 0 {
		need = 4 + min(int(head[1])<<16|int(head[2])<<8|int(head[3]), maxParsed)
	}
	if cap(buf) >= need {
		return buf
	}
	return append(make([]byte, 0, need), buf...)
}

// frames parses the messages of b and returns the incomplete tail to keep.
func (c *Conn) frames(toServer bool, d int, b []byte) []byte {
	for len(b) >= 4 {
		if b[0] != 0 { // keep-alives and other NetBIOS types
			if b[0] == 0x85 {
				b = b[4:]
				continue
			}
			c.broken[d] = true
			return nil
		}
		l := int(b[1])<<16 | int(b[2])<<8 | int(b[3]) // 24-bit for SMB2 (direct TCP)
		if l > MaxMessage {
			c.broken[d] = true
			return nil
		}
		if len(b) < 4+l {
			if l > maxParsed && len(b) >= 4+maxParsed {
				// Bulk data (READ/WRITE payloads): parse the start, which
				// holds every field we log, and discard the rest unread.
				c.message(toServer, b[4:4+maxParsed])
				c.skip[d] = 4 + l - len(b)
				return nil
			}
			break
		}
		c.message(toServer, b[4:4+l])
		b = b[4+l:]
	}
	return b
}

// Skip returns, and forgets, how many of the next bytes of a direction the
// parser would discard unread (the rest of a bulk message past what it
// parses): the caller need not keep or deliver them.
func (c *Conn) Skip(toServer bool) int64 {
	d := 1
	if toServer {
		d = 0
	}
	n := c.skip[d]
	c.skip[d] = 0
	return int64(n)
}

// Buffered returns the bytes the parser holds, for memory accounting.
func (c *Conn) Buffered() int { return cap(c.buf[0]) + cap(c.buf[1]) }

// Close returns requests that never got a response.
func (c *Conn) Close() []*eve.SMB {
	var out []*eve.SMB
	for _, k := range c.order {
		if tx, ok := c.pending[k]; ok {
			out = append(out, tx)
		}
	}
	c.pending, c.order = nil, nil
	return out
}

func (c *Conn) message(toServer bool, m []byte) {
	switch {
	case len(m) >= 64 && m[0] == 0xfe && m[1] == 'S':
		c.smb2(toServer, m)
	case len(m) >= 32 && m[0] == 0xff && m[1] == 'S':
		c.smb1(toServer, m)
	}
}

func (c *Conn) request(key uint64, tx *eve.SMB) {
	if c.pending == nil {
		c.pending = make(map[uint64]*eve.SMB)
	}
	if len(c.order) >= MaxPending {
		old := c.order[0]
		c.order = c.order[1:]
		if t, ok := c.pending[old]; ok {
			c.out = append(c.out, t)
			delete(c.pending, old)
		}
	}
	c.nextID++
	tx.ID = c.nextID
	c.pending[key] = tx
	c.order = append(c.order, key)
}

func (c *Conn) response(key uint64) *eve.SMB {
	tx, ok := c.pending[key]
	if !ok {
		c.nextID++
		return &eve.SMB{ID: c.nextID}
	}
	delete(c.pending, key)
	for i, k := range c.order {
		if k == key {
			c.order = append(c.order[:i], c.order[i+1:]...)
			break
		}
	}
	return tx
}

var smb2Commands = []string{"NEGOTIATE_PROTOCOL", "SESSION_SETUP", "SESSION_LOGOFF", "TREE_CONNECT", "TREE_DISCONNECT",
	"CREATE", "CLOSE", "FLUSH", "READ", "WRITE", "LOCK", "IOCTL", "CANCEL", "KEEPALIVE", "FIND", "CHANGE_NOTIFY",
	"GET_INFO", "SET_INFO", "OPLOCK_BREAK"}

// smb2Names and smb1Names are the logged command names, made once.
var smb2Names, smb1Names = func() (v2, v1 []string) {
	for _, n := range smb2Commands {
		v2 = append(v2, "SMB2_COMMAND_"+n)
	}
	for i := range 256 {
		n, ok := smb1Commands[byte(i)]
		if !ok {
			n = fmt.Sprintf("UNKNOWN_%02x", i)
		}
		v1 = append(v1, "SMB1_COMMAND_"+n)
	}
	return v2, v1
}()

func smb2Dialect(v uint16) string {
	switch v {
	case 0x0202:
		return "2.02"
	case 0x0210:
		return "2.10"
	case 0x0222:
		return "2.22"
	case 0x0224:
		return "2.24"
	case 0x02ff:
		return "2.??"
	case 0x0300:
		return "3.00"
	case 0x0302:
		return "3.02"
	case 0x0310:
		return "3.10"
	case 0x0311:
		return "3.11"
	}
	return fmt.Sprintf("unknown-0x%x", v)
}

func (c *Conn) smb2(toServer bool, m []byte) {
	le := binary.LittleEndian
	cmd := le.Uint16(m[12:])
	status := le.Uint32(m[8:])
	msgID := le.Uint64(m[24:])
	treeID := le.Uint32(m[36:])
	sessID := le.Uint64(m[40:])
	body := m[64:]
	key := msgID<<1 | 1
	var name string
	if int(cmd) < len(smb2Names) {
		name = smb2Names[cmd]
	} else {
		name = "SMB2_COMMAND_UNKNOWN_" + strconv.Itoa(int(cmd))
	}
	if toServer {
		tx := &eve.SMB{Command: name}
		switch cmd {
		case 0: // negotiate: dialect list
			if len(body) >= 36 {
				n := int(le.Uint16(body[2:]))
				for i := 0; i < n && 36+2*i+2 <= len(body); i++ {
					tx.ClientDialects = append(tx.ClientDialects, smb2Dialect(le.Uint16(body[36+2*i:])))
				}
			}
		case 1: // session setup
			if len(body) >= 24 {
				off, l := int(le.Uint16(body[12:])), int(le.Uint16(body[14:]))
				if blob := slice(m, off, l); blob != nil {
					tx.NTLMSSP = ntlmssp(blob)
				}
			}
		case 3: // tree connect
			if len(body) >= 8 {
				off, l := int(le.Uint16(body[4:])), int(le.Uint16(body[6:]))
				if p := slice(m, off, l); p != nil {
					tx.Share = utf16le(p)
				}
			}
		}
		c.request(key, tx)
		return
	}
	if status == 0x103 { // STATUS_PENDING: an interim response
		return
	}
	tx := c.response(key)
	tx.Command = name
	tx.Status = ntStatus(status)
	tx.StatusCode = statusCode(status)
	tx.SessionID = sessID
	tx.TreeID = treeID
	switch cmd {
	case 0:
		if len(body) >= 24 {
			c.dialect = smb2Dialect(le.Uint16(body[4:]))
			tx.ServerGUID = guid(body[8:24])
		}
	case 3:
		if len(body) >= 3 && tx.Share != "" {
			if body[2] == 2 {
				tx.NamedPipe, tx.Share = tx.Share, ""
				tx.ShareType = "PIPE"
			} else {
				tx.ShareType = "FILE"
			}
		}
	}
	tx.Dialect = c.dialect
	c.out = append(c.out, tx)
}

func slice(m []byte, off, l int) []byte {
	if off < 0 || l < 0 || off+l > len(m) {
		return nil
	}
	return m[off : off+l]
}

func guid(b []byte) string {
	const hx = "0123456789abcdef"
	var out [36]byte
	j := 0
	put := func(c byte) {
		out[j], out[j+1] = hx[c>>4], hx[c&15]
		j += 2
	}
	// The first three fields are little-endian, the rest in byte order.
	for _, i := range [16]int{3, 2, 1, 0, -1, 5, 4, -1, 7, 6, -1, 8, 9, -1, 10, 11} {
		if i < 0 {
			out[j] = '-'
			j++
			continue
		}
		put(b[i])
	}
	for _, c := range b[12:16] {
		put(c)
	}
	return string(out[:])
}

// utf16le decodes a little-endian UTF-16 string up to its first NUL, as
// utf16.Decode does (unpaired surrogates become U+FFFD).
func utf16le(b []byte) string {
	var stack [128]byte
	out := stack[:0]
	for i := 0; i+1 < len(b); i += 2 {
		v := rune(binary.LittleEndian.Uint16(b[i:]))
		if v == 0 {
			break
		}
		if utf16.IsSurrogate(v) {
			r := utf8.RuneError
			if v < 0xdc00 && i+3 < len(b) {
				if w := rune(binary.LittleEndian.Uint16(b[i+2:])); w >= 0xdc00 && w < 0xe000 {
					r = utf16.DecodeRune(v, w)
					i += 2
				}
			}
			v = r
		}
		out = utf8.AppendRune(out, v)
	}
	return string(out)
}

// ntlmssp finds an NTLMSSP AUTHENTICATE message in a security blob (raw or
// SPNEGO-wrapped) and returns its user, domain, host and version.
func ntlmssp(blob []byte) *eve.NTLMSSP {
	sig := []byte("NTLMSSP\x00")
	for i := 0; i+12 <= len(blob); i++ {
		if string(blob[i:i+8]) != string(sig) {
			continue
		}
		m := blob[i:]
		le := binary.LittleEndian
		if le.Uint32(m[8:]) != 3 || len(m) < 64 {
			return nil
		}
		flags := le.Uint32(m[60:])
		field := func(at int) string {
			l, off := int(le.Uint16(m[at:])), int(le.Uint32(m[at+4:]))
			b := slice(m, off, l)
			if b == nil {
				return ""
			}
			if flags&1 != 0 {
				return utf16le(b)
			}
			return eve.SafeString(b)
		}
		out := &eve.NTLMSSP{Domain: field(28), User: field(36), Host: field(44)}
		if flags&0x02000000 != 0 && len(m) >= 72 {
			v := m[64:72]
			out.Version = fmt.Sprintf("%d.%d build %d rev %d", v[0], v[1], le.Uint16(v[2:]), v[7])
		}
		return out
	}
	return nil
}

var ntStatusNames = map[uint32]string{
	0x00000000: "STATUS_SUCCESS", 0x00000103: "STATUS_PENDING", 0x0000010b: "STATUS_NOTIFY_CLEANUP",
	0x0000010c: "STATUS_NOTIFY_ENUM_DIR", 0x80000005: "STATUS_BUFFER_OVERFLOW", 0x80000006: "STATUS_NO_MORE_FILES",
	0xc000000d: "STATUS_INVALID_PARAMETER", 0xc0000010: "STATUS_INVALID_DEVICE_REQUEST", 0xc0000011: "STATUS_END_OF_FILE",
	0xc0000016: "STATUS_MORE_PROCESSING_REQUIRED", 0xc0000022: "STATUS_ACCESS_DENIED", 0xc0000033: "STATUS_OBJECT_NAME_INVALID",
	0xc0000034: "STATUS_OBJECT_NAME_NOT_FOUND", 0xc0000035: "STATUS_OBJECT_NAME_COLLISION", 0xc000003a: "STATUS_OBJECT_PATH_NOT_FOUND",
	0xc0000043: "STATUS_SHARING_VIOLATION", 0xc000006d: "STATUS_LOGON_FAILURE", 0xc000006e: "STATUS_ACCOUNT_RESTRICTION",
	0xc0000072: "STATUS_ACCOUNT_DISABLED", 0xc000009a: "STATUS_INSUFFICIENT_RESOURCES", 0xc00000ba: "STATUS_FILE_IS_A_DIRECTORY",
	0xc00000bb: "STATUS_NOT_SUPPORTED", 0xc00000cc: "STATUS_BAD_NETWORK_NAME", 0xc0000101: "STATUS_DIRECTORY_NOT_EMPTY",
	0xc0000103: "STATUS_NOT_A_DIRECTORY", 0xc0000128: "STATUS_FILE_CLOSED", 0xc0000203: "STATUS_USER_SESSION_DELETED",
	0xc0000225: "STATUS_NOT_FOUND", 0xc0000234: "STATUS_ACCOUNT_LOCKED_OUT", 0xc0000064: "STATUS_NO_SUCH_USER",
	0xc000006a: "STATUS_WRONG_PASSWORD", 0xc0000071: "STATUS_PASSWORD_EXPIRED",
}

// statusCodes holds the hexadecimal codes of the named statuses, the
// ones nearly every response carries.
var statusCodes = func() map[uint32]string {
	m := make(map[uint32]string, len(ntStatusNames))
	for s := range ntStatusNames {
		m[s] = fmt.Sprintf("0x%x", s)
	}
	return m
}()

func statusCode(s uint32) string {
	if c, ok := statusCodes[s]; ok {
		return c
	}
	return fmt.Sprintf("0x%x", s)
}

func ntStatus(s uint32) string {
	if n, ok := ntStatusNames[s]; ok {
		return n
	}
	return fmt.Sprintf("0x%x", s)
}

var smb1Commands = map[byte]string{
	0x00: "CREATE_DIRECTORY", 0x01: "DELETE_DIRECTORY", 0x02: "OPEN", 0x03: "CREATE", 0x04: "CLOSE", 0x06: "DELETE",
	0x07: "RENAME", 0x08: "QUERY_INFORMATION", 0x0a: "READ", 0x0b: "WRITE", 0x24: "LOCKING_ANDX", 0x25: "TRANS",
	0x2b: "ECHO", 0x2d: "OPEN_ANDX", 0x2e: "READ_ANDX", 0x2f: "WRITE_ANDX", 0x32: "TRANS2", 0x34: "FIND_CLOSE2",
	0x71: "TREE_DISCONNECT", 0x72: "NEGOTIATE_PROTOCOL", 0x73: "SESSION_SETUP_ANDX", 0x74: "LOGOFF_ANDX",
	0x75: "TREE_CONNECT_ANDX", 0xa0: "NT_TRANS", 0xa2: "NT_CREATE_ANDX", 0xa4: "NT_CANCEL",
}

// dosErrors names SMB1 DOS-class errors as Suricata does (class_code).
var dosErrors = map[uint32]string{
	0x01<<16 | 2: "DOS_BADFILE", 0x01<<16 | 3: "DOS_BADPATH", 0x01<<16 | 5: "DOS_NOACCESS", 0x01<<16 | 6: "DOS_BADFID",
	0x02<<16 | 1: "SRV_ERROR", 0x02<<16 | 2: "SRV_BADPW", 0x02<<16 | 4: "SRV_ACCESS", 0x02<<16 | 5: "SRV_INVTID",
	0x02<<16 | 6: "SRV_INVNETNAME", 0x02<<16 | 91: "SRV_BADUID",
}

func (c *Conn) smb1(toServer bool, m []byte) {
	le := binary.LittleEndian
	cmd := m[4]
	flags2 := le.Uint16(m[10:])
	tid := le.Uint16(m[24:])
	pid := le.Uint16(m[26:])
	uid := le.Uint16(m[28:])
	mid := le.Uint16(m[30:])
	key := uint64(pid)<<16 | uint64(mid)
	name := smb1Names[cmd]
	unicode := flags2&0x8000 != 0
	// Parameter words and data bytes.
	var words, bytes []byte
	if len(m) > 32 {
		wc := int(m[32])
		if 33+2*wc+2 <= len(m) {
			words = m[33 : 33+2*wc]
			bc := int(le.Uint16(m[33+2*wc:]))
			bytes = slice(m, 35+2*wc, min(bc, len(m)-35-2*wc))
		}
	}
	bytesOff := 35 + len(words) // offset of bytes in m, for unicode alignment
	if toServer {
		tx := &eve.SMB{Command: name}
		switch cmd {
		case 0x72:
			for b := bytes; len(b) > 1 && b[0] == 2; {
				end := 1
				for end < len(b) && b[end] != 0 {
					end++
				}
				tx.ClientDialects = append(tx.ClientDialects, eve.SafeString(b[1:end]))
				if end >= len(b) {
					break
				}
				b = b[end+1:]
			}
			c.negotiated = tx.ClientDialects
		case 0x73:
			switch len(words) {
			case 24: // extended security: blob, then native OS and LAN manager
				bl := int(le.Uint16(words[14:]))
				if bl <= len(bytes) {
					tx.NTLMSSP = ntlmssp(bytes[:bl])
					ss := smb1Strings(bytes[bl:], bytesOff+bl, unicode, 2)
					tx.Request = &eve.SMBNative{NativeOS: ss[0], NativeLM: ss[1]}
				}
			case 26: // passwords, account, domain, native OS, LAN manager
				pl := int(le.Uint16(words[14:])) + int(le.Uint16(words[16:]))
				if pl <= len(bytes) {
					ss := smb1Strings(bytes[pl:], bytesOff+pl, unicode, 4)
					tx.Request = &eve.SMBNative{NativeOS: ss[2], NativeLM: ss[3]}
				}
			}
		}
		c.request(key, tx)
		return
	}
	tx := c.response(key)
	tx.Command = name
	status := le.Uint32(m[5:])
	if flags2&0x4000 != 0 {
		tx.Status = ntStatus(status)
		tx.StatusCode = statusCode(status)
	} else {
		class, code := uint32(m[5]), uint32(le.Uint16(m[7:]))
		if n, ok := dosErrors[class<<16|code]; ok {
			tx.Status = n
		} else if class == 0 && code == 0 {
			tx.Status = "STATUS_SUCCESS"
		} else {
			tx.Status = fmt.Sprintf("DOS_%d_%d", class, code)
		}
		tx.StatusCode = fmt.Sprintf("0x%04x", code)
		if class == 0 && code == 0 {
			tx.StatusCode = "0x0"
		}
	}
	tx.TreeID = uint32(tid)
	tx.SessionID = uint64(uid)
	switch cmd {
	case 0x72:
		if len(words) >= 2 {
			idx := int(le.Uint16(words))
			if idx < len(c.negotiated) {
				c.dialect = c.negotiated[idx]
			}
		}
		if len(words) >= 34 && len(bytes) >= 16 && le.Uint32(words[19:])&0x80000000 != 0 { // extended security
			tx.ServerGUID = guid(bytes[:16])
		}
	case 0x73:
		bl := 0
		if len(words) >= 8 {
			bl = int(le.Uint16(words[6:]))
		}
		if bl <= len(bytes) && len(words) >= 6 {
			ss := smb1Strings(bytes[bl:], bytesOff+bl, unicode, 2)
			tx.Response = &eve.SMBNative{NativeOS: ss[0], NativeLM: ss[1]}
		}
	}
	tx.Dialect = c.dialect
	c.out = append(c.out, tx)
}

// smb1Strings reads n null-terminated strings; off is their offset in the
// SMB message, for the unicode alignment pad.
func smb1Strings(b []byte, off int, unicode bool, n int) [4]string {
	var out [4]string
	if unicode && off%2 == 1 && len(b) > 0 {
		b = b[1:]
	}
	for i := range n {
		end := 0
		if unicode {
			for end+1 < len(b) && (b[end] != 0 || b[end+1] != 0) {
				end += 2
			}
			out[i] = utf16le(b[:end])
			end += 2
		} else {
			for end < len(b) && b[end] != 0 {
				end++
			}
			out[i] = eve.SafeString(b[:end])
			end++
		}
		if end > len(b) {
			break
		}
		b = b[end:]
	}
	return out
}
