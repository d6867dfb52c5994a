// Entry of the fuzz bundle (test/fuzz/espruino-codecs.ts builds it with rollup.config.mjs's
// firmware pipeline): the firmware's CBOR codec and MQTT packet parser, handed to the test through
// a global the test defines in the simulator's Espruino context, plus batch runners so one call
// into the context (run under a time limit) covers many inputs.
import { cborDecode, cborEncode } from '../../firmware/src/codec/cbor';
import { MqttParser } from '../../firmware/src/net/mqtt-packets';

declare const FUZZ: { [name: string]: unknown };

/** Decodes each input; an exception escaping the decoder is recorded with its input's index. */
function decodeBatch(inputs: Uint8Array[]): Array<{ ok: boolean; value?: unknown; error?: string; threw?: string }> {
  const results: Array<{ ok: boolean; value?: unknown; error?: string; threw?: string }> = [];
  for (let index = 0; index < inputs.length; index++) {
    try {
      results.push(cborDecode(inputs[index]));
    } catch (error) {
      results.push({ ok: false, threw: String(error && (error as Error).message ? (error as Error).message : error) });
    }
  }
  return results;
}

/**
 * Feeds a stream to parsers in chunks; a parser that reports a protocol error is replaced by a new
 * one (a new connection). Returns the packets, the errors, and the largest buffered state seen.
 */
function parseStream(chunks: Uint8Array[], maxPacketBytes: number) {
  let parser = new MqttParser(maxPacketBytes);
  const packets: unknown[] = [];
  const errors: string[] = [];
  let maxBuffered = 0;
  let maxHeld = 0;
  let threw: string | undefined;
  for (let index = 0; index < chunks.length; index++) {
    let failure: string | undefined;
    try {
      failure = parser.push(chunks[index], (packet) => {
        packets.push(packet);
      });
    } catch (error) {
      threw = String(error && (error as Error).message ? (error as Error).message : error);
      break;
    }
    const buffered = parser.bufferedBytes();
    if (buffered > maxBuffered) maxBuffered = buffered;
    // Internal state, read as the heap holds it: the packet being filled and the header scratch.
    const internal = parser as unknown as { packet?: Uint8Array; header: Uint8Array };
    const held = (internal.packet ? internal.packet.length : 0) + internal.header.length;
    if (held > maxHeld) maxHeld = held;
    if (failure !== undefined) {
      errors.push(failure);
      parser = new MqttParser(maxPacketBytes);
    }
  }
  return { packets, errors, maxBuffered, maxHeld, threw };
}

FUZZ.cborDecode = cborDecode;
FUZZ.cborEncode = cborEncode;
FUZZ.MqttParser = MqttParser;
FUZZ.decodeBatch = decodeBatch;
FUZZ.parseStream = parseStream;
