// Passwords for hub accounts (P15): at least 10 characters with a number and a capital letter;
// stored only as a slow, salted scrypt hash (Node's crypto.scrypt, OWASP's parameters:
// N = 2^17, r = 8, p = 1, about a quarter of a second and 128 MiB per hash on the hub).
// The parameters travel in the stored text, so they can be raised later without breaking old hashes.
import crypto from 'node:crypto';
import { promisify } from 'node:util';

const scrypt = promisify(crypto.scrypt) as (password: string | Buffer, salt: Buffer, keyLength: number, options: crypto.ScryptOptions) => Promise<Buffer>;

export const PASSWORD_MIN_LENGTH = 10;
/** Longer than any sensible passphrase; stops a megabyte "password" from tying up the hash. */
export const PASSWORD_MAX_LENGTH = 256;

export interface ScryptParameters {
  /** CPU/memory cost, a power of two. */
  cost: number;
  blockSize: number;
  parallelism: number;
}

export const SCRYPT_PARAMETERS: ScryptParameters = { cost: 2 ** 17, blockSize: 8, parallelism: 1 };
const KEY_BYTES = 64;
const SALT_BYTES = 16;

/** What is wrong with a password under P15, as sentences a person can act on; empty when it is acceptable. */
export function passwordProblems(password: string): string[] {
  const problems: string[] = [];
  if (password.length < PASSWORD_MIN_LENGTH) problems.push(`it must be at least ${PASSWORD_MIN_LENGTH} characters long (it has ${password.length})`);
  if (password.length > PASSWORD_MAX_LENGTH) problems.push(`it must be at most ${PASSWORD_MAX_LENGTH} characters long`);
  if (!/[0-9]/.test(password)) problems.push('it must contain a number');
  if (!/\p{Lu}/u.test(password)) problems.push('it must contain a capital letter');
  return problems;
}

export class PasswordPolicyError extends Error {
  constructor(readonly problems: string[]) {
    super(`password not accepted: ${problems.join('; ')} (P15)`);
    this.name = 'PasswordPolicyError';
  }
}

export function checkPasswordPolicy(password: string): void {
  const problems = passwordProblems(password);
  if (problems.length) throw new PasswordPolicyError(problems);
}

function memoryFor(parameters: ScryptParameters): number {
  // scrypt needs 128 * N * r bytes; allow headroom.
  return 128 * parameters.cost * parameters.blockSize * 2;
}

/** `scrypt$<N>$<r>$<p>$<salt base64>$<key base64>` */
export async function hashPassword(password: string, parameters: ScryptParameters = SCRYPT_PARAMETERS): Promise<string> {
  const salt = crypto.randomBytes(SALT_BYTES);
  const key = await scrypt(password.normalize('NFC'), salt, KEY_BYTES, { N: parameters.cost, r: parameters.blockSize, p: parameters.parallelism, maxmem: memoryFor(parameters) });
  return ['scrypt', parameters.cost, parameters.blockSize, parameters.parallelism, salt.toString('base64'), key.toString('base64')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [cost, blockSize, parallelism] = parts.slice(1, 4).map(Number);
  if (![cost, blockSize, parallelism].every((value) => Number.isInteger(value) && value > 0)) return false;
  if (password.length > PASSWORD_MAX_LENGTH) return false;
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  const key = await scrypt(password.normalize('NFC'), salt, expected.length, { N: cost, r: blockSize, p: parallelism, maxmem: memoryFor({ cost, blockSize, parallelism }) });
  return key.length === expected.length && crypto.timingSafeEqual(key, expected);
}

/** A hash of nothing anyone knows, verified against when the username does not exist, so an unknown name takes as long as a wrong password. */
let decoy: Promise<string> | null = null;
export function decoyHash(): Promise<string> {
  decoy ??= hashPassword(crypto.randomBytes(18).toString('base64'));
  return decoy;
}

/** A password that meets P15, for a generated demo account: 20 characters from an unambiguous alphabet, with a digit and a capital guaranteed. */
export function generatePassword(): string {
  const lower = 'abcdefghijkmnpqrstuvwxyz';
  const upper = 'ABCDEFGHJKLMNPQRSTUVWXYZ';
  const digits = '23456789';
  const all = lower + upper + digits;
  const pick = (alphabet: string) => alphabet[crypto.randomInt(alphabet.length)];
  const chars = [pick(upper), pick(digits), ...Array.from({ length: 18 }, () => pick(all))];
  for (let i = chars.length - 1; i > 0; i--) {
    const j = crypto.randomInt(i + 1);
    [chars[i], chars[j]] = [chars[j], chars[i]];
  }
  return chars.join('');
}
