// Home Assistant MQTT discovery: each station and each of its lockers appears in Home Assistant
// with no configuration there. Stations speak signed CBOR, which Home Assistant cannot read, so
// the hub republishes what it verified as retained JSON under handover/<site>/<station>/ha and
// announces entities that read it (discovery prefix configurable, "homeassistant" by default).
import type { StationState } from './station-link';
import { topicBase } from '../../../protocol/wire';

export type Publish = (topic: string, payload: string, retain: boolean) => void;

export interface DiscoveryOptions {
  site: string;
  prefix: string;
  publish: Publish;
}

export class HomeAssistantDiscovery {
  private options: DiscoveryOptions;
  private announced = new Map<string, number>();

  constructor(options: DiscoveryOptions) {
    this.options = options;
  }

  private base(stationId: string): string {
    return topicBase(this.options.site, stationId);
  }

  /** Publishes the station's JSON state, announcing its entities the first time (or when its size changes). */
  update(state: StationState): void {
    const { publish } = this.options;
    const lockers = state.lockers ?? [];
    if (this.announced.get(state.stationId) !== lockers.length) {
      for (const config of this.configs(state.stationId, lockers.length, state.firmware)) publish(config.topic, JSON.stringify(config.payload), true);
      this.announced.set(state.stationId, lockers.length);
    }
    publish(
      `${this.base(state.stationId)}/ha`,
      JSON.stringify({
        lockers,
        journal_backlog: state.journalBacklog ?? null,
        badge_list_version: state.badgeListVersion ?? null,
        memory_used: state.memory?.used ?? null,
        reader: state.reader ?? null,
      }),
      true,
    );
  }

  configs(stationId: string, lockers: number, firmware?: string): Array<{ topic: string; payload: Record<string, unknown> }> {
    const node = `handover_${this.options.site}_${stationId}`.replace(/[^a-zA-Z0-9_-]/g, '_');
    const device = { identifiers: [node], name: `Handover ${stationId}`, manufacturer: 'Handover', model: 'Locker station (ESP32)', sw_version: firmware ?? 'unknown' };
    const availability = { availability_topic: `${this.base(stationId)}/status`, payload_available: 'online', payload_not_available: 'offline' };
    const stateTopic = `${this.base(stationId)}/ha`;
    const prefix = this.options.prefix;
    const entities: Array<{ topic: string; payload: Record<string, unknown> }> = [
      {
        topic: `${prefix}/binary_sensor/${node}/online/config`,
        payload: { name: 'Online', unique_id: `${node}_online`, device_class: 'connectivity', state_topic: `${this.base(stationId)}/status`, payload_on: 'online', payload_off: 'offline', device },
      },
      {
        topic: `${prefix}/sensor/${node}/journal_backlog/config`,
        payload: { name: 'Events awaiting the hub', unique_id: `${node}_backlog`, state_topic: stateTopic, value_template: '{{ value_json.journal_backlog }}', device, ...availability },
      },
      {
        topic: `${prefix}/sensor/${node}/reader/config`,
        payload: { name: 'Reader', unique_id: `${node}_reader`, state_topic: stateTopic, value_template: '{{ value_json.reader }}', device, ...availability },
      },
    ];
    for (let locker = 0; locker < lockers; locker++) {
      entities.push({
        topic: `${prefix}/sensor/${node}/locker_${locker + 1}/config`,
        payload: {
          name: `Locker ${locker + 1}`,
          unique_id: `${node}_locker_${locker + 1}`,
          state_topic: stateTopic,
          value_template: `{{ value_json.lockers[${locker}] }}`,
          icon: 'mdi:locker',
          device,
          ...availability,
        },
      });
    }
    return entities;
  }
}
