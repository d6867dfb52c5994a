// Reading topics back (the hub's side): which site, station and message kind a topic names.
// The firmware only builds topics (wire.ts topicBase and TOPIC).
import { TOPIC, TOPIC_ROOT } from './wire';

export type TopicKind = keyof typeof TOPIC;

export interface StationTopic {
  site: string;
  station: string;
  kind: TopicKind;
}

const KIND_BY_SUFFIX = new Map<string, TopicKind>((Object.keys(TOPIC) as TopicKind[]).map((kind) => [TOPIC[kind].slice(1), kind]));

/** handover/<site>/<station>/<suffix> as its parts, or null for any other topic. */
export function parseStationTopic(topic: string): StationTopic | null {
  const parts = topic.split('/');
  if (parts.length !== 4 || parts[0] !== TOPIC_ROOT || !parts[1] || !parts[2]) return null;
  const kind = KIND_BY_SUFFIX.get(parts[3]);
  return kind ? { site: parts[1], station: parts[2], kind } : null;
}

/** The filter for one kind of message from every station of `site` ('+': of every site). */
export function stationsFilter(site: string, kind: TopicKind): string {
  return `${TOPIC_ROOT}/${site}/+${TOPIC[kind]}`;
}

/** The prefix of every topic of `site` ('+': of every site), with its trailing slash. */
export function sitePrefix(site: string): string {
  return `${TOPIC_ROOT}/${site}/`;
}
