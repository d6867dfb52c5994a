// The largest MQTT packet the embedded broker takes. Its parser (mqtt-packet) keeps the bytes of a
// packet until the whole of it has arrived, whatever length the fixed header announces (up to
// 256 MB), and aedes reads a CONNECT before anyone is authenticated: without a limit one socket
// from the school Wi-Fi, with no credential, could make the hub hold hundreds of megabytes.
// So each connection's bytes are read through PacketSizeLimit, which follows the fixed headers
// and closes the connection as soon as a packet announces more than it may carry, before its body
// is kept. Mosquitto gets the same bound from `max_packet_size` (mosquitto-files.ts). A client
// holding back PUBRELs is bounded too (MAX_QOS2_AWAITING_RELEASE, given to aedes in broker.ts).
import type { Duplex } from 'node:stream';

/** The first packet, CONNECT: client id, user name, password and a short will fit many times over. */
export const MAX_CONNECT_BYTES = 16 * 1024;
/**
 * Any later packet. A station's frames are at most 4 KiB (protocol/frames.ts MAX_FRAME_BYTES) and the
 * hub's largest publish is a badge-list chunk of 1 KiB or a discovery config; a larger one is still
 * delivered (the hub refuses it with its reason) up to this.
 */
export const MAX_PACKET_BYTES = 256 * 1024;
/**
 * QoS 2 publishes one connection may leave awaiting their PUBREL (aedes keeps each, payload and
 * all; its default is 1,000, about 256 MB at MAX_PACKET_BYTES). Nothing of Handover's publishes at
 * QoS 2; past this aedes closes the connection.
 */
export const MAX_QOS2_AWAITING_RELEASE = 8;

/** Follows an MQTT byte stream's fixed headers: what the next packet announces, and whether that is too much. */
export class PacketSizeLimit {
  /** Bytes of the current packet's body still to come; -1 while reading a fixed header. */
  private bodyLeft = -1;
  private headerBytes = 0;
  private length = 0;
  private multiplier = 1;
  private packets = 0;

  /** Whole fixed headers read so far: 0 while the first packet (CONNECT) is still announcing itself. */
  get headersRead(): number {
    return this.packets;
  }

  /** Feeds the bytes read; returns the announced size of the first packet over the limit, or null. */
  feed(bytes: Uint8Array): number | null {
    let index = 0;
    while (index < bytes.length) {
      if (this.bodyLeft > 0) {
        const taken = Math.min(this.bodyLeft, bytes.length - index);
        this.bodyLeft -= taken;
        index += taken;
        continue;
      }
      const byte = bytes[index++];
      if (this.headerBytes === 0) {
        // The packet type and flags.
        this.headerBytes = 1;
        this.length = 0;
        this.multiplier = 1;
        continue;
      }
      this.headerBytes++;
      this.length += (byte & 0x7f) * this.multiplier;
      this.multiplier *= 128;
      if (byte & 0x80 && this.headerBytes < 5) continue;
      // The remaining length is complete (a fifth length byte is malformed: the parser refuses it).
      const limit = this.packets === 0 ? MAX_CONNECT_BYTES : MAX_PACKET_BYTES;
      if (this.length > limit) return this.length;
      this.packets++;
      this.headerBytes = 0;
      this.bodyLeft = this.length;
    }
    return null;
  }
}

/**
 * Reads `conn` through a PacketSizeLimit: aedes takes a connection's bytes with `conn.read()`, so
 * that is where they are looked at; a packet over the limit destroys the connection and its bytes
 * never reach the parser.
 */
export function limitPacketSizes(conn: Duplex, onRefused: (announced: number, connected: boolean) => void): void {
  const limit = new PacketSizeLimit();
  const read = conn.read.bind(conn);
  let refused = false;
  conn.read = (size?: number) => {
    if (refused) return null;
    const chunk = read(size);
    if (chunk === null || typeof chunk === 'string') return chunk;
    const announced = limit.feed(chunk as Uint8Array);
    if (announced === null) return chunk;
    refused = true;
    onRefused(announced, limit.headersRead > 0);
    conn.destroy();
    return null;
  };
}
