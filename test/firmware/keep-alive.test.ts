// MQTT keep-alive through the built bundle in the simulator, against a scripted broker: a small TCP
// server that answers CONNECT, SUBSCRIBE and the station's QoS 1 publishes, and keeps sending
// publishes of its own, but (in the broken case) never answers a PINGREQ. [MQTT-3.1.2-23]: the
// station must leave such a connection within 1.5 keep-alive periods and connect again.
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { ROLE } from '../../protocol/wire';
import { StationRig } from '../support/station-rig';
import { eventually } from '../support/eventually';

const KEEP_ALIVE_SEC = 1;

interface Connection {
  socket: net.Socket;
  connackAtMs: number;
  closedAtMs: number;
  pings: number;
}

/** The scripted broker: every connection gets CONNACK, SUBACKs, PUBACKs and a QoS 1 PUBLISH every 100 ms. */
async function scriptedBroker(answerPings: boolean) {
  const connections: Connection[] = [];
  const server = net.createServer((socket) => {
    const connection: Connection = { socket, connackAtMs: 0, closedAtMs: 0, pings: 0 };
    connections.push(connection);
    socket.on('error', () => {});
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let ackTopic = '';
    let nextId = 1;
    const ticker = setInterval(() => {
      if (!ackTopic || socket.destroyed) return;
      socket.write(mqttPacket.generate({ cmd: 'publish', topic: ackTopic, payload: Buffer.from('not a signed ack'), qos: 1, messageId: nextId++, dup: false, retain: false }));
    }, 100);
    socket.on('close', () => {
      clearInterval(ticker);
      connection.closedAtMs = Date.now();
    });
    parser.on('packet', (packet) => {
      if (packet.cmd === 'connect') {
        socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
        connection.connackAtMs = Date.now();
      } else if (packet.cmd === 'subscribe') {
        socket.write(mqttPacket.generate({ cmd: 'suback', messageId: packet.messageId, granted: packet.subscriptions.map((s) => s.qos) }));
        const ack = packet.subscriptions.find((s) => s.topic.endsWith('/ack'));
        if (ack) ackTopic = ack.topic;
      } else if (packet.cmd === 'publish' && packet.qos === 1) {
        socket.write(mqttPacket.generate({ cmd: 'puback', messageId: packet.messageId! }));
      } else if (packet.cmd === 'pingreq') {
        connection.pings++;
        if (answerPings) socket.write(mqttPacket.generate({ cmd: 'pingresp' }));
      }
    });
    socket.on('data', (data) => parser.parse(data));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    port: (server.address() as net.AddressInfo).port,
    connections,
    close: () =>
      new Promise<void>((resolve) => {
        for (const connection of connections) connection.socket.destroy();
        server.close(() => resolve());
      }),
  };
}

let rig: StationRig | undefined;
let broker: Awaited<ReturnType<typeof scriptedBroker>> | undefined;

afterEach(async () => {
  await rig?.stop();
  await broker?.close();
  rig = undefined;
  broker = undefined;
});

async function stationOn(port: number): Promise<StationRig> {
  const station = new StationRig({
    people: [{ uid: '04a1b2c3', person: 101, role: ROLE.PUPIL }],
    waitForBoot: false,
    // The station talks to the scripted broker, not the rig's own.
    beforeBoot: (simulated) => simulated.writeConfig({ ...station.config(), keepAliveSec: KEEP_ALIVE_SEC, broker: { host: '127.0.0.1', port } }),
  });
  return station.start();
}

describe('MQTT keep-alive through the bundle', () => {
  it('leaves a broker that forwards publishes but never answers PINGREQ within 1.5 keep-alive periods, and connects again', async () => {
    broker = await scriptedBroker(false);
    rig = await stationOn(broker.port);
    const connections = broker.connections;
    await eventually(() => connections.length >= 2 && connections[1].connackAtMs > 0, 8000, 'a second connection');
    const first = connections[0];
    expect(first.pings).toBeGreaterThanOrEqual(1);
    expect(first.closedAtMs).toBeGreaterThan(0);
    // Closed by the station 1.5 periods after the CONNACK (the last answer it had), with some slack
    // for a loaded machine; and not before (it had a period to ping and half a period to wait).
    const lastedMs = first.closedAtMs - first.connackAtMs;
    expect(lastedMs).toBeGreaterThanOrEqual(KEEP_ALIVE_SEC * 1000);
    expect(lastedMs).toBeLessThan(KEEP_ALIVE_SEC * 1500 + 700);
    expect(rig.station.logLines.some((line) => /mqtt: no PINGRESP for \d+ ms \(keep-alive 1 s\)/.test(line))).toBe(true);
    expect(rig.station.env.errors).toEqual([]);
  });

  it('stays on one connection while the broker answers its pings', async () => {
    broker = await scriptedBroker(true);
    rig = await stationOn(broker.port);
    await eventually(() => broker!.connections[0]?.pings >= 4, 8000, 'four answered pings');
    expect(broker.connections.length).toBe(1);
    expect(broker.connections[0].closedAtMs).toBe(0);
    expect(rig.station.logLines.filter((line) => /PINGRESP/.test(line))).toEqual([]);
  });
});
