// Locker states, one byte each, indexed from 0.
export const LOCKER = {
  FREE: 0,
  PHONE_IN: 1,
  ITEM_PRESENT: 2,
  ITEM_OUT: 3,
  HELD: 4, // confiscation (P4)
  SAFEGUARDING_HELD: 5, // P5
  HEALTH_CHECK_HELD: 6, // P10
  FAULT: 7,
};

export const LOCKER_STATE_NAMES = ['free', 'phone-in', 'item-present', 'item-out', 'held', 'safeguarding-held', 'health-check-held', 'fault'];
