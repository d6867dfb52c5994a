// Hub settings: defaults that run with nothing installed, overridden by environment variables.
// Every bad value is reported with the variable's name and what was wrong.
import path from 'node:path';
import { z } from 'zod';
import { EMBEDDED_BROKER_MAX_STATIONS } from './broker/embedded-limit';
import { LOG_FORMATS, LOG_LEVELS } from './log';

const SettingsSchema = z.object({
  dataDir: z.string().min(1),
  /** PostgreSQL connection URL; when unset the hub keeps its records in SQLite under dataDir. */
  databaseUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')
    .nullable(),
  site: z.string().regex(/^[a-z0-9-]+$/, 'lower-case letters, digits and dashes'),
  mqttHost: z.string().min(1),
  mqttPort: z.number().int().min(0).max(65535),
  /** Run the embedded broker (aedes) on mqttPort; off when an external broker such as Mosquitto is used. */
  embeddedBroker: z.boolean(),
  /** The most stations the embedded broker is started for: more, and the hub refuses (broker/embedded-limit.ts). */
  embeddedBrokerMaxStations: z.number().int().min(1),
  httpHost: z.string().min(1),
  httpPort: z.number().int().min(0).max(65535),
  /** End of the school day, hub local time: phones still in a locker then are uncollected (P1, P13). */
  dayCutoff: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'HH:MM, 24-hour'),
  /** Days an uncollected phone is kept before it is due for disposal: one term (P13). */
  lostPropertyDays: z.number().int().min(1).max(366),
  /** Days after leaving (or after a record closes) that personal records are kept before `purge` (P16). */
  retentionDays: z.number().int().min(30).max(36500),
  /** Most events the ingest commits in one transaction. */
  ingestBatch: z.number().int().min(1).max(5000),
  /** Home Assistant's MQTT discovery prefix; an empty string turns discovery off. */
  homeAssistantPrefix: z.string().regex(/^[a-zA-Z0-9_/-]*$/, 'letters, digits, _, - and /'),
  /**
   * The reverse proxy in front of the office page, if any: its X-Forwarded-For and
   * X-Forwarded-Proto are then believed (sign-in limits per real client address; the session
   * cookie marked Secure when the client came over HTTPS). false: no proxy, believe nobody;
   * true: any sender (only when the hub is reachable through the proxy alone); or the proxy's
   * addresses or CIDR ranges.
   */
  trustProxy: z.union([z.boolean(), z.array(z.string().regex(/^[0-9a-fA-F.:]+(\/\d{1,3})?$/, 'true, false, or IP addresses or CIDR ranges separated by commas')).min(1)]),
  /** The hub connects to an external broker over TLS (mqtts://), trusting mqttTlsCa. */
  mqttTls: z.boolean(),
  /** PEM file of the CA that signed the broker's certificate: the hub trusts it, `station add --tls` pins it on the station. */
  mqttTlsCa: z.string().min(1).nullable(),
  /** PEM files of the embedded broker's certificate and private key: with both, it also listens over TLS on mqttTlsPort. */
  mqttTlsCert: z.string().min(1).nullable(),
  mqttTlsKey: z.string().min(1).nullable(),
  mqttTlsPort: z.number().int().min(0).max(65535),
  /** Where `handover broker mosquitto-config` writes Mosquitto's password and ACL files, kept current by `station add`. */
  mosquittoDir: z.string().min(1).nullable(),
  /**
   * This hub process's name when several hubs share one PostgreSQL and one external broker
   * (cluster/): unique per process; unset, the hub runs alone as it always has.
   */
  hubName: z.string().regex(/^[a-z0-9]{1,16}$/, 'lower-case letters and digits, at most 16').nullable(),
  /** Tests only: the ingest holds each received batch this long before committing it (0: never). */
  testCommitDelayMs: z.number().int().min(0).max(60_000),
  /**
   * PostgreSQL: the URL of the role that owns the tables, used only to migrate (and grant the
   * hub's role what it needs); the hub then works as DATABASE_URL's role, which cannot drop or
   * disable the append-only and anchoring triggers. Unset: DATABASE_URL migrates too.
   */
  databaseOwnerUrl: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'a postgres:// or postgresql:// URL')
    .nullable(),
  /** The audit checkpoints' HMAC key, 64 hex digits; unset: the key file audit.key in dataDir (0600). */
  auditKey: z
    .string()
    .regex(/^[0-9a-fA-F]{64}$/, '64 hex digits')
    .nullable(),
  /** Where checkpoints are exported (a file the office copies elsewhere); unset: dataDir/audit-checkpoints.jsonl. */
  checkpointFile: z.string().min(1).nullable(),
  /** Minutes between the running hub's audit checkpoints. */
  checkpointMinutes: z.number().int().min(1).max(10_080),
  /** Least level of the hub's log (log.ts). */
  logLevel: z.enum(LOG_LEVELS, `one of ${LOG_LEVELS.join(', ')}`),
  /** How the log is written: pretty (for a terminal) or json (one object a line). */
  logFormat: z.enum(LOG_FORMATS, `one of ${LOG_FORMATS.join(', ')}`),
  /** SMTP server for e-mail notifications; unset: no e-mail is sent (nor recorded). */
  smtpHost: z.string().min(1).nullable(),
  smtpPort: z.number().int().min(1).max(65535),
  /** 'starttls' (upgrade, required), 'tls' (implicit TLS, usually port 465) or 'none' (a relay on a closed network). */
  smtpTls: z.enum(['starttls', 'tls', 'none']),
  /** PEM file of a CA to trust for the SMTP server's certificate (a school's own CA); unset: the system's. */
  smtpTlsCa: z.string().min(1).nullable(),
  smtpUser: z.string().min(1).nullable(),
  smtpPassword: z.string().min(1).nullable(),
  /** The From address, e.g. "Handover <handover@school.example>". */
  smtpFrom: z.string().min(3).nullable(),
  /** Seconds before the first retry of a failed send; each further retry waits twice as long (up to 6 hours). */
  smtpRetrySeconds: z.number().int().min(1).max(3600),
  /** The office page's address as staff open it (e.g. https://handover.school.example), for links in e-mails; unset: e-mails name the page without a link. */
  /**
   * Seconds a station gives new firmware to come online and be confirmed by the hub before it goes
   * back to the firmware it ran (sent in the signed FIRMWARE_COMMIT). Long enough for a restart,
   * Wi-Fi and the broker; at most an hour (the station takes no more).
   */
  firmwareConfirmSeconds: z.number({ error: 'a whole number of seconds' }).int('a whole number of seconds').min(60, 'at least 60 seconds: new firmware needs time to restart and reach the hub').max(3600, 'at most 3600 seconds (an hour): a station takes no longer'),
  officeUrl: z.string().regex(/^https?:\/\/[^\s/]+(\/[^\s]*)?$/, 'an http:// or https:// address').nullable(),
});

