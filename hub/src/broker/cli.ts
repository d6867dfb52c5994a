// `handover broker …`: the broker's credentials from the command line. Read-only accounts for Home
// Assistant, and Mosquitto's password, ACL and configuration files for a school that runs Mosquitto.
import { parseArgs } from 'node:util';
import { AuditTrail } from '../audit/trail';
import { openDatabase } from '../db/open';
import type { SqlDatabase } from '../db/sql';
import { loadSettings, type Settings } from '../settings';
import { BrokerAccounts } from './accounts';
import { setHubNames, writeMosquittoFiles } from './mosquitto-files';
import { operatorLabel } from '../cli/operator';

export const BROKER_USAGE = `  broker account add <name>      a read-only broker account (for Home Assistant); prints its password once
  broker account remove <name>, broker account list
  broker mosquitto-config [--dir DIR] [--hubs NAME,NAME…]
                                 writes Mosquitto's password, ACL and configuration files for the
                                 registered stations, the hub and the broker accounts into DIR
                                 (default HANDOVER_MOSQUITTO_DIR); station add keeps them current;
                                 --hubs: the HANDOVER_HUB_NAME of each of several hubs (kept)`;

export class BrokerUsageError extends Error {}

/** Rewrites the Mosquitto files when HANDOVER_MOSQUITTO_DIR names where they live (after a station or account is added). */
export async function refreshMosquittoFiles(db: SqlDatabase, settings: Settings): Promise<void> {
  if (!settings.mosquittoDir) return;
  const files = await writeMosquittoFiles(db, settings, settings.mosquittoDir);
  console.error(`Mosquitto files updated in ${files.dir} (${files.users} users): reload Mosquitto to use them (systemctl reload mosquitto, or kill -HUP its process)`);
}

export async function brokerCommand(args: string[]): Promise<void> {
  const [what, ...rest] = args;
  const settings = loadSettings();
  const { db } = await openDatabase(settings);
  try {
    const accounts = new BrokerAccounts(db, new AuditTrail(db));
    if (what === 'account') {
      const [action, name] = rest;
      if (action === 'list') {
        const rows = await accounts.list();
        if (rows.length === 0) console.log('no broker accounts (make one for Home Assistant with: handover broker account add homeassistant)');
        for (const row of rows) console.log(`${row.username}\tread-only\tmade ${row.created_at}`);
        return;
      }
      if ((action !== 'add' && action !== 'remove') || !name) throw new BrokerUsageError('broker account needs add <name>, remove <name> or list');
      if (action === 'add') {
        const password = await accounts.add(name, operatorLabel());
        console.log(`broker account ${name} (read-only: station status, the hub's Home Assistant state and discovery)`);
        console.log(`user name: ${name}`);
        console.log(`password:  ${password}`);
        console.log('The password is shown only this once: enter it in Home Assistant\'s MQTT integration now.');
      } else {
        await accounts.remove(name, operatorLabel());
        console.log(`broker account ${name} removed (connections already open stay until they reconnect)`);
      }
      await refreshMosquittoFiles(db, settings);
      return;
    }
    if (what === 'mosquitto-config') {
      const { values } = parseArgs({ args: rest, options: { dir: { type: 'string' }, hubs: { type: 'string' } } });
      if (values.hubs !== undefined) await setHubNames(db, values.hubs.split(',').map((name) => name.trim()).filter(Boolean));
      const dir = values.dir ?? settings.mosquittoDir;
      if (!dir) throw new BrokerUsageError('broker mosquitto-config needs --dir DIR or HANDOVER_MOSQUITTO_DIR');
      const files = await writeMosquittoFiles(db, settings, dir);
      console.log(`wrote ${files.configFile}, ${files.passwordFile} (${files.users} users) and ${files.aclFile}`);
      console.log(`Mosquitto reads ${files.configFile} when it is in an include_dir (Debian: /etc/mosquitto/conf.d), or run: mosquitto -c ${files.configFile}`);
      if (!settings.mosquittoDir) console.log(`Set HANDOVER_MOSQUITTO_DIR=${dir} for the hub's commands so station add keeps these files current.`);
      return;
    }
    throw new BrokerUsageError(`unknown broker command ${JSON.stringify(args.join(' '))}`);
  } finally {
    await db.close();
  }
}
