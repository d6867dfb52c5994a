// The frame around every office page: the skip link, the header with who is signed in, the
// navigation (every page is listed for every role: a page a role may not use answers 403), and
// the sign-out form after it, so the keyboard meets the skip link, then the menu, then the page.
// Every data table is put in a labelled region that scrolls by itself on a narrow screen, so
// pages never scroll sideways (tableRegions).
import { ROLE_LABELS, type SignedInAccount } from '../accounts/roles';
import { ruleAnchor, SCHOOL_RULES } from '../rules/school-rules';
import { escapeHtml, html, Html, type HtmlValue } from './html';

export const NAVIGATION: Array<{ path: string; label: string }> = [
  { path: '/lockers', label: 'Lockers now' },
  { path: '/today', label: 'Today' },
  { path: '/who', label: 'Who holds what' },
  { path: '/loans', label: 'Loans' },
  { path: '/end-of-day', label: 'End of day' },
  { path: '/holds', label: 'Holds' },
  { path: '/charges', label: 'Charges' },
  { path: '/leavers', label: 'Leavers' },
  { path: '/stations', label: 'Stations' },
  { path: '/imports', label: 'Imports' },
  { path: '/desk', label: 'Desk' },
  { path: '/notifications', label: 'Notifications' },
];

export interface PageOptions {
  title: string;
  /** The navigation entry to mark as current. */
  section?: string;
  account: SignedInAccount | null;
  csrfToken?: string;
  body: HtmlValue;
  /** Extra scripts (paths under /static/). */
  scripts?: string[];
  /** A trust deployment (issue 16): the schools a trust account may filter by, or the account's own school. */
  schools?: SchoolChoice | null;
}

export interface SchoolChoice {
  /** Every school, for a trust account's filter; only the account's own for a school's account. */
  schools: Array<{ id: string; name: string }>;
  /** The school filtered by (null: every school). */
  chosen: string | null;
  trust: boolean;
  /** The page's path, for the filter's form. */
  path: string;
}

function schoolBar(choice: SchoolChoice): Html {
  if (!choice.trust) return html`<p class="school">${choice.schools[0]?.name ?? ''}</p>`;
  return html`<form method="get" action="${choice.path}" class="school-filter inline-form"><label for="school-filter">School</label>
    <select id="school-filter" name="school"><option value="">Every school</option>${choice.schools.map((school) => html`<option value="${school.id}" ${choice.chosen === school.id ? html`selected` : null}>${school.name}</option>`)}</select>
    <button type="submit">Show</button></form>`;
}

export function page(options: PageOptions): Html {
  const { account } = options;
  return html`<!doctype html>
<html lang="en-GB">
<head>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  ${options.csrfToken ? html`<meta name="csrf-token" content="${options.csrfToken}">` : null}
  <title>${options.title} — Handover</title>
  <link rel="icon" href="/favicon.svg" type="image/svg+xml">
  <link rel="stylesheet" href="/style.css">
</head>
<body>
  <a class="skip" href="#main">Skip to the page</a>
  <header class="top">
    <p class="brand"><a href="/">Handover</a></p>
    ${account ? html`<p class="who">Signed in as <strong>${account.username}</strong> <span class="role">(${ROLE_LABELS[account.role]})</span></p>` : null}
    ${account && options.schools ? schoolBar(options.schools) : null}
  </header>
  ${account
    ? html`<div class="menu-bar"><nav aria-label="Pages"><ul>${NAVIGATION.map(
        (item) => html`<li><a href="${item.path}"${item.path === options.section ? html` aria-current="page"` : null}>${item.label}</a></li>`,
      )}</ul></nav>
    <form method="post" action="/logout" class="signout">
      <input type="hidden" name="_csrf" value="${options.csrfToken ?? ''}">
      <button type="submit">Sign out</button>
    </form></div>`
    : null}
  <main id="main" tabindex="-1">
    <h1>${options.title}</h1>
    ${finishBody(html`${options.body}`, options.title)}
  </main>
  <footer class="page-foot"><p><a href="/rules">The school rules</a></p></footer>
  <script src="/app.js" defer></script>
  ${(options.scripts ?? []).map((script) => html`<script src="${script}" defer></script>`)}
</body>
</html>`;
}

/** A readable error page (never a stack trace). */
export function errorPage(options: { status: number; title: string; message: string; account: SignedInAccount | null; csrfToken?: string }): Html {
  return page({
    title: options.title,
    account: options.account,
    csrfToken: options.csrfToken,
    body: html`<div class="problem" role="alert"><p>${options.message}</p></div>
      <p><a href="/">Back to the office page</a></p>`,
  });
}

/** A message box: what just happened (after an action) or what went wrong in a form. */
export function notice(kind: 'done' | 'problem', message: HtmlValue): Html {
  return html`<div class="${kind}" role="${kind === 'problem' ? 'alert' : 'status'}">${message}</div>`;
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', '#39': "'" };

/**
 * Puts each data table in a region that scrolls sideways by itself (keyboard-focusable, named after
 * the heading above it), so a wide table never widens the page on a phone. Tables already in a
 * `table-wrap` get the same name and focusability.
 */
export function tableRegions(body: Html, title: string): Html {
  let heading = title;
  const text = body.text.replace(/<h[23][^>]*>([\s\S]*?)<\/h[23]>|<div class="table-wrap">\s*(<table[\s\S]*?<\/table>)\s*<\/div>|<table class="data[\s\S]*?<\/table>/g, (match, headingText?: string, wrapped?: string) => {
    if (headingText !== undefined) {
      heading = headingText.replace(/<[^>]*>/g, '').replace(/&(amp|lt|gt|quot|#39);/g, (_entity, name: string) => ENTITIES[name]).replace(/\s+/g, ' ').trim();
      return match;
    }
    const label = escapeHtml(`Table: ${heading}`);
    return `<div class="table-wrap" role="region" tabindex="0" aria-label="${label}">${wrapped ?? match}</div>`;
  });
  return new Html(text);
}

/** What every page body (and every live panel) goes through: tables in labelled regions, rule codes as named links. */
export function finishBody(body: Html, title: string): Html {
  return citeRules(tableRegions(body, title));
}

/**
 * A rule cited by its code in a page's text — "(P7)", "(P9/P10)" — becomes its short name linking
 * to the school rules page: "(see: A lost stick costs £10.00)". Only text between tags is touched.
 */
export function citeRules(body: Html): Html {
  const text = body.text.replace(/>([^<]*)</g, (segment, between: string) =>
    /\(P\d/.test(between)
      ? `>${between.replace(/\((P\d{1,2}(?:\s*[/,]\s*P\d{1,2})*)\)/g, (whole, codes: string) => {
          const links = codes.split(/\s*[/,]\s*/).map((code) => SCHOOL_RULES.find((rule) => rule.code === code)).filter((rule) => rule !== undefined);
          if (!links.length) return whole;
          return `(see: ${links.map((rule) => `<a class="rule-link" href="/rules#${ruleAnchor(rule)}">${escapeHtml(rule.name)}</a>`).join('; ')})`;
        })}<`
      : segment,
  );
  return new Html(text);
}
