// The frame around every office page: the skip link, the header with who is signed in, the
// navigation (every page is listed for every role: a page a role may not use answers 403), and
// the sign-out form.
import { ROLE_LABELS, type SignedInAccount } from '../accounts/roles';
import { html, type Html, type HtmlValue } from './html';

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
  <link rel="stylesheet" href="/style.css">
</head>
<body>
  <a class="skip" href="#main">Skip to the page</a>
  <header class="top">
    <p class="brand"><a href="/">Handover</a></p>
    ${account
      ? html`<p class="who">Signed in as <strong>${account.username}</strong> <span class="role">(${ROLE_LABELS[account.role]})</span></p>
    <form method="post" action="/logout" class="signout">
      <input type="hidden" name="_csrf" value="${options.csrfToken ?? ''}">
      <button type="submit">Sign out</button>
    </form>`
      : null}
  </header>
  ${account
    ? html`<nav aria-label="Pages"><ul>${NAVIGATION.map(
        (item) => html`<li><a href="${item.path}"${item.path === options.section ? html` aria-current="page"` : null}>${item.label}</a></li>`,
      )}</ul></nav>`
    : null}
  <main id="main" tabindex="-1">
    <h1>${options.title}</h1>
    ${options.body}
  </main>
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
