// The school rules are the project's own: the page, the docs file and the README read from the
// repository, never from outside it, and every rule a page cites by code has a name to link to.
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rulesMarkdown, ruleAnchor, SCHOOL_RULES } from '../../hub/src/rules/school-rules';
import { citeRules } from '../../hub/src/web/layout';
import { html } from '../../hub/src/web/html';

const ROOT = path.resolve(__dirname, '../..');

describe('the school rules', () => {
  it('are P1 to P17, each with a short name and a unique anchor', () => {
    expect(SCHOOL_RULES.map((rule) => rule.code)).toEqual(Array.from({ length: 17 }, (_, index) => `P${index + 1}`));
    expect(new Set(SCHOOL_RULES.map(ruleAnchor)).size).toBe(17);
  });

  it('docs/school-rules.md is the same text as the page', () => {
    const file = path.join(ROOT, 'docs/school-rules.md');
    const expected = rulesMarkdown() + '\n';
    expect(fs.readFileSync(file, 'utf8'), `docs/school-rules.md is out of date: write rulesMarkdown() from hub/src/rules/school-rules.ts into it`).toBe(expected);
  });

  it('the README sends readers to the project’s own rules, not outside the repository', () => {
    const readme = fs.readFileSync(path.join(ROOT, 'README.md'), 'utf8');
    expect(readme).not.toContain('../shared/');
    expect(readme).toContain('docs/school-rules.md');
  });

  it('a page’s “(P7)” becomes the rule’s name linking to it; markup and unknown codes are left alone', () => {
    const cited = citeRules(html`<p title="(P7)">Charged (P7). Both (P9/P10). Not a rule (P99).</p>`).text;
    expect(cited).toBe(
      '<p title="(P7)">Charged (see: <a class="rule-link" href="/rules#a-lost-stick-costs-charge">A lost stick costs £10.00</a>). Both (see: <a class="rule-link" href="/rules#leavers-may-keep-a-stick-after-a-declaration">Leavers may keep a stick after a declaration</a>; <a class="rule-link" href="/rules#laptops-come-back">Laptops come back</a>). Not a rule (P99).</p>',
    );
  });
});
