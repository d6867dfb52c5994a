// The embedded broker (aedes) is for one school. In the trust rush (2,500 stations, 75,000
// deposits in ten minutes; README "Performance") it overflowed its stack draining its emitter's
// queue and took the hub down with it. So the hub refuses to start it for more stations than a
// stated limit, and warns when it serves several schools: a trust runs Mosquitto.
import type { SqlDatabase } from '../db/sql';

/** A large school: about 50 stations of 32 lockers for 1,500 pupils, and its loan stations, several times over. */
export const EMBEDDED_BROKER_MAX_STATIONS = 200;

const USE_MOSQUITTO = 'run Mosquitto 2 instead (handover broker mosquitto-config writes its files; README "Mosquitto instead of the embedded broker") and start the hub with HANDOVER_EMBEDDED_BROKER=false';

export interface EmbeddedBrokerCheck {
  /** Why the hub must not start the embedded broker, or null. */
  refusal: string | null;
  /** What the hub should say in its log as it starts it anyway, or null. */
  warning: string | null;
}

/** `schools`: how many the deployment holds (records/schools.ts list()). */
export async function checkEmbeddedBroker(db: SqlDatabase, schools: number, maxStations: number): Promise<EmbeddedBrokerCheck> {
  const stations = Number((await db.get<{ n: number }>('SELECT COUNT(*) AS n FROM stations'))?.n ?? 0);
  if (stations > maxStations) {
    return {
      refusal: `the embedded MQTT broker is for one school, and ${stations} stations are registered, more than HANDOVER_EMBEDDED_BROKER_MAX_STATIONS (${maxStations}): at a trust's size it crashed the hub in a registration rush; ${USE_MOSQUITTO}`,
      warning: null,
    };
  }
  if (schools > 1) {
    return {
      refusal: null,
      warning: `the embedded MQTT broker is for one school, and this deployment holds ${schools} schools (${stations} station${stations === 1 ? '' : 's'}): it stops the hub at more than ${maxStations} stations; for a trust, ${USE_MOSQUITTO}`,
    };
  }
  return { refusal: null, warning: null };
}
