// `handover account …`: the command-line side of hub accounts. The first account is made here
// (no account or password ships). The password is read from HANDOVER_PASSWORD when set (for
// scripts), otherwise from standard input: typed twice, unechoed, at a terminal; the first line
// when piped.
import readline from 'node:readline';
import { parseArgs } from 'node:util';
import { AuditTrail } from '../audit/trail';
import { openDatabase } from '../db/open';
import { People } from '../records/people';
import { Schools, TRUST } from '../records/schools';
import { loadSettings } from '../settings';
import { Accounts } from './accounts';
import { generatePassword, passwordProblems } from './password';
import { ROLE_LABELS, WEB_ROLES } from './roles';
import { operatorLabel } from '../cli/operator';

export const ACCOUNT_USAGE = `  account add <username> --role <role> [--person <ref>] [--school <id>|trust]
                                 make an office-page account (roles: ${WEB_ROLES.join(', ')});
                                 the password comes from HANDOVER_PASSWORD or standard input;
                                 --school: whose records it sees (needed with several schools;
                                 trust: every school)
  account school <username> <school id>|trust
                                 move an account to a school, or to the whole trust
  account link <username> --person <ref>
                                 link an account to its member of staff (MIS id or staff code),
                                 so the records name that person for what the account does
  account password <username>    set a new password (same sources)
  account disable|enable <username>
  account list                   every account, its role and last sign-in`;

export class AccountUsageError extends Error {}

/** Lines typed at the terminal, not echoed; one reader for the whole conversation. */
function hiddenLines(): { ask(question: string): Promise<string>; close(): void } {
  const output = process.stderr;
  const rl = readline.createInterface({ input: process.stdin, output, terminal: true });
  // Echo nothing the user types.
  (rl as unknown as { _writeToOutput: (text: string) => void })._writeToOutput = () => {};
  const lines = rl[Symbol.asyncIterator]();
  return {
    async ask(question) {
      output.write(question);
      const next = await lines.next();
      output.write('\n');
      if (next.done) throw new Error('no password given (standard input ended)');
      return next.value;
    },
    close: () => rl.close(),
  };
}

async function readFirstLine(): Promise<string> {
  const rl = readline.createInterface({ input: process.stdin, terminal: false });
  for await (const line of rl) {
    rl.close();
    return line;
  }
  return '';
}

/** The new password: HANDOVER_PASSWORD, or asked for twice at a terminal, or the first line of piped input. */
export async function readNewPassword(env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (env.HANDOVER_PASSWORD !== undefined) return env.HANDOVER_PASSWORD;
  if (!process.stdin.isTTY) return readFirstLine();
  const terminal = hiddenLines();
  try {
    for (;;) {
      const first = await terminal.ask('New password (at least 10 characters, with a number and a capital letter): ');
      const problems = passwordProblems(first);
      if (problems.length) {
        process.stderr.write(`Not accepted: ${problems.join('; ')}.\n`);
        continue;
      }
      const again = await terminal.ask('The same password again: ');
      if (again === first) return first;
      process.stderr.write('The two did not match; try again.\n');
    }
  } finally {
    terminal.close();
  }
}

async function withAccounts<T>(work: (accounts: Accounts, people: People, schools: Schools) => Promise<T>): Promise<T> {
  const settings = loadSettings();
  const { db } = await openDatabase(settings);
  try {
    const audit = new AuditTrail(db);
    const accounts = new Accounts(db, audit);
    await accounts.prepare();
    return await work(accounts, new People(db), new Schools(db, audit, settings.site));
  } finally {
    await db.close();
  }
}

