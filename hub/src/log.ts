// The hub's log, through pino (fastify's own logger): one record per line with a level and the
// area it comes from (`hub/ingest`, `hub/broker`, ...). Two formats: `json` (one JSON object a
// line, for journald, Docker or a log shipper) and `pretty` (pino-pretty: coloured when the output
// is a terminal). Tests pass their own sink and read plain lines: `<ISO time> <level> [<area>] <message>`.
//
// A message may carry text a client chose (a user name, a topic): every control, line-breaking or
// bidirectional character in it is written as \uXXXX, so no client can forge or hide a log line
// in any format. (The broker also quotes and cuts such text: broker/guard.ts.)
import pino, { type DestinationStream, type Logger as PinoLogger } from 'pino';
import pretty from 'pino-pretty';

export type LogSink = (line: string) => void;
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];
export const LOG_FORMATS = ['pretty', 'json'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

export interface Logger {
  debug(message: string): void;
  info(message: string): void;
  /** `error`, when given, is logged with its stack (pino's `err` field). */
  warn(message: string, error?: unknown): void;
  error(message: string, error?: unknown): void;
  child(area: string): Logger;
  /** The pino logger underneath, for fastify (web/server.ts). */
  readonly pino: PinoLogger;
}

export interface LogOptions {
  /** Least level written; `info` by default. */
  level?: LogLevel;
  /** Ignored when `sink` is given; `pretty` by default. */
  format?: LogFormat;
  /** Receives each record as one plain line instead of stdout. */
  sink?: LogSink;
}

// C0 and C1 controls (line feeds, escape sequences), the Unicode line and paragraph separators, and
// the bidirectional marks, embeddings, overrides and isolates (U+202E shows text backwards).
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The message with every unsafe character written as \uXXXX. */
export function safeMessage(message: string): string {
  return message.replace(UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

// The same for a terminal, less the line feed and tab a table or a list is made of.
const TERMINAL_UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** Text for a terminal (a command's output), with escape sequences and bidirectional controls written as \uXXXX. */
export function terminalText(text: string): string {
  return text.replace(TERMINAL_UNSAFE, (char) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/** A stream that turns pino's JSON lines into the plain lines a sink reads. */
function sinkStream(sink: LogSink): DestinationStream {
  return {
    write(chunk: string) {
      const record = JSON.parse(chunk) as { time: string; level: string; area?: string; msg?: string; err?: { stack?: string; message?: string } };
      const error = record.err ? ` (${safeMessage(record.err.stack ?? record.err.message ?? '')})` : '';
      sink(`${record.time} ${record.level} [${record.area ?? ''}] ${record.msg ?? ''}${error}`);
    },
  };
}

function destination(options: LogOptions): DestinationStream {
  if (options.sink) return sinkStream(options.sink);
  if (options.format === 'json') return pino.destination({ dest: 1, sync: true });
  return pretty({
    colorize: process.stdout.isTTY === true,
    translateTime: 'SYS:yyyy-mm-dd HH:MM:ss.l',
    ignore: 'pid,hostname,area',
    messageFormat: '[{area}] {msg}',
    sync: true,
    destination: 1,
  });
}

function wrap(root: PinoLogger, area: string): Logger {
  const logger = root.child({ area });
  const withError = (level: 'warn' | 'error') => (message: string, error?: unknown) => {
    if (error === undefined) logger[level](safeMessage(message));
    else logger[level]({ err: error instanceof Error ? error : new Error(String(error)) }, safeMessage(message));
  };
  return {
    debug: (message) => logger.debug(safeMessage(message)),
    info: (message) => logger.info(safeMessage(message)),
    warn: withError('warn'),
    error: withError('error'),
    // Children are made from the root, each with its whole area: a child of a child would repeat the key.
    child: (child) => wrap(root, `${area}/${child}`),
    pino: logger,
  };
}

/** A logger for `area`; `options` may be just a sink (tests). */
export function createLogger(area: string, options: LogSink | LogOptions = {}): Logger {
  const resolved: LogOptions = typeof options === 'function' ? { sink: options } : options;
  const root = pino({ level: resolved.level ?? 'info', timestamp: pino.stdTimeFunctions.isoTime, formatters: { level: (label) => ({ level: label }) } }, destination(resolved));
  return wrap(root, area);
}

/**
 * The level fastify logs at: its per-request lines are `info`, so under the hub's default `info`
 * it gets `warn` (errors and warnings only); at `debug` every request is logged.
 */
export function webLogLevel(level: string): string {
  return level === 'info' ? 'warn' : level;
}
