package sdk

// ABIVersion is the version of the contract in ABI.md this package implements.
const ABIVersion = 1

// Kind is the type of a record in a batch (host to guest) or of something
// the guest emits (guest to host).
type Kind uint16

// Record kinds. The numbers are part of ABI v1.
const (
	KindPacket    Kind = 1  // a (filtered) packet; payload in FieldPayload
	KindFlowStart Kind = 2  // a flow was created
	KindFlow      Kind = 3  // a flow ended: counters, state, TCP flags
	KindDNS       Kind = 4  // a DNS query or answer
	KindHTTP      Kind = 5  // an HTTP transaction
	KindTLS       Kind = 6  // a TLS handshake
	KindSSH       Kind = 7  // an SSH banner exchange
	KindAuthLog   Kind = 8  // a line of an authentication log
	KindFile      Kind = 9  // a file of a target root (host triage)
	KindAlert     Kind = 64 // guest to host: an alert
	KindAction    Kind = 65 // guest to host: a proposed action
)

var kindNames = map[Kind]string{
	KindPacket: "packet", KindFlowStart: "flow_start", KindFlow: "flow", KindDNS: "dns",
	KindHTTP: "http", KindTLS: "tls", KindSSH: "ssh", KindAuthLog: "auth_log", KindFile: "file",
	KindAlert: "alert", KindAction: "action",
}

// String is the kind's name as a manifest's subscriptions spell it.
func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return "unknown"
}

// KindByName is the inverse of Kind.String; ok is false for an unknown name.
func KindByName(name string) (k Kind, ok bool) {
	for k, n := range kindNames {
		if n == name {
			return k, true
		}
	}
	return 0, false
}

// Field identifies a variable field of a record. A field may repeat (DNS
// answers, ATT&CK techniques). Numeric fields hold 8 bytes, little-endian.
type Field uint16

// Fields of ABI v1, grouped by the kinds that carry them.
const (
	FieldAppProto Field = 1 // str: the application protocol of the flow

	FieldPktsToServer  Field = 10 // u64
	FieldPktsToClient  Field = 11 // u64
	FieldBytesToServer Field = 12 // u64
	FieldBytesToClient Field = 13 // u64
	FieldFlowState     Field = 14 // str: new, established, closed, bypassed
	FieldFlowReason    Field = 15 // str: timeout, forced, shutdown
	FieldTCPFlags      Field = 16 // u64: TCP flags seen, both directions (FIN=0x01 … CWR=0x80)
	FieldFlowStart     Field = 17 // u64: flow start, Unix nanoseconds
	FieldTCPFlagsTC    Field = 18 // u64: TCP flags seen from the server

	FieldDNSType   Field = 20 // str: query or answer
	FieldDNSRRName Field = 21 // str: the question's name
	FieldDNSRRType Field = 22 // str: the question's type (A, TXT, NULL, ...)
	FieldDNSRCode  Field = 23 // str: NOERROR, NXDOMAIN, ...
	FieldDNSAnswer Field = 24 // str, repeated: answer rdata
	FieldDNSID     Field = 25 // u64

	FieldHTTPHost        Field = 30 // str
	FieldHTTPURL         Field = 31 // str: path and query as sent
	FieldHTTPMethod      Field = 32 // str
	FieldHTTPUserAgent   Field = 33 // str
	FieldHTTPStatus      Field = 34 // u64
	FieldHTTPContentType Field = 35 // str
	FieldHTTPProtocol    Field = 36 // str
	FieldHTTPReferer     Field = 37 // str
	FieldHTTPLength      Field = 38 // u64: response body length

	FieldTLSSNI     Field = 40 // str
	FieldTLSVersion Field = 41 // str
	FieldTLSJA3     Field = 42 // str: JA3 hash
	FieldTLSJA3S    Field = 43 // str: JA3S hash
	FieldTLSJA4     Field = 44 // str
	FieldTLSSubject Field = 45 // str
	FieldTLSIssuer  Field = 46 // str

	FieldSSHClient Field = 50 // str: client software version
	FieldSSHServer Field = 51 // str: server software version
	FieldSSHHassh  Field = 52 // str: client HASSH

	FieldLine   Field = 60 // str: an auth-log line
	FieldSource Field = 61 // str: the log a record was read from, inside the target root (auth_log; http from an access log)

	FieldPath    Field = 70 // str: a file's path inside the target root
	FieldSHA256  Field = 71 // str: hex
	FieldSize    Field = 72 // u64
	FieldMode    Field = 73 // u64: Unix st_mode (type and permission bits)
	FieldUID     Field = 74 // u64
	FieldGID     Field = 75 // u64
	FieldMTime   Field = 76 // u64: modification time, Unix nanoseconds
	FieldFinding Field = 77 // str, repeated (cleanup modules): a finding to answer, see Findings

	FieldPayload   Field = 80 // bytes: a packet's transport payload (for a frame that is not IP, what follows its Ethernet header)
	FieldEtherType Field = 81 // u64: the EtherType of a frame that is not IP (0x0806 ARP); absent for IP packets

	FieldSignature   Field = 100 // alert: str, required
	FieldCategory    Field = 101 // alert: str
	FieldSeverity    Field = 102 // alert: u64, 1 (high) to 3 (low)
	FieldTechnique   Field = 103 // alert: str, repeated: ATT&CK technique ID
	FieldSignatureID Field = 104 // alert: u64
	FieldMetadata    Field = 105 // alert: str, repeated: "key=value"

	FieldActionType Field = 110 // action: str
	FieldTarget     Field = 111 // action: str
	FieldReason     Field = 112 // action: str
	FieldDetail     Field = 113 // action: str: what exactly (the line to remove, the account name)
	FieldAnswers    Field = 114 // action: str, repeated: IDs of the findings the action answers
)

// Record header layout (little-endian). See ABI.md.
const (
	HeaderSize = 64

	offSize    = 0  // u32: whole record, header included, a multiple of 4
	offKind    = 4  // u16
	offProto   = 6  // u8: IANA protocol number
	offFlags   = 7  // u8: FlagIPv6
	offTime    = 8  // i64: Unix nanoseconds
	offFlowID  = 16 // u64
	offSrc     = 24 // [16]byte
	offDst     = 40 // [16]byte
	offSrcPort = 56 // u16
	offDstPort = 58 // u16

	// FlagIPv6 says the addresses are IPv6; otherwise IPv4 in the first 4
	// bytes of each address slot.
	FlagIPv6 = 1

	// MaxFieldLen is the longest field value; longer values are cut.
	MaxFieldLen = 0xFFFF
)

// Host function status codes (negative results). See ABI.md.
const (
	StatusOK        = 0
	StatusNotFound  = -1 // kv_get: no such key
	StatusTooSmall  = -2 // kv_get: the value does not fit; nothing written
	StatusQuota     = -3 // kv_set: the state quota would be exceeded
	StatusInvalid   = -4 // malformed record or argument
	StatusLimit     = -5 // a count limit was reached (pattern sets)
	StatusForbidden = -6 // the module lacks the capability
)
