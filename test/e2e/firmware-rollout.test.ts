// Network firmware updates rolled out by the school (issue 19), from the outside: the hub with its
// embedded broker and database, three stations registered on it and simulated with the built
// bundle, the `handover firmware` commands run as the ICT lead would, and the Stations page.
// Staged: one station, then the rest; one station drops off the network mid-transfer and finishes
// later from where it got to. A bundle that throws at boot goes back by itself, and the command
// line and the page say so. Only the ICT lead and the headteacher may upload or roll out.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SimulatedStation } from '../../hardware/sim/simulated-station';
import { schoolBadgeKey } from '../../hub/src/records/people';
import { stationConfig } from '../../hub/src/records/station-config';
import type { TargetState } from '../../hub/src/firmware/records';
import { eventually, startHub, type HubHarness } from '../support/hub-harness';
import { commandLine } from '../hub/support/cli';
import { bundleText } from '../support/firmware-bundles';
import { BUNDLE } from '../support/station-rig';

let harness: HubHarness;
const cli = commandLine(() => ({ dataDir: harness.dataDir, databaseUrl: harness.hub.settings.databaseUrl ?? null, drop: async () => {} }));
const STATIONS = ['fw-1', 'fw-2', 'fw-3'];
const simulated = new Map<string, SimulatedStation>();
let scratch: string;

async function addStation(id: string): Promise<void> {
  const row = await harness.hub.stations.add('demo', id, 4);
  const config = stationConfig(row, await schoolBadgeKey(harness.hub.db), { host: '127.0.0.1', port: harness.hub.mqttPort });
  const station = new SimulatedStation({ flashFile: null });
  station.installFirmware(BUNDLE);
  station.writeConfig(config);
  station.boot();
  simulated.set(id, station);
}

function bundleFile(versionText: string, options: { throwAtBoot?: boolean } = {}): string {
  const file = path.join(scratch, `firmware-${versionText}.js`);
  fs.writeFileSync(file, bundleText(versionText, options));
  return file;
}

async function stateOf(stationId: string): Promise<TargetState | undefined> {
  return (await harness.hub.firmware.targets()).find((target) => target.station_id === stationId)?.state;
}

async function reaches(stationId: string, state: TargetState, timeoutMs = 30_000): Promise<void> {
  await eventually(async () => (await stateOf(stationId)) === state, timeoutMs, `${stationId} to reach ${state}`);
}

const running = (stationId: string) => harness.hub.link.states.get(stationId)?.firmware;

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-fw-'));
  harness = await startHub({ demo: false });
  await harness.hub.people.add({ externalId: 'S-ICT', name: 'Ivy Ict', role: 'ict' });
  await harness.hub.people.add({ externalId: 'S-OFF', name: 'Olu Office', role: 'office' });
  for (const id of STATIONS) await addStation(id);
  await eventually(() => STATIONS.every((id) => harness.hub.link.states.get(id)?.online && running(id) === '0.3.0'), 20_000, 'the stations online');
}, 60_000);

afterAll(async () => {
  for (const station of simulated.values()) station.powerOff();
  await harness?.stop();
  fs.rmSync(scratch, { recursive: true, force: true });
});

