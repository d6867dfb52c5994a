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
import { FW_BOOT, FW_META, FW_NEW } from '../../protocol/firmware';
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
  try {
    await eventually(async () => (await stateOf(stationId)) === state, timeoutMs, `${stationId} to reach ${state}`);
  } catch (error) {
    // Say where it stopped instead: the state, the reason recorded and the hub's last firmware lines.
    const target = (await harness.hub.firmware.targets()).find((row) => row.station_id === stationId);
    const lines = harness.logs.filter((line) => line.includes('firmware') || line.includes(stationId)).slice(-8);
    throw new Error(`${(error as Error).message}; it is ${target?.state} (${target?.last_error}); hub log: ${lines.join(' | ')}`);
  }
}

const running = (stationId: string) => harness.hub.link.states.get(stationId)?.firmware;

/** Every distinct text the station's boot-step file (fw.boot) holds while watched. */
function watchBootStep(stationId: string): { seen: string[]; stop: () => void } {
  const seen: string[] = [];
  const timer = setInterval(() => {
    const text = simulated.get(stationId)!.storage.read(FW_BOOT);
    if (text !== undefined && !seen.includes(text)) seen.push(text);
  }, 5);
  return { seen, stop: () => clearInterval(timer) };
}

/** Resolves with the bytes sent when a station is cut off the network a quarter of the way through its transfer. */
function dropsAtAQuarter(stationId: string): Promise<number> {
  return new Promise<number>((resolve) => {
    const watch = ({ stationId: id, sent, total }: { stationId: string; sent: number; total: number }) => {
      if (id !== stationId || sent < total / 4) return;
      harness.hub.link.off('firmware-progress', watch);
      simulated.get(stationId)!.env.setWifi(false);
      resolve(sent);
    };
    harness.hub.link.on('firmware-progress', watch);
  });
}

