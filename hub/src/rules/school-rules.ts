// The school rules Handover serves, in the project's own words, for the people who use it: the
// office page's /rules page and docs/school-rules.md are written from this list, and pages name a
// rule by its short name (linking here) instead of a code nobody outside the project knows.
// The codes (P1…P17) stay for the code, the tests and the README's records table.
export interface SchoolRule {
  code: string;
  /** A few words a page can use in a sentence: "(see: phones in on arrival)". */
  name: string;
  /** What the school asks. */
  rule: string;
  /** What Handover does about it. */
  handover: string;
}

export const SCHOOL_RULES: SchoolRule[] = [
  { code: 'P1', name: 'Phones in on arrival', rule: 'Pupils hand in their phone when they arrive and take it back at the end of the day.', handover: 'A pupil taps their card to put the phone in a free locker and taps again to take it out. The office sees, for each pupil, whether their phone is in, since when and in which locker.' },
  { code: 'P2', name: 'Personal phones are never charged', rule: 'The school is not liable for a personal phone that is lost or damaged, but must be able to show what happened to it.', handover: 'No charge is ever raised for a phone. Every deposit, door, collection and opening in between is kept, so the office can show a parent the phone’s history.' },
  { code: 'P3', name: 'Medical exemptions', rule: 'A pupil who manages a medical condition with an app may keep their phone, after a risk assessment.', handover: 'The office records the exemption with the risk assessment’s reference and a review date. The pupil’s tap is recorded as exempt and opens no locker.' },
  { code: 'P4', name: 'Confiscation and two-person release', rule: 'Staff may confiscate a device. Searching it is done by the headteacher with another member of staff present.', handover: 'A member of staff taps their card, then the pupil’s: the locker is held and the pupil’s card no longer opens it. Opening it again needs two different staff cards within a short time, one of them the headteacher’s or a deputy’s; both names are kept.' },
  { code: 'P5', name: 'Safeguarding holds', rule: 'A device involved in a child-protection matter goes straight to the Designated Safeguarding Lead (DSL), who logs its receipt.', handover: 'The DSL taps their card, then the pupil’s: only the DSL’s card opens that locker again, and the release is recorded as the DSL’s receipt. Who is in such a hold, and why, is shown only to the DSL and the headteacher.' },
  { code: 'P6', name: 'Encrypted memory sticks only', rule: 'Staff who need a memory stick are given an encrypted one; unencrypted sticks are not allowed.', handover: 'Sticks are registered with their asset tag, serial number and encryption; only registered encrypted sticks can be lent.' },
  { code: 'P7', name: 'A lost stick costs £10.00', rule: 'A lost encrypted memory stick is reported straight away, and its replacement is charged (£10.00 unless the school sets another price).', handover: 'Reporting a loan lost charges the borrower the item’s replacement price in the charges ledger, with the loan’s history as evidence. A charge can be waived with a reason, never by the person charged.' },
  { code: 'P8', name: 'A stolen stick needs a crime number', rule: 'A stolen stick is reported straight away, with the police crime number.', handover: 'A theft cannot be recorded without its crime number; nothing is charged.' },
  { code: 'P9', name: 'Leavers may keep a stick after a declaration', rule: 'Staff who leave may keep their stick after declaring in writing that school information on it has been deleted.', handover: 'The leaver’s checklist lists each open loan: it is returned, or (sticks only) kept with the declaration recorded and written off without charge.' },
  { code: 'P10', name: 'Laptops come back', rule: 'Laptops are returned before a member of staff leaves, and for health checks when asked.', handover: 'A leaver cannot be completed while a laptop is out. Each laptop has a date for its next health check; one that is due stays held in its locker on return until ICT clears it.' },
  { code: 'P11', name: 'Losses and thefts go to the headteacher', rule: 'A lost or stolen laptop or stick is reported to the headteacher at once.', handover: 'Every loss or theft alerts the headteacher and is listed first at the top of Lockers now until someone acknowledges it.' },
  { code: 'P12', name: 'Only authorised borrowers', rule: 'School equipment is used only by the people it is meant for.', handover: 'A card can borrow only the kinds of item its holder’s role allows. An unknown card opens nothing and is recorded.' },
  { code: 'P13', name: 'Uncollected phones and lost property', rule: 'Devices nobody collects go to lost property and are kept for no longer than one term, then disposed of.', handover: 'A phone still in a locker at the end of the day is listed as uncollected; after a term it is due for disposal, which a member of staff records.' },
  { code: 'P14', name: 'Who may see and do what', rule: 'Access rights are clearly set, and only authorised staff see the records and logs.', handover: 'Each account has a role (office, ICT, headteacher, DSL, read-only) that decides what it may see and do. Every look at personal records and every action is itself recorded.' },
  { code: 'P15', name: 'Strong passwords', rule: 'Passwords have at least 10 characters, including a number and a capital letter.', handover: 'Accounts refuse weaker passwords, and no account or password comes with the software.' },
  { code: 'P16', name: 'Personal data protected', rule: 'Personal data is handled under data-protection law and kept secure.', handover: 'Stations keep no names, only coded card numbers. The office can export everything held about one person, and personal records are removed after the retention period; the charges ledger is kept as a financial record.' },
  { code: 'P17', name: 'Records that can be trusted', rule: 'Records of monitoring must stand up as evidence.', handover: 'The audit trail can only be added to, each entry is chained to the one before, and one command checks the whole chain.' },
];

