// Package pcapio reads packet capture files: classic pcap (micro- and
// nanosecond, either byte order), pcapng (through gopacket's pcapgo reader),
// and either of them gzip-compressed. The format is detected from the magic
// bytes, never from a file name, so stdin works the same way as a file.
//
// The files it reads come from breached networks and are hostile input. The
// reader must never allocate more than MaxPacket bytes for one record whatever
// a header claims, never panic, and never loop without consuming input. A
// damaged record is reported as a *PacketError carrying the 1-based record
// number; classic pcap then resynchronises on the next plausible record
// header, pcapng stops.
package pcapio
