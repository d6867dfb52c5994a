// The firmware's MQTT packet parser fuzzed inside the simulator's Espruino environment (built by the
// firmware's own rollup pipeline, run in the vm context without Map, Set, Symbol, ...): valid server
// packets from mqtt-packet in random chunks (split anywhere, several per chunk), random garbage,
// mutated streams (bit flips, truncations, splices, Remaining Length set huge). It must never throw,
// must finish each batch within a time limit, must give exactly the packets mqtt-packet wrote, and
// its buffered state must stay bounded (no growth however much garbage it is fed).
// Seeded: FUZZ_SEED=<n> reproduces a run.
import mqttPacket from 'mqtt-packet';
import { beforeAll, describe, expect, it } from 'vitest';
import { PACKET } from '../../firmware/src/net/mqtt-packets';
import { buildFuzzBundle, fuzzSeed, loadIntoEspruino, prng, type FuzzContext } from './build';

interface StreamResult {
  packets: Array<Record<string, unknown>>;
  errors: string[];
  maxBuffered: number;
  maxHeld: number;
  threw?: string;
}

let fuzz: FuzzContext;
let source = '';
let checkBundle: (source: string) => unknown[];
beforeAll(async () => {
  // @ts-expect-error tools/bundle-check.mjs is plain JavaScript without type declarations
  ({ checkBundle } = await import('../../tools/bundle-check.mjs'));
  source = await buildFuzzBundle();
  fuzz = loadIntoEspruino(source);
}, 60_000);

/** The header scratch the parser keeps besides the packet in progress (first byte + 4 length bytes). */
const HEADER_BYTES = 5;
/** What the parser keeps of an oversized PUBLISH after its fixed header (mqtt-packets.ts OVERSIZE_PREFIX_BYTES). */
const OVERSIZE_PREFIX_BYTES = 256;

const bytesOf = (value: unknown) => Array.from(value as Uint8Array);

/** A random packet a server may send, as mqtt-packet describes it, and what the firmware should report. */
function randomServerPacket(random: () => number): { packet: mqttPacket.Packet; expected: Record<string, unknown> } {
  const below = (n: number) => Math.floor(random() * n);
  const id = 1 + below(65535);
  switch (below(6)) {
    case 0: {
      const returnCode = below(6);
      const sessionPresent = below(2) === 1;
      return { packet: { cmd: 'connack', returnCode, sessionPresent } as mqttPacket.Packet, expected: { type: PACKET.CONNACK, returnCode, sessionPresent } };
    }
    case 1:
    case 2: {
      const qos = below(2) as 0 | 1;
      const topic = Array.from({ length: 1 + below(5) }, () => Array.from({ length: below(12) }, () => String.fromCharCode(97 + below(26))).join('')).join('/') || 'x';
      const payload = Buffer.from(Array.from({ length: below(4) === 0 ? below(3000) : below(80) }, () => below(256)));
      const retain = below(2) === 1;
      const dup = qos === 1 && below(2) === 1;
      return {
        packet: { cmd: 'publish', topic, payload, qos, retain, dup, ...(qos ? { messageId: id } : {}) } as mqttPacket.Packet,
        expected: { type: PACKET.PUBLISH, topic, payload: Array.from(payload), qos, retain, dup, packetId: qos ? id : 0 },
      };
    }
    case 3:
      return { packet: { cmd: below(2) ? 'puback' : 'unsuback', messageId: id } as mqttPacket.Packet, expected: {} };
    case 4: {
      const granted = Array.from({ length: 1 + below(3) }, () => [0, 1, 2, 128][below(4)]);
      return { packet: { cmd: 'suback', messageId: id, granted } as mqttPacket.Packet, expected: { type: PACKET.SUBACK, packetId: id, returnCodes: granted } };
    }
    default:
      return { packet: { cmd: 'pingresp' } as mqttPacket.Packet, expected: { type: PACKET.PINGRESP } };
  }
}

