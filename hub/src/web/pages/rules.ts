// The school rules page (/rules): what the school asks and what Handover does about it, in plain
// words, for every signed-in role. Pages cite a rule with ruleLink, by its short name.
import type { FastifyInstance } from 'fastify';
import { ruleAnchor, schoolRule, SCHOOL_RULES } from '../../rules/school-rules';
import type { WebContext } from '../context';
import { html, type Html } from '../html';

/** A rule named in a sentence, linking to its place on the rules page: "(see: A lost stick costs £10.00)". */
export function ruleLink(code: string): Html {
  const rule = schoolRule(code);
  return html`<a class="rule-link" href="/rules#${ruleAnchor(rule)}">${rule.name}</a>`;
}

export function registerRules(app: FastifyInstance, context: WebContext): void {
  app.get('/rules', async (request, reply) =>
    context.render(request, reply, {
      title: 'The school rules',
      body: html`<p>These are the rules from schools’ acceptable-use policies that Handover keeps, and what it does for each. Prices, periods and roles are defaults the school can change.</p>
        <dl class="rules-list">${SCHOOL_RULES.map(
          (rule) => html`<dt id="${ruleAnchor(rule)}">${rule.name}</dt>
            <dd><p>${rule.rule}</p><p><strong>What Handover does:</strong> ${rule.handover}</p></dd>`,
        )}</dl>`,
    }),
  );
}
