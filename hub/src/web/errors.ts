// Errors the office page shows as sentences: each has an HTTP status and a message a person can
// act on. Errors from the records (AccessError, RuleError, NotFoundError) map to 403, 422 and 404;
// anything unexpected is logged and shown as a short apology, never a stack trace.
import { AccessError, NotFoundError, RuleError } from '../records/access';
import { AccountError } from '../accounts/accounts';
import { PasswordPolicyError } from '../accounts/password';

export class PageError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly title = titleFor(statusCode),
  ) {
    super(message);
    this.name = 'PageError';
  }
}

export function titleFor(status: number): string {
  if (status === 400) return 'That request could not be read';
  if (status === 401) return 'Please sign in';
  if (status === 403) return 'Not for your role';
  if (status === 404) return 'Not found';
  if (status === 409) return 'That cannot be done now';
  if (status === 413) return 'That file is too large';
  if (status === 415) return 'That kind of content is not accepted';
  if (status === 422) return 'That was not done';
  if (status === 429) return 'Too many attempts';
  return 'Something went wrong';
}

export interface Explained {
  status: number;
  title: string;
  message: string;
  /** Unexpected: log it. */
  internal: boolean;
}

/** A refusal as the page shows it: a sentence, with its capital and its full stop. */
export function asSentence(message: string): string {
  const text = message.trim().replace(/^./, (first) => first.toUpperCase());
  return /[.!?)]$/.test(text) ? text : `${text}.`;
}

/** Turns any error into what the person is told. */
export function explain(error: unknown): Explained {
  const make = (status: number, message: string, internal = false, title = titleFor(status)): Explained => ({ status, title, message, internal });
  if (error instanceof PageError) return make(error.statusCode, error.message, false, error.title);
  if (error instanceof AccessError) return make(403, `Your role may not do this: ${error.message}.`);
  if (error instanceof RuleError) return make(422, error.message);
  if (error instanceof NotFoundError) return make(404, error.message);
  if (error instanceof PasswordPolicyError || error instanceof AccountError) return make(422, error.message);
  const candidate = error as { statusCode?: number; code?: string; message?: string };
  if (candidate?.code === 'FST_CSRF_INVALID_TOKEN' || candidate?.code === 'FST_CSRF_MISSING_SECRET') {
    return make(403, 'This form has expired or did not come from the office page. Go back, reload the page and try again.', false, 'Form expired');
  }
  if (candidate?.code === 'FST_REQ_FILE_TOO_LARGE' || candidate?.statusCode === 413) return make(413, 'The file is larger than the hub accepts (20 MB).');
  if (candidate?.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE' || candidate?.statusCode === 415) return make(415, 'Send the form from the office page (or JSON to the /api endpoints).');
  if (candidate?.statusCode === 429) return make(429, candidate.message ?? 'Too many attempts; wait a few minutes and try again.');
  if (candidate?.statusCode && candidate.statusCode >= 400 && candidate.statusCode < 500) return make(candidate.statusCode, candidate.message ?? titleFor(candidate.statusCode));
  return make(500, 'The hub could not do that because of a fault on its side. It has been written to the hub log; please tell the ICT lead what you were doing.', true);
}