beforeAll(async () => {
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'handover-fw-'));
  // The confirmation window is the hub's setting (HANDOVER_FIRMWARE_CONFIRM_SECONDS), sent to each station.
  harness = await startHub({ demo: false, settings: { firmwareConfirmSeconds: 120 } });
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

    const bootStep = watchBootStep('fw-1');
    const first = await cli.handover('firmware', 'rollout', '0.4.0', '--stage', 'one', '--by', 'S-ICT');
    expect(first.stdout).toMatch(/to fw-1:/);
    await reaches('fw-1', 'done');
    bootStep.stop();
    // The station was given the hub's confirmation window, not its own default of 300 s.
    expect(bootStep.seen.length).toBeGreaterThan(0);
    for (const text of bootStep.seen) expect(JSON.parse(text).w).toBe(120);
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

  it('withdrawn while a station is offline mid-transfer: the station erases the part it holds when it is back', async () => {
    expect((await cli.handover('firmware', 'upload', bundleFile('0.7.0'), '--by', 'S-ICT')).code).toBe(0);
    const dropped = dropsAtAQuarter('fw-3');
    expect((await cli.handover('firmware', 'rollout', '0.7.0', '--station', 'fw-3', '--by', 'S-ICT')).code).toBe(0);
    await dropped;
    await eventually(async () => (await stateOf('fw-3')) === 'waiting' && !harness.hub.link.states.get('fw-3')?.online, 20_000, 'fw-3 offline, waiting');
    const station = simulated.get('fw-3')!;
    expect(station.storage.read(FW_NEW)).toBeDefined();

    const office = await cli.handover('firmware', 'withdraw', 'fw-3', '--by', 'S-OFF');
    expect(office.code).toBe(1);
    expect(office.stderr).toMatch(/ICT lead or headteacher/);
    const done = await cli.handover('firmware', 'withdraw', 'fw-2', '--by', 'S-ICT');
    expect(done.code).toBe(1);
    expect(done.stderr).toMatch(/fw-2: it runs 0\.6\.0 already; to go back, roll out the older version with rollback/);
    const withdrawn = await cli.handover('firmware', 'withdraw', 'fw-3', '--by', 'S-ICT');
    expect(withdrawn.stderr).toBe('');
    expect(withdrawn.stdout).toMatch(/firmware withdrawn from fw-3: each erases the part it holds when it is next online/);
    expect((await cli.handover('firmware', 'status')).stdout).toMatch(/fw-3\t0\.7\.0\twithdrawn: to erase the part it holds when next online/);
    const page = await harness.getPage('/stations');
    expect(page.text).toMatch(/0\.7\.0 withdrawn; the station erases the part it holds when it is next online/);
    expect(station.storage.read(FW_NEW)).toBeDefined();

    station.env.setWifi(true);
    await eventually(() => station.storage.read(FW_NEW) === undefined && station.storage.read(FW_META) === undefined, 30_000, 'fw-3 to erase the part it held');
    await eventually(async () => (await harness.hub.firmware.aborts()).length === 0, 10_000, 'the abort recorded');
    expect(running('fw-3')).toBe('0.4.0');
    expect(await stateOf('fw-3')).toBeUndefined();
    const trail = await harness.hub.db.all<{ action: string; subject: string }>("SELECT action, subject FROM audit_log WHERE action IN ('firmware.withdrawn', 'firmware.aborted') ORDER BY seq");
    expect(trail).toEqual([
      { action: 'firmware.withdrawn', subject: 'firmware:rollout' },
      { action: 'firmware.aborted', subject: 'station:fw-3' },
    ]);
    expect((await cli.handover('firmware', 'withdraw', '--all', '--by', 'S-ICT')).stderr).toMatch(/no station is waiting for or being sent firmware/);
  }, 90_000);

  it('replaced by another version mid-transfer: the part sent is erased before the new version goes', async () => {
    expect((await cli.handover('firmware', 'upload', bundleFile('0.8.0'), '--by', 'S-ICT')).code).toBe(0);
    const dropped = dropsAtAQuarter('fw-3');
    expect((await cli.handover('firmware', 'rollout', '0.7.0', '--station', 'fw-3', '--by', 'S-ICT')).code).toBe(0);
    await dropped;
    await eventually(async () => (await stateOf('fw-3')) === 'waiting' && !harness.hub.link.states.get('fw-3')?.online, 20_000, 'fw-3 offline, waiting');
    expect((await cli.handover('firmware', 'rollout', '0.8.0', '--station', 'fw-3', '--by', 'S-ICT')).code).toBe(0);
    expect(await harness.hub.firmware.aborts()).toMatchObject([{ station_id: 'fw-3', version: '0.7.0', reason: 'replaced by 0.8.0' }]);
    simulated.get('fw-3')!.env.setWifi(true);
    await reaches('fw-3', 'done', 60_000);
    expect(running('fw-3')).toBe('0.8.0');
    const trail = await harness.hub.db.all<{ action: string; details: string }>("SELECT action, details FROM audit_log WHERE subject = 'station:fw-3' AND action IN ('firmware.aborted', 'firmware.switched') ORDER BY seq");
    const last = trail.slice(-2);
    expect(last.map((row) => row.action)).toEqual(['firmware.aborted', 'firmware.switched']);
    expect(JSON.parse(last[0].details)).toMatchObject({ version: '0.7.0', reason: 'replaced by 0.8.0' });
    for (const station of simulated.values()) expect(station.env.errors).toEqual([]);
  }, 120_000);

  it('withdrawn while it is being sent: the transfer stops and the station erases the part it holds', async () => {
    expect((await cli.handover('firmware', 'upload', bundleFile('0.9.0'), '--by', 'S-ICT')).code).toBe(0);
    const ict = await harness.hub.people.actor('S-ICT');
    let total = 0;
    let mostSent = 0;
    let withdrawing: Promise<unknown> | null = null;
    const watch = ({ stationId, sent, total: size }: { stationId: string; sent: number; total: number }) => {
      if (stationId !== 'fw-1') return;
      total = size;
      mostSent = Math.max(mostSent, sent);
      // As `handover firmware withdraw fw-1` would, a quarter of the way through.
      if (!withdrawing && sent >= size / 4) withdrawing = harness.hub.firmware.withdraw({ stations: ['fw-1'] }, ict);
    };
    harness.hub.link.on('firmware-progress', watch);
    try {
      expect((await cli.handover('firmware', 'rollout', '0.9.0', '--station', 'fw-1', '--by', 'S-ICT')).code).toBe(0);
      await eventually(() => withdrawing, 30_000, 'the transfer to start');
      expect(await withdrawing).toEqual({ withdrawn: ['fw-1'], kept: [] });
      const station = simulated.get('fw-1')!;
      await eventually(async () => (await harness.hub.firmware.aborts()).length === 0 && station.storage.read(FW_NEW) === undefined, 30_000, 'fw-1 to erase the part it held');
    } finally {
      harness.hub.link.off('firmware-progress', watch);
    }
    expect(mostSent).toBeLessThan(total);
    expect(running('fw-1')).toBe('0.4.0');
    expect(await stateOf('fw-1')).toBeUndefined();
    const trail = await harness.hub.db.all<{ action: string; details: string }>("SELECT action, details FROM audit_log WHERE subject = 'station:fw-1' ORDER BY seq");
    expect(trail.at(-1)).toMatchObject({ action: 'firmware.aborted' });
    expect(trail.filter((row) => row.action === 'firmware.switched' && JSON.parse(row.details).version === '0.9.0')).toEqual([]);
  }, 90_000);

  it('a refusal reads as a sentence on the page and the command line, never a code', async () => {
    expect((await cli.handover('firmware', 'upload', bundleFile('0.2.0'), '--by', 'S-ICT')).code).toBe(0);
    expect((await cli.handover('firmware', 'rollout', '0.2.0', '--station', 'fw-2', '--by', 'S-ICT')).code).toBe(0);
    await reaches('fw-2', 'refused');
    const page = await harness.getPage('/stations');
    const row = /<tr data-firmware-row="fw-2">[\s\S]*?<\/tr>/.exec(page.text)![0];
    expect(row).toMatch(/Refused\. The station already runs this version or a newer one\. To go back to an older version, roll it out as a rollback\./);
    expect(page.text).not.toMatch(/older-version|no-room|firmware-signature|update-pending|bad-argument/);
    const status = await cli.handover('firmware', 'status');
    expect(status.stdout).toMatch(/fw-2\t0\.2\.0\trefused\tThe station already runs this version or a newer one\./);
    expect(running('fw-2')).toBe('0.6.0');
  }, 60_000);

  it('a confirmation window out of bounds is refused with the setting named', async () => {
    for (const [seconds, why] of [['10', /at least 60 seconds/], ['7200', /at most 3600 seconds/], ['2.5', /a whole number of seconds/]] as const) {
      process.env.HANDOVER_FIRMWARE_CONFIRM_SECONDS = seconds;
      try {
        const run = await cli.handover('firmware', 'status');
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(/HANDOVER_FIRMWARE_CONFIRM_SECONDS/);
        expect(run.stderr).toMatch(why);
      } finally {
        delete process.env.HANDOVER_FIRMWARE_CONFIRM_SECONDS;
      }
    }
  }, 60_000);

  it('withdrawn from the Stations page: a Withdraw button on a waiting update, and the station erases what it holds', async () => {
    expect((await cli.handover('firmware', 'pause', '--by', 'S-ICT')).code).toBe(0);
    expect((await cli.handover('firmware', 'rollout', '0.9.0', '--station', 'fw-2', '--by', 'S-ICT')).code).toBe(0);
    const before = await harness.getPage('/stations');
    const row = /<tr data-firmware-row="fw-2">[\s\S]*?<\/tr>/.exec(before.text)![0];
    expect(row).toMatch(/<form method="post" action="\/stations\/firmware\/withdraw[^"]*">/);
    expect(row).toMatch(/aria-label="Withdraw firmware 0\.9\.0 from fw-2"/);
    const posted = await harness.postForm('/stations/firmware/withdraw', { station: 'fw-2' });
    expect(posted).toMatchObject({ status: 303, location: '/stations#firmware' });
    const after = await harness.getPage('/stations');
    expect(after.text).toMatch(/Firmware withdrawn from fw-2: the station erases the part it holds when it is next online\./);
    expect(await stateOf('fw-2')).toBeUndefined();
    // Paused or not, the station is told to erase what it holds (nothing new is sent).
    await eventually(async () => (await harness.hub.firmware.aborts()).length === 0, 20_000, 'the abort sent to fw-2');
    expect(simulated.get('fw-2')!.storage.read(FW_NEW)).toBeUndefined();
    // Nothing left to withdraw: refused as a rule, not a fault.
    expect((await harness.postForm('/stations/firmware/withdraw', { station: 'fw-2' })).status).toBe(422);
    expect((await cli.handover('firmware', 'resume', '--by', 'S-ICT')).code).toBe(0);
    expect(running('fw-2')).toBe('0.6.0');
  }, 60_000);

  it('a station restarting into an update is not given another (it would go back by itself, unconfirmed): refused by name, skipped by a stage', async () => {
    expect((await cli.handover('firmware', 'upload', bundleFile('1.0.0'), '--by', 'S-ICT')).code).toBe(0);
    expect((await cli.handover('firmware', 'upload', bundleFile('1.1.0'), '--by', 'S-ICT')).code).toBe(0);
    const rollout = harness.hub.firmwareRollout;
    rollout.options.confirmSec = 120; // an earlier test shortened it to 3 s
    expect((await cli.handover('firmware', 'rollout', '1.0.0', '--station', 'fw-1', '--by', 'S-ICT')).code).toBe(0);
    try {
      await reaches('fw-1', 'switched');
      // The hub holds off (as a hub that is not the leader does) so the station stays mid-switch: running 1.0.0, unconfirmed.
      rollout.leading = () => false;
      await eventually(() => running('fw-1') === '1.0.0', 20_000, 'fw-1 restarted into 1.0.0');
      expect(await stateOf('fw-1')).toBe('switched');
      const named = await cli.handover('firmware', 'rollout', '1.1.0', '--station', 'fw-1', '--by', 'S-ICT');
      expect(named.code).toBe(1);
      expect(named.stderr).toMatch(/fw-1 is restarting into 1\.0\.0/);
      const staged = await cli.handover('firmware', 'rollout', '1.1.0', '--stage', 'all', '--by', 'S-ICT');
      expect(staged.code).toBe(0);
      expect(staged.stdout).toMatch(/to fw-2, fw-3:/);
      expect(await stateOf('fw-1')).toBe('switched');
    } finally {
      rollout.leading = () => true;
    }
    // Its switch is confirmed as before: it keeps 1.0.0 (nothing goes back by itself).
    await reaches('fw-1', 'done');
    expect(running('fw-1')).toBe('1.0.0');
    await reaches('fw-2', 'done', 60_000);
    await reaches('fw-3', 'done', 60_000);
    expect((await cli.handover('firmware', 'rollout', '1.1.0', '--station', 'fw-1', '--by', 'S-ICT')).code).toBe(0);
    await reaches('fw-1', 'done', 60_000);
    expect(running('fw-1')).toBe('1.1.0');
    expect(simulated.get('fw-1')!.storage.read(FW_BOOT)).toBeUndefined();
  }, 180_000);

  it('rolled out from the Stations page to one station chosen by name; an unknown one is refused', async () => {
    expect((await cli.handover('firmware', 'upload', bundleFile('1.2.0'), '--by', 'S-ICT')).code).toBe(0);
    const page = await harness.getPage('/stations');
    expect(page.text).toMatch(/<option value="station:fw-3">station fw-3<\/option>/);
    expect((await harness.postForm('/stations/firmware/rollout', { version: '1.2.0', stage: 'station:nowhere' })).status).toBe(422);
    const posted = await harness.postForm('/stations/firmware/rollout', { version: '1.2.0', stage: 'station:fw-3' });
    expect(posted).toMatchObject({ status: 303, location: '/stations#firmware' });
    expect((await harness.getPage('/stations')).text).toMatch(/Firmware 1\.2\.0 goes to fw-3 while each is online\./);
    const targets = (await harness.hub.firmware.targets()).filter((target) => target.version === '1.2.0');
    expect(targets.map((target) => target.station_id)).toEqual(['fw-3']);
    await reaches('fw-3', 'done', 60_000);
    expect(running('fw-3')).toBe('1.2.0');
    expect(running('fw-2')).toBe('1.1.0');
  }, 120_000);
});
