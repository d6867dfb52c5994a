// Names come from an MIS export anyone with access to it can edit. The command line prints them to
// an administrator's terminal: an escape sequence or a bidirectional override in a name must come
// out as visible text (\u001b), never run (retitle the window, recolour, hide or reorder a line).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandLine } from '../support/cli';
import { testDatabaseTarget, USING_POSTGRES, type TestDatabaseTarget } from '../../support/test-database';

let target: TestDatabaseTarget;
const { handover, file } = commandLine(() => target);
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/;

beforeAll(async () => {
  target = await testDatabaseTarget();
  const pupils = file('pupils.csv', ['UPN,Name,Form', 'U1,"Evil\u001b]0;pwned\u0007\u001b[2JName",7A', 'U2,"Abc\u202eevil",7A'].join('\n'));
  const run = await handover('import', 'people', pupils);
  if (run.code !== 0) throw new Error(`seed import failed: ${run.stdout}${run.stderr}`);
}, 120_000);
afterAll(async () => {
  await target?.drop();
});

describe(`names on the terminal (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, () => {
  it('writes control and bidirectional characters in a name as visible text', async () => {
    for (const argv of [['leaver', 'U1'], ['leaver', 'U2'], ['export', 'subject', 'U1', '--out', 'u1.json']]) {
      const run = await handover(...argv);
      expect(run.code, run.stderr).toBe(0);
      expect(run.stdout + run.stderr, argv.join(' ')).not.toMatch(UNSAFE);
    }
    expect((await handover('leaver', 'U1')).stdout).toContain('Evil\\u001b]0;pwned');
  }, 60_000);
});
