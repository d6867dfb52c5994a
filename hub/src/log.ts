// One-line log records: time, area, message. Tests pass their own sink to read them.
export type LogSink = (line: string) => void;

export interface Logger {
  info(message: string): void;
  warn(message: string): void;
  child(area: string): Logger;
}

export function createLogger(area: string, sink: LogSink = (line) => console.log(line)): Logger {
  const write = (level: string, message: string) => sink(`${new Date().toISOString()} ${level} [${area}] ${message}`);
  return {
    info: (message) => write('info', message),
    warn: (message) => write('warn', message),
    child: (child) => createLogger(`${area}/${child}`, sink),
  };
}