export async function accountCommand(args: string[]): Promise<void> {
  const [sub, ...rest] = args;
  const { values, positionals } = parseArgs({ args: rest, options: { role: { type: 'string' }, person: { type: 'string' }, school: { type: 'string' } }, allowPositionals: true });
  const username = positionals[0];
  if (sub === 'list') {
    await withAccounts(async (accounts, _people, schools) => {
      const rows = await accounts.list();
      const trust = await schools.isTrust();
      if (rows.length === 0) console.log('no accounts yet: make the first with  handover account add <username> --role headteacher');
      for (const row of rows) {
        console.log(`${row.username}\t${ROLE_LABELS[row.role as keyof typeof ROLE_LABELS] ?? row.role}\t${trust ? `${await schoolLabel(schools, Number(row.id))}\t` : ''}${row.disabled_at ? `disabled ${row.disabled_at}` : row.last_sign_in_at ? `last signed in ${row.last_sign_in_at}` : 'never signed in'}`);
      }
    });
    return;
  }
  if (!username) throw new AccountUsageError(`account ${sub ?? ''} needs a username, e.g. handover account add jsmith --role office`);
  if (sub === 'add') {
    if (!values.role) throw new AccountUsageError(`account add needs --role, one of ${WEB_ROLES.join(', ')}`);
    await withAccounts(async (accounts, people, schools) => {
      // Check what can be checked before asking for a password.
      if (await accounts.byUsername(username)) throw new Error(`there is already an account ${username.toLowerCase()}`);
      const school = values.school === 'trust' ? TRUST : await schools.resolve(values.school);
      if (!(WEB_ROLES as readonly string[]).includes(values.role!)) throw new AccountUsageError(`role ${JSON.stringify(values.role)}: choose one of ${WEB_ROLES.join(', ')}`);
      const personId = values.person ? Number((await people.resolve(values.person)).id) : null;
      const password = await readNewPassword();
      const account = await accounts.add({ username, role: values.role!, password, personId }, operatorLabel());
      if (values.school || school !== schools.home) await schools.setAccount(account.id, school, operatorLabel(), `account:${account.username}`);
      const of = (await schools.isTrust()) ? `, ${school === TRUST ? 'the whole trust' : `school ${school}`}` : '';
      console.log(`account ${account.username} made (${ROLE_LABELS[account.role]}${of}); sign in on the office page`);
    });
    return;
  }
  if (sub === 'link') {
    if (!values.person) throw new AccountUsageError('account link needs --person, the member of staff’s MIS id or staff code');
    await withAccounts(async (accounts, people) => {
      const person = await people.resolve(values.person!);
      await accounts.link(username, Number(person.id), operatorLabel());
      console.log(`account ${username.toLowerCase()} linked to ${person.name} (${person.external_id})`);
    });
    return;
  }
  if (sub === 'school') {
    const named = positionals[1];
    if (!named) throw new AccountUsageError('account school needs a school id, or trust: handover account school jsmith north-primary');
    await withAccounts(async (accounts, _people, schools) => {
      const row = await accounts.byUsername(username);
      if (!row) throw new Error(`no account ${username}`);
      const school = named === 'trust' ? TRUST : await schools.resolve(named);
      await schools.setAccount(Number(row.id), school, operatorLabel(), `account:${row.username}`);
      console.log(`account ${row.username} now sees ${school === TRUST ? 'every school of the trust' : `school ${school}`}`);
    });
    return;
  }
  if (sub === 'password') {
    await withAccounts(async (accounts) => {
      if (!(await accounts.byUsername(username))) throw new Error(`no account ${username}`);
      await accounts.setPassword(username, await readNewPassword(), operatorLabel());
      console.log(`password of ${username.toLowerCase()} changed; its sessions have ended`);
    });
    return;
  }
  if (sub === 'disable' || sub === 'enable') {
    await withAccounts(async (accounts) => {
      await accounts.setDisabled(username, sub === 'disable', operatorLabel());
      console.log(`account ${username.toLowerCase()} ${sub}d`);
    });
    return;
  }
  throw new AccountUsageError(`unknown account command ${JSON.stringify(sub ?? '')}; try add, link, school, password, disable, enable or list`);
}

export const DEMO_USERNAME = 'demo';
const DEMO_CREATOR = 'handover start';

/**
 * What `handover start` and `serve` print about signing in. With the demo (`start`), the demo
 * account gets a newly generated password at every start (never a fixed one); without it, the
 * hub says how to make the first account if there is none.
 */
export async function startupAccountNote(accounts: Accounts, demo: boolean): Promise<string> {
  if (demo) {
    const password = generatePassword();
    const existing = await accounts.byUsername(DEMO_USERNAME);
    if (!existing) await accounts.add({ username: DEMO_USERNAME, role: 'headteacher', password }, DEMO_CREATOR);
    else if (existing.created_by === DEMO_CREATOR) await accounts.setPassword(DEMO_USERNAME, password, DEMO_CREATOR);
    else return `Sign in with your own account (an account named "${DEMO_USERNAME}" exists that handover start did not make).`;
    return `Demo sign-in: username ${DEMO_USERNAME}, password ${password}  (generated for this run; role: headteacher)`;
  }
  if ((await accounts.count()) === 0) {
    return 'No accounts yet. Make the first one:  npx handover account add <username> --role headteacher';
  }
  return '';
}

async function schoolLabel(schools: Schools, accountId: number): Promise<string> {
  const school = await schools.ofAccount(accountId);
  return school === TRUST ? 'trust' : school;
}