function expectedOf(entry: { packet: mqttPacket.Packet; expected: Record<string, unknown> }): Record<string, unknown> {
  const packet = entry.packet as { cmd: string; messageId?: number };
  if (packet.cmd === 'puback') return { type: PACKET.PUBACK, packetId: packet.messageId };
  if (packet.cmd === 'unsuback') return { type: PACKET.UNSUBACK, packetId: packet.messageId };
  return entry.expected;
}

/** Splits a stream at random points: single bytes, pieces of a packet, several packets at once. */
function chunk(random: () => number, stream: Uint8Array): Uint8Array[] {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < stream.length; ) {
    const size = [1, 2, 3, 7, 64, 500, 4000][Math.floor(random() * 7)];
    const take = 1 + Math.floor(random() * size);
    chunks.push(stream.subarray(at, at + take));
    at += take;
  }
  return chunks;
}

function concat(parts: Uint8Array[]): Uint8Array {
  return Uint8Array.from(Buffer.concat(parts.map((part) => Buffer.from(part))));
}

function parse(chunks: Uint8Array[], maxPacketBytes: number): StreamResult {
  return fuzz.run<StreamResult>(`FUZZ.parseStream(INPUT, ${maxPacketBytes})`, chunks.map(fuzz.bytes), 10_000);
}

/** The firmware's report of a packet in comparable form (payload bytes as an array, no droppedBytes unless set). */
function comparable(packet: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(packet)) out[key] = key === 'payload' ? bytesOf(packet[key]) : key === 'returnCodes' ? Array.from(packet[key] as number[]) : packet[key];
  return out;
}

function expectBounded(result: StreamResult, maxPacketBytes: number, where: string): void {
  expect(result.threw, where).toBeUndefined();
  expect(result.maxBuffered, where).toBeLessThanOrEqual(maxPacketBytes);
  expect(result.maxHeld, where).toBeLessThanOrEqual(maxPacketBytes + HEADER_BYTES);
}

