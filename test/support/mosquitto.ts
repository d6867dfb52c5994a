// A real Mosquitto broker for tests: Debian's `mosquitto` (installed by .ci/run), started on a free
// loopback port with a generated configuration in a temporary directory. It can be killed
// (SIGKILL, no goodbye) and started again on the same port, as a broker restart in a school would.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { eventually } from './eventually';

/** Where Debian puts the binary (/usr/sbin is not on every user's PATH). */
const CANDIDATES = ['/usr/sbin/mosquitto', '/usr/bin/mosquitto', '/usr/local/sbin/mosquitto'];

export function mosquittoBinary(): string | null {
  for (const candidate of CANDIDATES) if (fs.existsSync(candidate)) return candidate;
  const found = spawnSync('sh', ['-c', 'command -v mosquitto'], { encoding: 'utf8' });
  return found.status === 0 && found.stdout.trim() ? found.stdout.trim() : null;
}

export const HAS_MOSQUITTO = mosquittoBinary() !== null;

/** Throws the message a developer needs when the binary is missing (CI installs it; see .ci/run). */
export function requireMosquitto(): string {
  const binary = mosquittoBinary();
  if (!binary) throw new Error('mosquitto is not installed: these tests run against a real Mosquitto broker. Install it (Debian: apt-get install -y mosquitto) or run .ci/run, which does.');
  return binary;
}

/** A port nobody listens on right now (the kernel's choice). */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

export interface MosquittoOptions {
  /** Keep sessions and queued messages in a file (saved every second and at shutdown). Default off. */
  persistence?: boolean;
  /**
   * A directory of configuration files to include (`handover broker mosquitto-config` writes its
   * own there, with the listener on `port`, `allow_anonymous false`, the password and ACL files);
   * without it the broker listens on its port and lets anyone in.
   */
  includeDir?: string;
  /** The port to listen on (needed with includeDir: its configuration names it); default a free one. */
  port?: number;
}

export class Mosquitto {
  readonly dir: string;
  readonly configFile: string;
  port = 0;
  /** Everything the broker wrote to its log, for failure messages. */
  log = '';
  private child: ChildProcess | null = null;
  private exited: Promise<void> = Promise.resolve();
  private options: MosquittoOptions;

  constructor(options: MosquittoOptions = {}) {
    this.options = options;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-mosquitto-'));
    this.configFile = path.join(this.dir, 'mosquitto.conf');
    this.port = options.port ?? 0;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.child !== null;
  }

  /** Starts the broker (on a new free port the first time, on the same port after that). */
  async start(): Promise<this> {
    if (this.port !== 0) return this.launch();
    // Another process may take the free port before Mosquitto binds it: try a few.
    for (let attempt = 1; ; attempt++) {
      this.port = await freePort();
      try {
        return await this.launch();
      } catch (error) {
        this.port = 0;
        if (attempt >= 3 || this.child) throw error;
      }
    }
  }

  private async launch(): Promise<this> {
    const binary = requireMosquitto();
    if (this.child) throw new Error('mosquitto is already running');
    const lines = [
      ...(this.options.includeDir ? [`include_dir ${this.options.includeDir}`] : [`listener ${this.port} 127.0.0.1`, 'allow_anonymous true']),
      // Run as whoever started the tests: as root, Mosquitto would otherwise switch to its own user.
      `user ${os.userInfo().username}`,
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      'log_type notice',
      'log_type information',
      // A reconnecting hub and stations must not be limited by the default in-flight window.
      'max_queued_messages 100000',
    ];
    if (this.options.persistence) {
      lines.push('persistence true', `persistence_location ${this.dir}/`, 'autosave_interval 1');
    } else {
      lines.push('persistence false');
    }
    fs.writeFileSync(this.configFile, lines.join('\n') + '\n');
    const child = spawn(binary, ['-c', this.configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child = child;
    const append = (chunk: Buffer) => {
      this.log += chunk.toString('utf8');
      if (this.log.length > 200_000) this.log = this.log.slice(-100_000);
    };
    child.stdout!.on('data', append);
    child.stderr!.on('data', append);
    this.exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    let gone = false;
    void this.exited.then(() => {
      gone = true;
      if (this.child === child) this.child = null;
    });
    await eventually(
      async () => {
        if (gone) throw new Error(`mosquitto exited at start: ${this.log.trim().split('\n').slice(-3).join(' | ')}`);
        return accepts(this.port);
      },
      10_000,
      `mosquitto to accept connections on port ${this.port}`,
    );
    return this;
  }

  /** SIGHUP: Mosquitto reads its password and ACL files again. */
  reload(): void {
    this.child?.kill('SIGHUP');
  }

  /** SIGKILL: the broker vanishes without closing a socket cleanly or saving anything. */
  async kill(): Promise<void> {
    await this.signal('SIGKILL');
  }

  /** A clean stop (SIGTERM). */
  async stop(): Promise<void> {
    await this.signal('SIGTERM');
  }

  private async signal(signal: NodeJS.Signals): Promise<void> {
    const child = this.child;
    if (!child) return;
    child.kill(signal);
    await this.exited;
    this.child = null;
  }

  /** Stops the broker and removes its directory. */
  async dispose(): Promise<void> {
    await this.stop();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function startMosquitto(options: MosquittoOptions = {}): Promise<Mosquitto> {
  return new Mosquitto(options).start();
}
