// Why a station's firmware update stopped or was refused, in the words the office reads on the
// Stations page and in `handover firmware status`. The station and the station link speak in codes
// ('older-version', 'no reply (station offline?)'); every code is turned into a sentence here, and
// only here, when the rollout records it.

const SENTENCES: Record<string, string> = {
  // The station's refusals (protocol/wire.ts REFUSAL, as the station link names them).
  'no-room': 'The station’s Storage has no room for the new firmware and a copy of the firmware it runs.',
  'older-version': 'The station already runs this version or a newer one. To go back to an older version, roll it out as a rollback.',
  'firmware-signature': 'The firmware’s signature or checksum did not check on the station, so it was not installed.',
  'update-pending': 'The station is still waiting for an earlier update to be confirmed.',
  'bad-signature': 'The station did not accept the hub’s signature: its station key may not match the hub’s records.',
  replayed: 'The station took the hub’s message for a repeat of an earlier one.',
  'unknown-command': 'The station’s firmware is too old to be updated over the network: flash it once with a cable.',
  'bad-argument': 'The station could not read the firmware sent to it.',
  'not-now': 'The station was busy and did not take the update.',
  transfer: 'The transfer lost its place; it goes on from where the station got to.',
  checksum: 'The firmware did not check on the station, so it was not installed.',
  'wrong-station': 'The firmware was addressed to another station.',
  // The hub's own reasons for a transfer that stopped (hub/src/stations/station-link.ts).
  paused: 'The rollout is paused; the transfer goes on from where it got to when it is resumed.',
  'hub stopping': 'The hub was stopping; the transfer goes on from where it got to when it is back.',
  'station link is not started': 'The hub was starting; the transfer goes on shortly.',
  'no reply': 'The station stopped answering (offline?); the transfer goes on from where it got to when it is back.',
  'not sent': 'The hub could not reach the broker; the transfer goes on from where it got to when it can.',
};

/** A sentence for a refusal or stop code; a code this hub does not know still reads as a sentence. */
export function firmwareReason(code: string | null | undefined): string {
  if (!code) return 'The station refused the update.';
  // The link's own reasons carry detail after the code ('no reply (station offline?)', 'not sent: …').
  const sentence = SENTENCES[code] ?? Object.entries(SENTENCES).find(([known]) => code.startsWith(`${known} `) || code.startsWith(`${known}:`))?.[1];
  return sentence ?? 'The station refused the update for a reason this hub does not know; see the hub’s log.';
}

/** Every code with a sentence (for tests that walk them). */
export const FIRMWARE_REASON_CODES = Object.keys(SENTENCES);