describe('firmware rolled out from the command line', () => {
  it('only the ICT lead or the headteacher uploads; a file that is not a bundle is refused', async () => {
    const office = await cli.handover('firmware', 'upload', bundleFile('0.4.0'), '--by', 'S-OFF');
    expect(office.code).toBe(1);
    expect(office.stderr).toMatch(/ICT lead or headteacher/);
    const notBundle = path.join(scratch, 'notes.txt');
    fs.writeFileSync(notBundle, 'hello');
    const refused = await cli.handover('firmware', 'upload', notBundle, '--by', 'S-ICT');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/not a Handover firmware bundle/);
  }, 30_000);

  it('goes to one station, then the rest; one dropped mid-transfer finishes later from where it got to', async () => {
    const upload = await cli.handover('firmware', 'upload', bundleFile('0.4.0'), '--by', 'S-ICT');
    expect(upload.stderr).toBe('');
    expect(upload.stdout).toMatch(/firmware 0\.4\.0 stored/);

    const first = await cli.handover('firmware', 'rollout', '0.4.0', '--stage', 'one', '--by', 'S-ICT');
    expect(first.stdout).toMatch(/to fw-1:/);
    await reaches('fw-1', 'done');
    expect(running('fw-1')).toBe('0.4.0');
    expect(running('fw-2')).toBe('0.3.0');

    // fw-3 drops off the network once a quarter of the bundle is across.
    const dropped = new Promise<number>((resolve) => {
      const watch = ({ stationId, sent, total }: { stationId: string; sent: number; total: number }) => {
        if (stationId !== 'fw-3' || sent < total / 4) return;
        harness.hub.link.off('firmware-progress', watch);
        simulated.get('fw-3')!.env.setWifi(false);
        resolve(sent);
      };
      harness.hub.link.on('firmware-progress', watch);
    });
    const rest = await cli.handover('firmware', 'rollout', '0.4.0', '--stage', 'all', '--by', 'S-ICT');
    expect(rest.stdout).toMatch(/to fw-2, fw-3:/);
    const droppedAt = await dropped;
    await reaches('fw-2', 'done');
    expect(running('fw-2')).toBe('0.4.0');
    await eventually(async () => (await stateOf('fw-3')) === 'waiting' && !harness.hub.link.states.get('fw-3')?.online, 20_000, 'fw-3 offline, waiting');
    const status = await cli.handover('firmware', 'status');
    expect(status.stdout).toMatch(/fw-3\t0\.4\.0\twaiting \d+%/);

    let resumedFrom = -1;
    harness.hub.link.once('firmware-progress', ({ sent }: { sent: number }) => (resumedFrom = sent));
    simulated.get('fw-3')!.env.setWifi(true);
    await reaches('fw-3', 'done', 40_000);
    expect(running('fw-3')).toBe('0.4.0');
    // Everything the station had answered for before it dropped is kept (it did not restart: the
    // transfer is still in its RAM), and only the rest was sent.
    expect(resumedFrom).toBeGreaterThanOrEqual(droppedAt);
    expect(resumedFrom).toBeLessThan(fs.statSync(bundleFile('0.4.0')).size);

    const trail = await harness.hub.db.all<{ action: string; subject: string }>("SELECT action, subject FROM audit_log WHERE action LIKE 'firmware.%' ORDER BY seq");
    expect(trail.map((row) => row.action)).toEqual(expect.arrayContaining(['firmware.uploaded', 'firmware.rollout', 'firmware.switched', 'firmware.done']));
    for (const station of simulated.values()) expect(station.env.errors).toEqual([]);
  }, 120_000);

  it('a bundle that throws at boot goes back by itself, and the command line and the page say so', async () => {
    harness.hub.firmwareRollout.options.confirmSec = 3;
    expect((await cli.handover('firmware', 'upload', bundleFile('0.5.0', { throwAtBoot: true }), '--by', 'S-ICT')).code).toBe(0);
    expect((await cli.handover('firmware', 'rollout', '0.5.0', '--station', 'fw-1', '--by', 'S-ICT')).code).toBe(0);
    await reaches('fw-1', 'rolled-back', 60_000);
    expect(running('fw-1')).toBe('0.4.0');
    const status = await cli.handover('firmware', 'status');
    expect(status.stdout).toMatch(/fw-1\t0\.5\.0\trolled-back\tthe station went back to 0\.4\.0 by itself/);
    const page = await harness.getPage('/stations');
    expect(page.text).toMatch(/Rolled back by itself/);
  }, 90_000);

  it('paused, nothing is sent; resumed, the update goes on', async () => {
    expect((await cli.handover('firmware', 'pause', '--by', 'S-ICT')).code).toBe(0);
    expect((await cli.handover('firmware', 'upload', bundleFile('0.6.0'), '--by', 'S-ICT')).code).toBe(0);
    expect((await cli.handover('firmware', 'rollout', '0.6.0', '--station', 'fw-2', '--by', 'S-ICT')).code).toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 5000));
    expect(await stateOf('fw-2')).toBe('waiting');
    expect((await cli.handover('firmware', 'status')).stdout).toMatch(/rollout paused/);
    expect((await cli.handover('firmware', 'resume', '--by', 'S-ICT')).code).toBe(0);
    await reaches('fw-2', 'done');
    expect(running('fw-2')).toBe('0.6.0');
  }, 60_000);
});