export type Settings = z.infer<typeof SettingsSchema>;

/** Which environment variable each setting comes from, for error messages. */
export const SETTING_VARIABLES: Record<keyof Settings, string> = {
  dataDir: 'HANDOVER_DATA_DIR',
  databaseUrl: 'DATABASE_URL',
  site: 'HANDOVER_SITE',
  mqttHost: 'HANDOVER_MQTT_HOST',
  mqttPort: 'HANDOVER_MQTT_PORT',
  embeddedBroker: 'HANDOVER_EMBEDDED_BROKER',
  embeddedBrokerMaxStations: 'HANDOVER_EMBEDDED_BROKER_MAX_STATIONS',
  httpHost: 'HANDOVER_HTTP_HOST',
  httpPort: 'HANDOVER_HTTP_PORT',
  dayCutoff: 'HANDOVER_DAY_CUTOFF',
  lostPropertyDays: 'HANDOVER_LOST_PROPERTY_DAYS',
  retentionDays: 'HANDOVER_RETENTION_DAYS',
  ingestBatch: 'HANDOVER_INGEST_BATCH',
  homeAssistantPrefix: 'HANDOVER_HA_PREFIX',
  trustProxy: 'HANDOVER_TRUST_PROXY',
  testCommitDelayMs: 'HANDOVER_TEST_COMMIT_DELAY_MS',
  hubName: 'HANDOVER_HUB_NAME',
  mqttTls: 'HANDOVER_MQTT_TLS',
  mqttTlsCa: 'HANDOVER_MQTT_TLS_CA',
  mqttTlsCert: 'HANDOVER_MQTT_TLS_CERT',
  mqttTlsKey: 'HANDOVER_MQTT_TLS_KEY',
  mqttTlsPort: 'HANDOVER_MQTT_TLS_PORT',
  mosquittoDir: 'HANDOVER_MOSQUITTO_DIR',
  databaseOwnerUrl: 'DATABASE_OWNER_URL',
  auditKey: 'HANDOVER_AUDIT_KEY',
  checkpointFile: 'HANDOVER_CHECKPOINT_FILE',
  checkpointMinutes: 'HANDOVER_CHECKPOINT_MINUTES',
  logLevel: 'HANDOVER_LOG_LEVEL',
  logFormat: 'HANDOVER_LOG_FORMAT',
  smtpHost: 'HANDOVER_SMTP_HOST',
  smtpPort: 'HANDOVER_SMTP_PORT',
  smtpTls: 'HANDOVER_SMTP_TLS',
  smtpTlsCa: 'HANDOVER_SMTP_TLS_CA',
  smtpUser: 'HANDOVER_SMTP_USER',
  smtpPassword: 'HANDOVER_SMTP_PASSWORD',
  smtpFrom: 'HANDOVER_SMTP_FROM',
  smtpRetrySeconds: 'HANDOVER_SMTP_RETRY_SECONDS',
  officeUrl: 'HANDOVER_OFFICE_URL',
  firmwareConfirmSeconds: 'HANDOVER_FIRMWARE_CONFIRM_SECONDS',
};

