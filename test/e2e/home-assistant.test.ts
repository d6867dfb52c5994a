// Home Assistant discovery: the hub announces each station and locker (retained) and keeps a JSON
// state topic current, from the station's verified state, after a real tap in the simulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BrokerAccounts } from '../../hub/src/broker/accounts';
import { DEMO_CARDS } from '../../hub/src/demo/demo-school';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';

describe('Home Assistant discovery', () => {
  let harness: HubHarness;

  beforeAll(async () => {
    harness = await startHub({ demo: true });
  });

  afterAll(async () => {
    await harness?.stop();
  });

  it('announces the station and its lockers, and publishes their states as JSON', async () => {
    // Home Assistant's own read-only account, as `handover broker account add` makes it.
    const password = await new BrokerAccounts(harness.hub.db).add('homeassistant');
    const client = await harness.mqtt({ username: 'homeassistant', password });
    const retained = new Map<string, string>();
    client.on('message', (topic, payload) => retained.set(topic, payload.toString('utf8')));
    await client.subscribeAsync(['homeassistant/#', 'handover/demo/demo-1/ha'], { qos: 1 });
    const configTopic = 'homeassistant/sensor/handover_demo_demo-1/locker_1/config';
    await eventually(() => retained.has(configTopic), 10_000, 'the discovery config');
    const config = JSON.parse(retained.get(configTopic)!);
    expect(config).toMatchObject({ name: 'Locker 1', state_topic: 'handover/demo/demo-1/ha', value_template: '{{ value_json.lockers[0] }}' });
    expect(config.device.identifiers).toEqual(['handover_demo_demo-1']);
    // Announced one after another: the other lockers' configs may still be on their way when the first is read.
    const lockerConfigs = () => [...retained.keys()].filter((topic) => /locker_\d+\/config$/.test(topic));
    await eventually(() => lockerConfigs().length >= 8, 10_000, 'every locker announced');
    expect(lockerConfigs()).toHaveLength(8);
    expect(JSON.parse(retained.get('homeassistant/binary_sensor/handover_demo_demo-1/online/config')!).state_topic).toBe('handover/demo/demo-1/status');

    await harness.hub.demo!.tap(DEMO_CARDS[1].uid);
    await eventually(() => {
      const state = retained.get('handover/demo/demo-1/ha');
      return state && JSON.parse(state).lockers[0] === 'phone-in';
    }, 10_000, 'locker 1 to show phone-in');
    await client.endAsync();
  });
});
