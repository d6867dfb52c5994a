// The trust scenario's stations (run by trust.bench.ts in a process of its own, so the hub's CPU
// is measured apart): a frame generator standing in for many stations. Each station's pupils tap
// in at the times the bench gives (the registration burst), one signed DEPOSIT frame each,
// published at QoS 1 over real MQTT; the station keeps every frame until an acknowledgement
// covers it and resends the unconfirmed ones when the oldest has waited RESEND_MS (as the
// firmware's journal does). Prints one JSON line: tap->committed times, new and resent frames.
// `raw` mode publishes the same number of frames as fast as the broker takes them (its raw rate).
import mqtt from 'mqtt';
import { EVENT, FRAME } from '../protocol/wire';
import { cborDecode, seal, unseal } from '../hub/src/protocol/sealed';
import { readStdinJson } from './stdin-json';

interface Plan {
  port: number;
  site: string;
  stations: Array<{ id: string; key: string; pupils: number[] }>;
  /** Per station, the tap times (ms from the start), one per pupil. */
  tapsAt: number[][];
  mode: 'timed' | 'raw';
  resendMs: number;
}

const PER_CLIENT = 50;

function frameFor(station: Plan['stations'][number], seq: number, locker: number): Buffer {
  const frame = new Map<number, unknown>([
    [FRAME.STATION, station.id],
    [FRAME.BOOT, 1],
    [FRAME.SEQ, seq],
    [FRAME.UPTIME_MS, seq * 1000],
    [FRAME.WALL_TIME, Date.now()],
    [FRAME.TYPE, EVENT.DEPOSIT],
    [FRAME.LOCKER, locker],
    [FRAME.PERSON, station.pupils[locker]],
  ]);
  return Buffer.from(seal(station.key, frame));
}

async function main(): Promise<void> {
  const plan = await readStdinJson<Plan>();
  const url = `mqtt://127.0.0.1:${plan.port}`;
  const clients: mqtt.MqttClient[] = [];
  for (let start = 0; start < plan.stations.length; start += PER_CLIENT) {
    const client = await mqtt.connectAsync(url, { clientId: `trust-gen-${start}-${process.pid}`, clean: true, reconnectPeriod: 1000 });
    clients.push(client);
  }
  const clientOf = (s: number) => clients[Math.floor(s / PER_CLIENT)];
  const total = plan.stations.length * plan.stations[0].pupils.length;

  if (plan.mode === 'raw') {
    const started = performance.now();
    let sent = 0;
    let acked = 0;
    await new Promise<void>((resolve) => {
      const IN_FLIGHT = 1000;
      const next = () => {
        if (sent >= total) return;
        const i = sent++;
        const s = i % plan.stations.length;
        clientOf(s).publish(`handover/${plan.site}/${plan.stations[s].id}/events`, frameFor(plan.stations[s], 1_000_000 + i, Math.floor(i / plan.stations.length)), { qos: 1 }, () => {
          if (++acked >= total) resolve();
          else next();
        });
      };
      for (let i = 0; i < IN_FLIGHT; i++) next();
    });
    const seconds = (performance.now() - started) / 1000;
    console.log(JSON.stringify({ frames: total, seconds }));
    for (const client of clients) await client.endAsync();
    return;
  }

  // Timed: each station's journal of unconfirmed frames.
  const journals = plan.stations.map(() => new Map<number, { payload: Buffer; firstSent: number; lastSent: number }>());
  const seqs = plan.stations.map(() => 0);
  const latencies: number[] = [];
  let fresh = 0;
  let resent = 0;
  const index = new Map(plan.stations.map((station, s) => [station.id, s]));
  for (let c = 0; c < clients.length; c++) {
    const mine = plan.stations.slice(c * PER_CLIENT, (c + 1) * PER_CLIENT);
    clients[c].on('message', (topic, payload) => {
      const s = index.get(topic.split('/')[2])!;
      const opened = unseal(plan.stations[s].key, new Uint8Array(payload));
      if (!opened.ok) return;
      const ack = cborDecode(opened.body) as Map<number, number>;
      const upTo = ack.get(FRAME.SEQ)!;
      const now = performance.now();
      for (const [seq, entry] of journals[s]) {
        if (seq > upTo) continue;
        latencies.push(now - entry.firstSent);
        journals[s].delete(seq);
      }
    });
    await clients[c].subscribeAsync(mine.map((station) => `handover/${plan.site}/${station.id}/ack`), { qos: 1 });
  }
  const started = performance.now();
  const taps = plan.tapsAt.flatMap((times, s) => times.map((at, pupil) => ({ at, s, pupil }))).sort((a, b) => a.at - b.at);
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = setInterval(() => {
      const now = performance.now();
      const elapsed = now - started;
      while (next < taps.length && taps[next].at <= elapsed) {
        const { s, pupil } = taps[next++];
        const seq = ++seqs[s];
        const payload = frameFor(plan.stations[s], seq, pupil);
        journals[s].set(seq, { payload, firstSent: now, lastSent: now });
        fresh++;
        clientOf(s).publish(`handover/${plan.site}/${plan.stations[s].id}/events`, payload, { qos: 1 });
      }
      // A station whose oldest frame has waited resendMs sends every unconfirmed frame again.
      journals.forEach((journal, s) => {
        const oldest = journal.values().next().value;
        if (!oldest || now - oldest.lastSent < plan.resendMs) return;
        for (const [, entry] of journal) {
          entry.lastSent = now;
          resent++;
          clientOf(s).publish(`handover/${plan.site}/${plan.stations[s].id}/events`, entry.payload, { qos: 1 });
        }
      });
      if (next >= taps.length && journals.every((journal) => journal.size === 0)) {
        clearInterval(tick);
        resolve();
      }
    }, 5);
  });
  const seconds = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  const at = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor(p * latencies.length))];
  console.log(JSON.stringify({ taps: taps.length, fresh, resent, seconds, p50: at(0.5), p99: at(0.99), max: latencies[latencies.length - 1] }));
  for (const client of clients) await client.endAsync();
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