/** HANDOVER_TRUST_PROXY: unset, `false` or empty -> false; `true` -> true; else a comma-separated list of addresses. */
function trustProxyFrom(value: string | undefined): boolean | string[] {
  const text = (value ?? '').trim();
  if (text === '' || text.toLowerCase() === 'false') return false;
  if (text.toLowerCase() === 'true') return true;
  return text.split(',').map((part) => part.trim());
}

function pathOrNull(value: string | undefined): string | null {
  return value ? path.resolve(value) : null;
}

function intFrom(value: string | undefined, fallback: number): number {
  if (value === undefined || value === '') return fallback;
  const parsed = Number(value);
  return Number.isInteger(parsed) ? parsed : NaN;
}

/** Reads HANDOVER_* variables and DATABASE_URL; every bad value is reported with its name. */
export function loadSettings(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Settings> = {}): Settings {
  const candidate = {
    dataDir: path.resolve(env.HANDOVER_DATA_DIR ?? 'data'),
    databaseUrl: env.DATABASE_URL ? env.DATABASE_URL : null,
    site: env.HANDOVER_SITE ?? 'demo',
    mqttHost: env.HANDOVER_MQTT_HOST ?? '127.0.0.1',
    mqttPort: intFrom(env.HANDOVER_MQTT_PORT, 1883),
    embeddedBroker: (env.HANDOVER_EMBEDDED_BROKER ?? 'true') !== 'false',
    embeddedBrokerMaxStations: intFrom(env.HANDOVER_EMBEDDED_BROKER_MAX_STATIONS, EMBEDDED_BROKER_MAX_STATIONS),
    httpHost: env.HANDOVER_HTTP_HOST ?? '127.0.0.1',
    httpPort: intFrom(env.HANDOVER_HTTP_PORT, 8080),
    homeAssistantPrefix: env.HANDOVER_HA_PREFIX ?? 'homeassistant',
    dayCutoff: env.HANDOVER_DAY_CUTOFF ?? '16:00',
    lostPropertyDays: intFrom(env.HANDOVER_LOST_PROPERTY_DAYS, 91),
    retentionDays: intFrom(env.HANDOVER_RETENTION_DAYS, 730),
    ingestBatch: intFrom(env.HANDOVER_INGEST_BATCH, 500),
    trustProxy: trustProxyFrom(env.HANDOVER_TRUST_PROXY),
    testCommitDelayMs: intFrom(env.HANDOVER_TEST_COMMIT_DELAY_MS, 0),
    hubName: env.HANDOVER_HUB_NAME ? env.HANDOVER_HUB_NAME : null,
    mqttTls: (env.HANDOVER_MQTT_TLS ?? 'false') === 'true',
    mqttTlsCa: pathOrNull(env.HANDOVER_MQTT_TLS_CA),
    mqttTlsCert: pathOrNull(env.HANDOVER_MQTT_TLS_CERT),
    mqttTlsKey: pathOrNull(env.HANDOVER_MQTT_TLS_KEY),
    mqttTlsPort: intFrom(env.HANDOVER_MQTT_TLS_PORT, 8883),
    mosquittoDir: pathOrNull(env.HANDOVER_MOSQUITTO_DIR),
    databaseOwnerUrl: env.DATABASE_OWNER_URL ? env.DATABASE_OWNER_URL : null,
    auditKey: env.HANDOVER_AUDIT_KEY ? env.HANDOVER_AUDIT_KEY : null,
    checkpointFile: env.HANDOVER_CHECKPOINT_FILE ? path.resolve(env.HANDOVER_CHECKPOINT_FILE) : null,
    checkpointMinutes: intFrom(env.HANDOVER_CHECKPOINT_MINUTES, 60),
    logLevel: env.HANDOVER_LOG_LEVEL || 'info',
    // Readable on a terminal; one JSON object a line when the output goes to a file or a service manager.
    logFormat: env.HANDOVER_LOG_FORMAT || (process.stdout.isTTY ? 'pretty' : 'json'),
    smtpHost: env.HANDOVER_SMTP_HOST ? env.HANDOVER_SMTP_HOST : null,
    smtpPort: intFrom(env.HANDOVER_SMTP_PORT, env.HANDOVER_SMTP_TLS === 'tls' ? 465 : 587),
    smtpTls: (env.HANDOVER_SMTP_TLS ?? 'starttls') as Settings['smtpTls'],
    smtpTlsCa: pathOrNull(env.HANDOVER_SMTP_TLS_CA),
    smtpUser: env.HANDOVER_SMTP_USER ? env.HANDOVER_SMTP_USER : null,
    smtpPassword: env.HANDOVER_SMTP_PASSWORD ? env.HANDOVER_SMTP_PASSWORD : null,
    smtpFrom: env.HANDOVER_SMTP_FROM ? env.HANDOVER_SMTP_FROM : null,
    smtpRetrySeconds: intFrom(env.HANDOVER_SMTP_RETRY_SECONDS, 60),
    firmwareConfirmSeconds: intFrom(env.HANDOVER_FIRMWARE_CONFIRM_SECONDS, 300),
    officeUrl: env.HANDOVER_OFFICE_URL ? env.HANDOVER_OFFICE_URL.replace(/\/+$/, '') : null,
    ...overrides,
  };
  const parsed = SettingsSchema.superRefine((settings, context) => {
    if (!settings.mqttTlsCert !== !settings.mqttTlsKey) {
      const missing = settings.mqttTlsCert ? 'mqttTlsKey' : 'mqttTlsCert';
      context.addIssue({ code: z.ZodIssueCode.custom, path: [missing], message: 'the broker certificate and its key go together: set both or neither' });
    }
    // Several hubs share the stations' events through the broker's shared subscriptions (the
    // embedded broker has none) and their records through PostgreSQL (a SQLite file is one process's).
    if (settings.hubName && settings.embeddedBroker) context.addIssue({ code: z.ZodIssueCode.custom, path: ['hubName'], message: 'several hubs need an external broker with shared subscriptions (Mosquitto 2): set HANDOVER_EMBEDDED_BROKER=false' });
    if (settings.hubName && !settings.databaseUrl) context.addIssue({ code: z.ZodIssueCode.custom, path: ['hubName'], message: 'several hubs need PostgreSQL: set DATABASE_URL' });
    if (settings.smtpHost && !settings.smtpFrom) context.addIssue({ code: z.ZodIssueCode.custom, path: ['smtpFrom'], message: 'e-mail needs a sender address when HANDOVER_SMTP_HOST is set' });
    if (!settings.smtpUser !== !settings.smtpPassword) context.addIssue({ code: z.ZodIssueCode.custom, path: [settings.smtpUser ? 'smtpPassword' : 'smtpUser'], message: 'the SMTP user and password go together: set both or neither' });
  }).safeParse(candidate);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const key = issue.path[0] as keyof Settings;
      return `${SETTING_VARIABLES[key] ?? issue.path.join('.')} (${issue.path.join('.')}): ${issue.message}`;
    });
    throw new Error(`bad settings: ${problems.join('; ')}`);
  }
  return parsed.data;
}