export function schoolRule(code: string): SchoolRule {
  const rule = SCHOOL_RULES.find((candidate) => candidate.code === code);
  if (!rule) throw new Error(`no school rule ${code}`);
  return rule;
}

/** The anchor of a rule on the rules page: "phones-in-on-arrival". */
export function ruleAnchor(rule: SchoolRule): string {
  return rule.name.toLowerCase().replace(/£[0-9.]+/g, 'charge').replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}

/**
 * Rules cited by code in plain text (an e-mail): "(P10)" becomes the rule's short name and where to
 * read it: "(school rule “Laptops come back”: https://hub.example/rules#laptops-come-back)", or,
 * without the office page's address, "(school rule “Laptops come back”, on the office page’s School rules page)".
 */
export function citeRulesInText(text: string, officeUrl: string | null): string {
  return text.replace(/\((P\d{1,2}(?:\s*[/,]\s*P\d{1,2})*)\)/g, (whole, codes: string) => {
    const rules = codes.split(/\s*[/,]\s*/).map((code) => SCHOOL_RULES.find((rule) => rule.code === code)).filter((rule) => rule !== undefined);
    if (!rules.length) return whole;
    const names = rules.map((rule) => `“${rule.name}”`).join(' and ');
    const label = rules.length === 1 ? 'school rule' : 'school rules';
    if (!officeUrl) return `(${label} ${names}, on the office page’s School rules page)`;
    return `(${label} ${names}: ${rules.map((rule) => `${officeUrl}/rules#${ruleAnchor(rule)}`).join(' ')})`;
  });
}

/** The rules as Markdown: docs/school-rules.md is this text (test/web/school-rules.test.ts checks it and says how to rewrite it). */
export function rulesMarkdown(): string {
  return [
    '# The school rules Handover serves',
    '',
    'Schools ask pupils to hand in their phones and lend staff encrypted memory sticks and laptops. These are',
    'the rules from schools’ acceptable-use policies that Handover keeps, and what it does for each. Prices,',
    'periods and roles are defaults a school can change; the behaviour is not optional. The office page shows',
    'the same list at `/rules` (a link at the foot of every page).',
    '',
    ...SCHOOL_RULES.flatMap((rule) => [`## ${rule.name}`, '', `${rule.rule}`, '', `**What Handover does:** ${rule.handover}`, '', `<sub>Code in the project: ${rule.code}</sub>`, '']),
  ].join('\n');
}
