// Schools as tenants (issue 16) with the simulated station running (`handover start`): the demo's
// station is the deployment's own school's, so another school's account neither sees its cards
// (they name the demo's pupils) nor taps them at that station.
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEMO_STATION_ID } from '../../hub/src/demo/demo-school';
import { startHub, type HubHarness } from '../support/hub-harness';
import { USING_POSTGRES } from '../support/test-database';
import { WebClient } from './client';

let harness: HubHarness;
let own: WebClient;
let other: WebClient;

beforeAll(async () => {
  harness = await startHub({ demo: true });
  const { hub } = harness;
  await hub.records.schools.add('north', 'North Primary', 'test');
  own = await WebClient.as(hub, 'office', 'office-demo');
  other = await WebClient.as(hub, 'office', 'office-north');
  await hub.records.schools.setAccount(Number((await hub.accounts.byUsername('office-north'))!.id), 'north', 'test', 'account:office-north');
}, 120_000);
afterAll(async () => {
  await harness?.stop();
});

it(`keeps the simulated station's cards to its own school's accounts (${USING_POSTGRES ? 'PostgreSQL' : 'SQLite'})`, { timeout: 60_000 }, async () => {
  const cards = (await (await own.get('/api/demo/cards', 'json')).json()) as { cards: Array<{ uid: string; name: string }> };
  expect(cards.cards.length).toBeGreaterThan(0);
  expect((await own.page('/lockers')).html).toContain(`the simulated station ${DEMO_STATION_ID}`);

  const page = (await other.page('/lockers')).html;
  expect(page).not.toContain(`the simulated station ${DEMO_STATION_ID}`);
  expect(page).not.toContain(cards.cards[0].name);
  expect((await other.get('/api/demo/cards', 'json')).status).toBe(404);
  const events = async () => Number((await harness.hub.db.get<{ n: number }>('SELECT COUNT(*) AS n FROM station_events WHERE station_id = ?', [DEMO_STATION_ID]))!.n);
  const before = await events();
  const tap = await other.send('POST', '/api/demo/tap', { json: { uid: cards.cards[0].uid } });
  expect(tap.status).toBe(404);
  expect((await other.send('POST', '/api/demo/shut-doors', { json: {} })).status).toBe(404);
  await new Promise((resolve) => setTimeout(resolve, 1500));
  expect(await events()).toBe(before);
});
