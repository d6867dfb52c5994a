// Every reason a station (protocol/wire.ts REFUSAL) or the hub's station link can give for a firmware
// update that stopped has its own sentence for the Stations page and `handover firmware status`:
// a refusal code added to the contract without one fails here, before the office would see the fallback.
import { describe, expect, it } from 'vitest';
import { REFUSAL } from '../../../protocol/wire';
import { firmwareReason } from '../../../hub/src/firmware/reasons';

const FALLBACK = firmwareReason('no-such-code');
const STATION_CODES = Object.keys(REFUSAL)
  .filter((name) => name !== 'NONE')
  .map((name) => name.toLowerCase().replace(/_/g, '-'));
const LINK_CODES = ['no reply (station offline?)', 'not sent: connection closed', 'paused', 'hub stopping', 'station link is not started'];

describe('firmware refusal reasons', () => {
  it.each([...STATION_CODES, ...LINK_CODES])('%s reads as its own sentence, without the code', (code) => {
    const sentence = firmwareReason(code);
    expect(sentence).not.toBe(FALLBACK);
    expect(sentence).toMatch(/^[A-Z].*\.$/);
    if (code.includes('-')) expect(sentence).not.toContain(code);
  });

  it('a code it does not know still reads as a sentence, not the code', () => {
    expect(FALLBACK).toMatch(/^The station refused the update/);
    expect(FALLBACK).not.toContain('no-such-code');
  });
});
