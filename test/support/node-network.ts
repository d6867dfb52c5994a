// The hal's Network and Clock on Node (node:net sockets, Node timers), for running firmware code
// against real servers in tests. Bytes cross the interface as plain Uint8Arrays in both directions,
// as on the board's side of the Espruino adapter: a write of anything else throws, so a client that
// handed the socket a string or an array would fail here as it would on the board.
import net from 'node:net';
import type { Clock, Network, TcpConnection, TcpHandlers } from '../../firmware/src/hal';

export interface ConnectAttempt {
  atMs: number;
  host: string;
  port: number;
}

export interface NodeNetwork extends Network {
  /** Whether isUp() answers true (the simulated Wi-Fi link). */
  up: boolean;
  /** Sockets opened through connect() and not closed yet. */
  readonly sockets: Set<net.Socket>;
  /** Every connect() call, with the clock's time. */
  readonly attempts: ConnectAttempt[];
  /** Every chunk written through a TcpConnection, in order. */
  readonly written: Uint8Array[];
  /** Resets every open socket at once (TCP RST, no goodbye), as when the link dies. */
  killAll(): void;
}

export interface NodeClock extends Clock {
  /** Timers set and not yet fired or cleared. */
  pendingTimers(): number;
  /** Clears every timer still pending (for test teardown). */
  clearAll(): void;
}

export function createNodeClock(): NodeClock {
  const startMs = performance.now();
  const timers = new Map<number, NodeJS.Timeout>();
  let nextId = 1;
  return {
    nowMs: () => performance.now() - startMs,
    setTimeout(callback, delayMs) {
      const id = nextId++;
      timers.set(
        id,
        setTimeout(() => {
          timers.delete(id);
          callback();
        }, delayMs),
      );
      return id;
    },
    clearTimeout(id) {
      const timer = timers.get(id);
      if (timer) clearTimeout(timer);
      timers.delete(id);
    },
    setInterval(callback, periodMs) {
      const id = nextId++;
      timers.set(id, setInterval(callback, periodMs));
      return id;
    },
    clearInterval(id) {
      const timer = timers.get(id);
      if (timer) clearInterval(timer);
      timers.delete(id);
    },
    pendingTimers: () => timers.size,
    clearAll() {
      for (const timer of timers.values()) {
        clearTimeout(timer);
        clearInterval(timer);
      }
      timers.clear();
    },
  };
}

export function createNodeNetwork(clock: Clock): NodeNetwork {
  const sockets = new Set<net.Socket>();
  const attempts: ConnectAttempt[] = [];
  const written: Uint8Array[] = [];
  const network: NodeNetwork = {
    up: true,
    sockets,
    attempts,
    written,
    isUp: () => network.up,
    connect(host: string, port: number, handlers: TcpHandlers): TcpConnection {
      attempts.push({ atMs: clock.nowMs(), host, port });
      const socket = net.connect({ host, port });
      socket.setNoDelay(true);
      sockets.add(socket);
      socket.on('connect', () => handlers.onConnect());
      // A copy into a plain Uint8Array: the firmware never sees a Node Buffer.
      socket.on('data', (chunk: Buffer) => handlers.onData(new Uint8Array(chunk)));
      socket.on('error', (error) => handlers.onError(error.message));
      socket.on('close', () => {
        sockets.delete(socket);
        handlers.onClose();
      });
      return {
        write(data: Uint8Array) {
          if (!(data instanceof Uint8Array) || Buffer.isBuffer(data)) throw new TypeError('TcpConnection.write takes a Uint8Array');
          written.push(data.slice());
          if (!socket.destroyed) socket.write(Buffer.from(data));
        },
        end() {
          // Flush what was written (a DISCONNECT), then close both directions.
          if (!socket.destroyed) socket.end(() => socket.destroy());
        },
      };
    },
    killAll() {
      for (const socket of sockets) socket.resetAndDestroy();
    },
  };
  return network;
}
