// The embedded MQTT broker (aedes) for the default setup: nothing to install. A school that runs
// Mosquitto points the hub at it instead (HANDOVER_EMBEDDED_BROKER=false). The hub always starts it
// with `access` (broker/guard.ts): every client authenticates and is held to its topics. Without
// it the broker is open to anyone: only the station and benchmark rigs that have no hub use that.
import net from 'node:net';
import tls from 'node:tls';
import { Aedes } from 'aedes';
import { BrokerGuard, type BrokerAccessOptions } from './broker/guard';
import { limitPacketSizes, MAX_QOS2_AWAITING_RELEASE } from './broker/packet-limit';

export interface RunningBroker {
  port: number;
  /** The TLS listener's port when `tlsListener` was given, else null. */
  tlsPort: number | null;
  /** The checks in force (null: an open broker, test rigs only). */
  guard: BrokerGuard | null;
  close(): Promise<void>;
}

/** With `tlsFiles` (PEM key and certificate), the broker speaks MQTT over TLS (stations pin the CA). */
export async function startBroker(
  host: string,
  port: number,
  tlsFiles: { key: string; cert: string } | null = null,
  access: BrokerAccessOptions | null = null,
  /** A second listener, over TLS, beside the plain one (stations that can afford TLS use it). */
  tlsListener: { port: number; key: string; cert: string } | null = null,
): Promise<RunningBroker> {
  const broker = await Aedes.createBroker({ maxInflightInbound: MAX_QOS2_AWAITING_RELEASE });
  const guard = access ? new BrokerGuard(access) : null;
  guard?.attach(broker);
  const listen = async (server: net.Server, onPort: number) => {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(onPort, host, () => resolve());
    });
    return (server.address() as net.AddressInfo).port;
  };
  // Every connection's packets are bounded in size (broker/packet-limit.ts), authenticated or not.
  const handle = (conn: net.Socket) => {
    limitPacketSizes(conn, (announced, connected) => guard?.oversized(conn, announced, connected));
    return broker.handle(conn);
  };
  // No Nagle: a command and its reply are small packets, each waited for (about 40 ms a round trip with it).
  const server = tlsFiles ? tls.createServer({ key: tlsFiles.key, cert: tlsFiles.cert, noDelay: true }, handle) : net.createServer({ noDelay: true }, handle);
  const secure = tlsListener ? tls.createServer({ key: tlsListener.key, cert: tlsListener.cert, noDelay: true }, handle) : null;
  const boundPort = await listen(server, port);
  const tlsPort = secure ? await listen(secure, tlsListener!.port) : null;
  return {
    port: boundPort,
    tlsPort,
    guard,
    close: () =>
      new Promise<void>((resolve) => {
        guard?.stop();
        secure?.close();
        server.close(() => broker.close(() => resolve()));
        // Connected stations would keep the server open: drop them.
        for (const client of Object.values((broker as unknown as { clients: Record<string, { close(): void }> }).clients)) client.close();
      }),
  };
}
