package sdk

// KindAnomaly is a protocol anomaly the capture engine found: Suricata's
// EVE "anomaly" event. The first the host delivers are TLS heartbeat
// anomalies (Heartbleed, CVE-2014-0160). The header's source is the side
// that sent what was wrong, not necessarily the client.
const KindAnomaly Kind = 10

// Fields of an anomaly record (besides FieldAppProto).
const (
	FieldAnomalyType  Field = 90 // str: applayer, decode, stream
	FieldAnomalyEvent Field = 91 // str: the event name, e.g. OVERFLOW_HEARTBEAT_MESSAGE
	FieldAnomalyLayer Field = 92 // str: proto_parser, ...
)

// TLS heartbeat anomalies (app_proto tls), as Suricata names them.
const (
	// AnomalyHeartbeatOverflow: a heartbeat declares more payload than
	// its record holds.
	AnomalyHeartbeatOverflow = "OVERFLOW_HEARTBEAT_MESSAGE"
	// AnomalyHeartbeatInvalid: a cleartext heartbeat of an unknown type,
	// with less padding than RFC 6520's 16 bytes, or a second one in
	// flight from the same side.
	AnomalyHeartbeatInvalid = "INVALID_HEARTBEAT_MESSAGE"
	// AnomalyHeartbeatLeak: a heartbeat answered with a larger record
	// than the request; the sender of the answer leaked memory.
	AnomalyHeartbeatLeak = "DATALEAK_HEARTBEAT_MISMATCH"
)

func init() { kindNames[KindAnomaly] = "anomaly" }

// Anomaly is the content of an anomaly record. The strings alias the
// batch, like Event.Str.
type Anomaly struct {
	AppProto string // the flow's application protocol (tls)
	Type     string // applayer, decode, stream
	Event    string // the event name
	Layer    string // proto_parser, ...
}

// Anomaly reads an anomaly record; ok is false for another kind.
func (e Event) Anomaly() (a Anomaly, ok bool) {
	if e.Kind() != KindAnomaly {
		return Anomaly{}, false
	}
	return Anomaly{AppProto: e.Str(FieldAppProto), Type: e.Str(FieldAnomalyType),
		Event: e.Str(FieldAnomalyEvent), Layer: e.Str(FieldAnomalyLayer)}, true
}
