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
	"unicode/utf16"

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
	c.buf[d] = append(c.buf[d], data...)
	b := c.buf[d]
	for len(b) >= 4 {
		if b[0] != 0 { // keep-alives and other NetBIOS types
			if b[0] == 0x85 && len(b) >= 4 {
				b = b[4:]
				continue
			}
			c.broken[d] = true
			b = nil
			break
		}
		l := int(b[1])<<16 | int(b[2])<<8 | int(b[3]) // 24-bit for SMB2 (direct TCP)
		if l > MaxMessage {
			c.broken[d] = true
			b = nil
			break
		}
		if len(b) < 4+l {
			if l > maxParsed && len(b) >= 4+maxParsed {
				// Bulk data (READ/WRITE payloads): parse the start, which
				// holds every field we log, and discard the rest unread.
				c.message(toServer, b[4:4+maxParsed])
				c.skip[d] = 4 + l - len(b)
				b = nil
			}
			break
		}
		c.message(toServer, b[4:4+l])
		b = b[4+l:]
	}
	if len(b) != len(c.buf[d]) {
		c.buf[d] = append(c.buf[d][:0], b...)
	}
	if len(c.buf[d]) == 0 && cap(c.buf[d]) > 64<<10 {
		c.buf[d] = nil
	}
	return c.out
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
	name := fmt.Sprintf("SMB2_COMMAND_UNKNOWN_%d", cmd)
	if int(cmd) < len(smb2Commands) {
		name = "SMB2_COMMAND_" + smb2Commands[cmd]
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
	tx.StatusCode = fmt.Sprintf("0x%x", status)
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
	le := binary.LittleEndian
	return fmt.Sprintf("%08x-%04x-%04x-%04x-%012x", le.Uint32(b), le.Uint16(b[4:]), le.Uint16(b[6:]),
		binary.BigEndian.Uint16(b[8:]), b[10:16])
}

func utf16le(b []byte) string {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		v := binary.LittleEndian.Uint16(b[i:])
		if v == 0 {
			break
		}
		u = append(u, v)
	}
	return string(utf16.Decode(u))
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
	name, ok := smb1Commands[cmd]
	if !ok {
		name = fmt.Sprintf("UNKNOWN_%02x", cmd)
	}
	name = "SMB1_COMMAND_" + name
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
		tx.StatusCode = fmt.Sprintf("0x%x", status)
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
func smb1Strings(b []byte, off int, unicode bool, n int) []string {
	out := make([]string, n)
	if unicode && off%2 == 1 && len(b) > 0 {
		b = b[1:]
	}
	for i := range out {
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
