// The embedded MQTT broker (aedes) for the default setup: nothing to install. A school that runs
// Mosquitto points the hub at it instead (HANDOVER_EMBEDDED_BROKER=false).
import net from 'node:net';
import tls from 'node:tls';
import { Aedes } from 'aedes';

export interface RunningBroker {
  port: number;
  close(): Promise<void>;
}

/** With `tlsFiles` (PEM key and certificate), the broker speaks MQTT over TLS (stations pin the CA). */
export async function startBroker(host: string, port: number, tlsFiles: { key: string; cert: string } | null = null): Promise<RunningBroker> {
  const broker = await Aedes.createBroker();
  const server = tlsFiles ? tls.createServer({ key: tlsFiles.key, cert: tlsFiles.cert }, broker.handle) : net.createServer(broker.handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  const address = server.address() as net.AddressInfo;
  return {
    port: address.port,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => broker.close(() => resolve()));
        // Connected stations would keep the server open: drop them.
        for (const client of Object.values((broker as unknown as { clients: Record<string, { close(): void }> }).clients)) client.close();
      }),
  };
}
