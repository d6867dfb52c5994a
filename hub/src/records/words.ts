// The records' codes as a person reads them, shared by the office page, the reports (table and
// CSV) and the command line: a locker's state, a hold's kind.

/** A locker's state ("phone-in") as the page and the reports show it ("Phone in"). */
export const LOCKER_STATE_WORDS: Record<string, string> = {
  free: 'Free',
  'phone-in': 'Phone in',
  'item-present': 'Item in',
  'item-out': 'Item out',
  held: 'Held',
  'safeguarding-held': 'Safeguarding hold',
  'health-check-held': 'Held for ICT check',
  fault: 'Fault',
  alarm: 'Alarm',
};

export const lockerStateWords = (state: string): string => LOCKER_STATE_WORDS[state] ?? state;

/** A hold's kind ("health-check") in words ("Held for ICT health check"). */
export const HOLD_KIND_WORDS: Record<string, string> = {
  confiscation: 'Confiscation',
  safeguarding: 'Safeguarding hold',
  'health-check': 'Held for ICT health check',
};

export const holdKindWords = (kind: string): string => HOLD_KIND_WORDS[kind] ?? kind;
