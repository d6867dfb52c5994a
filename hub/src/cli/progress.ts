// Progress of a long command on stderr: one line rewritten in place on a terminal, and plain
// lines (at most one every few seconds, and one per stage) when stderr is a file or a pipe, so a
// nightly job's log shows how far it got.
export interface Progress {
  /** `done` of `total` (0 when the total is not known) in the named stage; `beside`: another count shown after it. */
  update(stage: string, done: number, total: number, beside?: string): void;
  /** Clears the line on a terminal. */
  end(): void;
}

const PLAIN_EVERY_MS = 5000;

export function progressOn(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = Boolean(stream.isTTY);
  let stage = '';
  let lastPlain = 0;
  let lastDraw = 0;
  const count = (name: string, done: number, total: number) =>
    total > 0 ? `${name}: ${done.toLocaleString('en-GB')} of ${total.toLocaleString('en-GB')} (${Math.floor((100 * done) / total)} %)` : `${name}: ${done.toLocaleString('en-GB')}`;
  const text = (name: string, done: number, total: number, beside?: string) => (beside ? `${count(name, done, total)}; ${beside}` : count(name, done, total));
  return {
    update(name, done, total, beside) {
      const now = Date.now();
      if (tty) {
        if (name === stage && now - lastDraw < 100 && done < total) return;
        lastDraw = now;
        stage = name;
        stream.write(`\r\x1b[K${text(name, done, total, beside)}`);
        return;
      }
      if (name === stage && now - lastPlain < PLAIN_EVERY_MS) return;
      stage = name;
      lastPlain = now;
      stream.write(`${text(name, done, total, beside)}\n`);
    },
    end() {
      if (tty) stream.write('\r\x1b[K');
    },
  };
}
