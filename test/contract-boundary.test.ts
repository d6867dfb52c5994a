// The contract between the halves (README "Architecture"): firmware, hub and simulator meet only in
// protocol/. The hub never imports the firmware's files nor the firmware the hub's; the simulator
// runs the built bundle and imports neither; protocol/ imports only itself (it is compiled into
// the firmware's bundle too, so no Node modules). The hub's demo mode may run the simulator.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** Each part, the other parts its files may import from, and which packages (true: any). */
const PARTS: Record<string, { may: string[]; packages: boolean | string[] }> = {
  // Only the modules built into Espruino on the ESP32 (ESPRUINO.md); rollup bundles the rest.
  firmware: { may: ['protocol'], packages: ['Storage', 'net', 'Wifi', 'crypto', 'tls', 'ESP32'] },
  hub: { may: ['protocol', 'hardware/sim'], packages: true },
  'hardware/sim': { may: [], packages: true },
  protocol: { may: [], packages: false },
};

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...sourceFiles(full));
    else if (/\.(ts|mts|mjs|js)$/.test(entry.name)) out.push(full);
  }
  return out;
}

/** Every module a source text imports or re-exports (static, dynamic and require). */
export function importsOf(text: string): string[] {
  const found: string[] = [];
  const patterns = [/\b(?:import|export)\s[^'";]*?\bfrom\s*['"]([^'"]+)['"]/g, /\bimport\s*['"]([^'"]+)['"]/g, /\bimport\s*\(\s*['"]([^'"]+)['"]\s*\)/g, /\brequire\s*\(\s*['"]([^'"]+)['"]\s*\)/g];
  for (const pattern of patterns) for (const match of text.matchAll(pattern)) found.push(match[1]);
  return found;
}

/** The part a repository path belongs to ('' for none of them). */
function partOf(file: string): string {
  const relative = path.relative(ROOT, file).split(path.sep).join('/');
  return Object.keys(PARTS).find((part) => relative === part || relative.startsWith(`${part}/`)) ?? '';
}

/** What `file` (of `part`) may not import, with the reason; [] when it keeps to the contract. */
export function crossings(file: string, text: string): string[] {
  const part = partOf(file);
  const rule = PARTS[part];
  const wrong: string[] = [];
  for (const specifier of importsOf(text)) {
    if (specifier.startsWith('.')) {
      const target = partOf(path.resolve(path.dirname(file), specifier));
      if (target !== part && !rule.may.includes(target)) wrong.push(`${specifier} (${target || path.relative(ROOT, path.resolve(path.dirname(file), specifier))})`);
    } else if (rule.packages !== true && !(rule.packages || []).includes(specifier)) {
      wrong.push(`${specifier} (a package)`);
    }
  }
  return wrong;
}

describe('the contract is the only thing firmware, hub and simulator share', () => {
  for (const part of Object.keys(PARTS)) {
    it(`${part}/ imports only ${[part, ...PARTS[part].may].join(', ')}${PARTS[part].packages ? ' and packages' : ''}`, () => {
      const files = sourceFiles(path.join(ROOT, part)).filter((file) => partOf(file) === part);
      expect(files.length).toBeGreaterThan(0);
      const problems = files.flatMap((file) => crossings(file, fs.readFileSync(file, 'utf8')).map((what) => `${path.relative(ROOT, file)} imports ${what}`));
      expect(problems).toEqual([]);
    });
  }

  it('catches a hub file importing the firmware, a firmware file importing the hub, and protocol/ importing Node', () => {
    expect(crossings(path.join(ROOT, 'hub/src/records/people.ts'), "import { BADGE_FLAG } from '../../../firmware/src/station/badge-list';")).toHaveLength(1);
    expect(crossings(path.join(ROOT, 'hub/src/x.ts'), "const m = await import('../../firmware/src/main.ts');")).toHaveLength(1);
    expect(crossings(path.join(ROOT, 'firmware/src/net/uplink.ts'), "export { seal } from '../../../hub/src/protocol/sealed';")).toHaveLength(1);
    expect(crossings(path.join(ROOT, 'protocol/wire.ts'), "import crypto from 'node:crypto';")).toHaveLength(1);
    expect(crossings(path.join(ROOT, 'hub/src/x.ts'), "import { EVENT } from '../../protocol/wire';\nimport type { Logger } from './log';")).toEqual([]);
  });
});