describe('MQTT packet parser fuzzed inside the Espruino environment', () => {
  it('the fuzz bundle (firmware pipeline) passes the Espruino bundle check', () => {
    expect(checkBundle(source)).toEqual([]);
    expect(source.length).toBeGreaterThan(1000);
  });

  it('gives exactly the packets mqtt-packet wrote, however the stream is chunked', () => {
    const seed = fuzzSeed('mqtt valid streams', 0x3a77_0001);
    const random = prng(seed);
    let packets = 0;
    for (let stream = 0; stream < 60; stream++) {
      const entries = Array.from({ length: 5 + Math.floor(random() * 40) }, () => randomServerPacket(random));
      const bytes = concat(entries.map((entry) => mqttPacket.generate(entry.packet, { protocolVersion: 4 })));
      const result = parse(chunk(random, bytes), 16384);
      const where = `seed ${seed}, stream ${stream}`;
      expectBounded(result, 16384, where);
      expect(result.errors, where).toEqual([]);
      expect(result.packets.map(comparable), where).toEqual(entries.map(expectedOf));
      // mqtt-packet's own parser reads the same stream to the same number of packets.
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      let theirs = 0;
      parser.on('packet', () => theirs++);
      parser.parse(Buffer.from(bytes));
      expect(theirs, where).toBe(entries.length);
      packets += entries.length;
    }
    console.log(`mqtt valid streams: 60 streams, ${packets} packets`);
  });

  it('skips an oversized PUBLISH, keeping only its head, and reads on', () => {
    const seed = fuzzSeed('mqtt oversized', 0x3a77_0002);
    const random = prng(seed);
    for (let run = 0; run < 40; run++) {
      const big = Buffer.alloc(600 + Math.floor(random() * 200_000), run);
      const publish = mqttPacket.generate({ cmd: 'publish', topic: 'handover/demo/st-1/cmd', payload: big, qos: 1, messageId: 7, retain: false, dup: false }, { protocolVersion: 4 });
      const after = mqttPacket.generate({ cmd: 'puback', messageId: 9 }, { protocolVersion: 4 });
      const result = parse(chunk(random, concat([publish, after])), 512);
      expectBounded(result, 512, `seed ${seed}, run ${run}`);
      expect(result.maxHeld).toBeLessThanOrEqual(HEADER_BYTES + OVERSIZE_PREFIX_BYTES + HEADER_BYTES); // its fixed header, the kept head, the scratch
      expect(result.packets.map(comparable)).toEqual([
        { type: PACKET.PUBLISH, topic: 'handover/demo/st-1/cmd', payload: [], qos: 1, retain: false, dup: false, packetId: 7, droppedBytes: publish.length },
        { type: PACKET.PUBACK, packetId: 9 },
      ]);
    }
  });

  it('survives random garbage and mutated streams without throwing or growing', () => {
    const seed = fuzzSeed('mqtt garbage', 0x3a77_0003);
    const random = prng(seed);
    const below = (n: number) => Math.floor(random() * n);
    let errors = 0;
    let packets = 0;
    let bytesFed = 0;
    for (let stream = 0; stream < 400; stream++) {
      const maxPacketBytes = [64, 512, 16384][below(3)];
      let bytes: Uint8Array;
      if (stream % 4 === 0) {
        bytes = Uint8Array.from({ length: below(5000) }, () => below(256));
      } else {
        const entries = Array.from({ length: 1 + below(10) }, () => randomServerPacket(random));
        const valid: Uint8Array[] = entries.map((entry) => Uint8Array.from(mqttPacket.generate(entry.packet, { protocolVersion: 4 })));
        for (let m = 1 + below(4); m > 0; m--) {
          const i = below(valid.length);
          const packet = valid[i];
          switch (below(4)) {
            case 0: // bit flips
              for (let f = 1 + below(3); f > 0; f--) packet[below(packet.length)] ^= 1 << below(8);
              break;
            case 1: // truncation
              valid[i] = packet.subarray(0, below(packet.length));
              break;
            case 2: // splice in random bytes or a piece of another packet
              valid[i] = concat([packet.subarray(0, below(packet.length)), Uint8Array.from({ length: 1 + below(10) }, () => below(256)), packet.subarray(below(packet.length))]);
              break;
            default: // Remaining Length set huge (four bytes, or a fifth continuation byte)
              valid[i] = concat([packet.subarray(0, 1), Uint8Array.from(below(2) ? [0xff, 0xff, 0xff, 0x7f] : [0xff, 0xff, 0xff, 0xff, 0x01]), packet.subarray(2)]);
          }
        }
        bytes = concat(valid);
      }
      bytesFed += bytes.length;
      const result = parse(chunk(random, bytes), maxPacketBytes);
      expectBounded(result, maxPacketBytes, `seed ${seed}, stream ${stream}`);
      for (const error of result.errors) expect(typeof error).toBe('string');
      errors += result.errors.length;
      packets += result.packets.length;
    }
    console.log(`mqtt garbage: 400 streams, ${bytesFed} bytes, ${packets} packets read, ${errors} protocol errors (each ends a parser)`);
    expect(errors).toBeGreaterThan(100);
  });

  it('keeps nothing beyond one packet while a huge announced PUBLISH streams past', () => {
    // Remaining Length 268,435,455 (the most four bytes can say), then 2 MB of body in 1 KB chunks.
    const head = Uint8Array.from([0x30, 0xff, 0xff, 0xff, 0x7f, 0x00, 0x03, 0x61, 0x2f, 0x62]);
    const chunks = [head, ...Array.from({ length: 2048 }, (_, i) => new Uint8Array(1024).fill(i & 0xff))];
    const result = parse(chunks, 16384);
    expectBounded(result, 16384, 'huge PUBLISH');
    expect(result.maxHeld).toBeLessThanOrEqual(HEADER_BYTES + OVERSIZE_PREFIX_BYTES + HEADER_BYTES); // its fixed header, the kept head, the scratch
    expect(result.packets).toEqual([]);
    expect(result.errors).toEqual([]);
  });
});
