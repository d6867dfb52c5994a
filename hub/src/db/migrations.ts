// The schema, as numbered steps. Each step runs once, in order, inside a transaction; the number
// of steps applied is kept in schema_migrations. Never edit a released step: add a new one.
//
// Steps are written in SQLite's dialect and translated for PostgreSQL by `forDialect`
// (INTEGER PRIMARY KEY -> identity, INTEGER -> BIGINT, BLOB -> BYTEA). A step that cannot be
// written portably (triggers) gives one text per dialect.
import { postgresAnchorMigration, postgresAnchorMigration11, postgresAnchorMigration18, REANCHOR_DETAIL } from '../audit/anchors';
import type { SqlDatabase } from './sql';

export type MigrationStep = string | { sqlite: string; postgres: string };

export const MIGRATIONS: MigrationStep[] = [
  // 1: people, badges, stations and the raw event log with phone custody.
  `
  CREATE TABLE hub_secrets (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
  );
  CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    external_id TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('pupil', 'staff')),
    role TEXT NOT NULL,
    form TEXT,
    medical_exempt INTEGER NOT NULL DEFAULT 0,
    left_on TEXT
  );
  CREATE TABLE badges (
    hash BLOB PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    enrolled_at TEXT NOT NULL,
    revoked_at TEXT
  );
  CREATE TABLE stations (
    id TEXT PRIMARY KEY,
    site TEXT NOT NULL,
    lockers INTEGER NOT NULL,
    station_key TEXT NOT NULL,
    status TEXT NOT NULL DEFAULT 'unknown',
    last_seen TEXT
  );
  CREATE TABLE station_events (
    station_id TEXT NOT NULL,
    boot INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    type INTEGER NOT NULL,
    locker INTEGER,
    person_id INTEGER,
    badge_hash BLOB,
    detail TEXT,
    uptime_ms INTEGER NOT NULL,
    received_at TEXT NOT NULL,
    PRIMARY KEY (station_id, boot, seq)
  );
  CREATE TABLE lockers (
    station_id TEXT NOT NULL,
    locker INTEGER NOT NULL,
    state TEXT NOT NULL,
    person_id INTEGER,
    since TEXT NOT NULL,
    PRIMARY KEY (station_id, locker)
  );
  CREATE TABLE phone_custody (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    station_id TEXT NOT NULL,
    locker INTEGER NOT NULL,
    deposited_at TEXT NOT NULL,
    collected_at TEXT,
    deposit_boot INTEGER NOT NULL,
    deposit_seq INTEGER NOT NULL
  );
  CREATE INDEX phone_custody_open ON phone_custody (person_id) WHERE collected_at IS NULL;
  `,
  // 2: per station boot, the highest sequence number up to which every event is stored: what the
  // hub acknowledges, so the station can erase its journal up to there.
  `
  CREATE TABLE station_boots (
    station_id TEXT NOT NULL,
    boot INTEGER NOT NULL,
    committed_seq INTEGER NOT NULL,
    PRIMARY KEY (station_id, boot)
  );
  ALTER TABLE station_events ADD COLUMN actor_id INTEGER;
  ALTER TABLE station_events ADD COLUMN witness_id INTEGER;
  ALTER TABLE station_events ADD COLUMN wall_time INTEGER;
  `,
  // 3: the office's records (issue 5): people details, asset classes with their price lists,
  // assets, loans, holds, medical exemptions, the charges ledger, alerts, lost property on phone
  // custody, and the hash-chained audit trail.
  `
  ALTER TABLE people ADD COLUMN year_group TEXT;
  ALTER TABLE people ADD COLUMN staff_code TEXT;
  ALTER TABLE people ADD COLUMN email TEXT;
  ALTER TABLE people ADD COLUMN source TEXT;
  ALTER TABLE people ADD COLUMN updated_at TEXT;
  ALTER TABLE people ADD COLUMN purged_at TEXT;
  CREATE INDEX people_staff_code ON people (staff_code);

  CREATE TABLE asset_classes (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    code INTEGER NOT NULL UNIQUE CHECK (code BETWEEN 1 AND 8),
    requires_encryption INTEGER NOT NULL,
    replacement_pence INTEGER NOT NULL CHECK (replacement_pence >= 0),
    loan_days INTEGER NOT NULL CHECK (loan_days >= 1),
    health_check_days INTEGER,
    borrower_roles TEXT NOT NULL
  );
  INSERT INTO asset_classes (id, name, code, requires_encryption, replacement_pence, loan_days, health_check_days, borrower_roles)
    VALUES ('usb-stick', 'Encrypted USB stick', 1, 1, 1000, 1, NULL, 'staff,headteacher,deputy,dsl,ict,office');
  INSERT INTO asset_classes (id, name, code, requires_encryption, replacement_pence, loan_days, health_check_days, borrower_roles)
    VALUES ('laptop', 'Laptop', 2, 0, 0, 14, 90, 'staff,headteacher,deputy,dsl,ict,office');
  CREATE TABLE price_list (
    class_id TEXT NOT NULL REFERENCES asset_classes(id),
    item TEXT NOT NULL,
    pence INTEGER NOT NULL CHECK (pence >= 0),
    PRIMARY KEY (class_id, item)
  );
  INSERT INTO price_list (class_id, item, pence) VALUES ('usb-stick', 'damaged', 1000);

  CREATE TABLE assets (
    id INTEGER PRIMARY KEY,
    tag TEXT NOT NULL UNIQUE,
    serial TEXT,
    class_id TEXT NOT NULL REFERENCES asset_classes(id),
    model TEXT,
    encryption TEXT,
    replacement_pence INTEGER,
    health_check_days INTEGER,
    last_health_check TEXT,
    tag_hash BLOB,
    home_station TEXT,
    home_locker INTEGER,
    status TEXT NOT NULL DEFAULT 'available',
    external_ref TEXT,
    registered_at TEXT NOT NULL,
    updated_at TEXT
  );
  CREATE UNIQUE INDEX assets_home ON assets (home_station, home_locker);

  CREATE TABLE loans (
    id INTEGER PRIMARY KEY,
    asset_id INTEGER NOT NULL REFERENCES assets(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    lent_at TEXT NOT NULL,
    due_at TEXT NOT NULL,
    station_id TEXT,
    locker INTEGER,
    lend_boot INTEGER,
    lend_seq INTEGER,
    closed_at TEXT,
    outcome TEXT,
    closed_by INTEGER,
    return_boot INTEGER,
    return_seq INTEGER,
    crime_number TEXT,
    declaration TEXT,
    found_at TEXT
  );
  CREATE INDEX loans_open ON loans (asset_id) WHERE closed_at IS NULL;
  CREATE INDEX loans_person ON loans (person_id);

  CREATE TABLE holds (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('confiscation', 'safeguarding', 'health-check')),
    person_id INTEGER,
    asset_id INTEGER,
    station_id TEXT NOT NULL,
    locker INTEGER NOT NULL,
    placed_at TEXT NOT NULL,
    placed_by INTEGER,
    details TEXT,
    released_at TEXT,
    released_by INTEGER,
    witness_id INTEGER,
    receipt TEXT,
    set_boot INTEGER,
    set_seq INTEGER,
    release_boot INTEGER,
    release_seq INTEGER
  );
  CREATE INDEX holds_open ON holds (station_id, locker) WHERE released_at IS NULL;
  CREATE INDEX holds_person ON holds (person_id);

  CREATE TABLE medical_exemptions (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    reference TEXT NOT NULL,
    review_on TEXT NOT NULL,
    granted_at TEXT NOT NULL,
    granted_by INTEGER,
    ended_at TEXT,
    ended_by INTEGER
  );
  CREATE INDEX medical_exemptions_person ON medical_exemptions (person_id);

  CREATE TABLE charges (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    entry TEXT NOT NULL CHECK (entry IN ('charge', 'reversal', 'waiver')),
    amount_pence INTEGER NOT NULL,
    reason TEXT NOT NULL,
    asset_id INTEGER REFERENCES assets(id),
    loan_id INTEGER REFERENCES loans(id),
    corrects_id INTEGER REFERENCES charges(id),
    term TEXT NOT NULL,
    created_at TEXT NOT NULL,
    created_by INTEGER
  );
  CREATE INDEX charges_person ON charges (person_id);
  CREATE INDEX charges_corrects ON charges (corrects_id);

  CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    kind TEXT NOT NULL,
    role TEXT NOT NULL,
    subject TEXT NOT NULL,
    message TEXT NOT NULL,
    acknowledged_at TEXT,
    acknowledged_by INTEGER
  );

  ALTER TABLE phone_custody ADD COLUMN collected_by INTEGER;
  ALTER TABLE phone_custody ADD COLUMN uncollected_at TEXT;
  ALTER TABLE phone_custody ADD COLUMN disposal_due_at TEXT;
  ALTER TABLE phone_custody ADD COLUMN disposed_at TEXT;
  ALTER TABLE phone_custody ADD COLUMN disposed_by INTEGER;
  ALTER TABLE phone_custody ADD COLUMN disposal_note TEXT;
  CREATE INDEX phone_custody_locker ON phone_custody (station_id, locker) WHERE collected_at IS NULL;
  CREATE INDEX station_events_person ON station_events (person_id);

  CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT,
    person_id INTEGER,
    details TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL
  );
  CREATE INDEX audit_log_person ON audit_log (person_id);
  CREATE TABLE audit_head (
    id INTEGER PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
  );
  INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');
  `,
  // 4: the charges ledger and the audit trail refuse UPDATE and DELETE (P7, P17): corrections
  // are new entries. (Someone with the database file can still drop these; the audit chain
  // shows what they changed.)
  {
    sqlite: `
    CREATE TRIGGER charges_no_update BEFORE UPDATE ON charges BEGIN SELECT RAISE(ABORT, 'charges is append-only: record a reversal or waiver instead'); END;
    CREATE TRIGGER charges_no_delete BEFORE DELETE ON charges BEGIN SELECT RAISE(ABORT, 'charges is append-only: record a reversal or waiver instead'); END;
    CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END;
    `,
    postgres: `
    CREATE FUNCTION handover_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      RAISE EXCEPTION '% is append-only: record a reversal or waiver instead', TG_TABLE_NAME;
    END $$;
    CREATE TRIGGER charges_append_only BEFORE UPDATE OR DELETE ON charges FOR EACH ROW EXECUTE FUNCTION handover_append_only();
    CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log FOR EACH ROW EXECUTE FUNCTION handover_append_only();
    `,
  },
  // 5 (issue 13): the badge list's change counter. Every write that can change what a station's
  // badge list holds (a badge enrolled, moved, revoked or deleted; a person's role, medical
  // exemption or leaving date; which roles may borrow a class) bumps it in the same transaction,
  // whoever makes it: the hub, a command in another process, an import. The hub reads this one row
  // to know whether to rebuild the list, and keeps the version and digest of the list it last
  // built here, so a restarted hub does not send an unchanged list to every station again.
  {
    sqlite: `
    CREATE TABLE badge_list_state (
      id INTEGER PRIMARY KEY CHECK (id = 1),
      revision INTEGER NOT NULL,
      version INTEGER NOT NULL,
      digest TEXT NOT NULL
    );
    INSERT INTO badge_list_state (id, revision, version, digest) VALUES (1, 1, 0, '');
    CREATE TRIGGER badges_changed_insert AFTER INSERT ON badges BEGIN UPDATE badge_list_state SET revision = revision + 1 WHERE id = 1; END;
    CREATE TRIGGER badges_changed_update AFTER UPDATE ON badges BEGIN UPDATE badge_list_state SET revision = revision + 1 WHERE id = 1; END;
    CREATE TRIGGER badges_changed_delete AFTER DELETE ON badges BEGIN UPDATE badge_list_state SET revision = revision + 1 WHERE id = 1; END;
    CREATE TRIGGER people_badges_changed AFTER UPDATE OF role, medical_exempt, left_on ON people
      WHEN OLD.role IS NOT NEW.role OR OLD.medical_exempt IS NOT NEW.medical_exempt OR OLD.left_on IS NOT NEW.left_on
      BEGIN UPDATE badge_list_state SET revision = revision + 1 WHERE id = 1; END;
    CREATE TRIGGER people_deleted_badges_changed AFTER DELETE ON people BEGIN UPDATE badge_list_state SET revision = revision + 1 WHERE id = 1; END;
    CREATE TRIGGER classes_badges_changed AFTER UPDATE OF code, borrower_roles ON asset_classes
      WHEN OLD.code IS NOT NEW.code OR OLD.borrower_roles IS NOT NEW.borrower_roles
      BEGIN UPDATE badge_list_state SET revision = revision + 1 WHERE id = 1; END;
    CREATE TRIGGER classes_added_badges_changed AFTER INSERT ON asset_classes BEGIN UPDATE badge_list_state SET revision = revision + 1 WHERE id = 1; END;
    CREATE TRIGGER classes_deleted_badges_changed AFTER DELETE ON asset_classes BEGIN UPDATE badge_list_state SET revision = revision + 1 WHERE id = 1; END;
    `,
    postgres: `
    CREATE TABLE badge_list_state (
      id BIGINT PRIMARY KEY CHECK (id = 1),
      revision BIGINT NOT NULL,
      version BIGINT NOT NULL,
      digest TEXT NOT NULL
    );
    INSERT INTO badge_list_state (id, revision, version, digest) VALUES (1, 1, 0, '');
    CREATE FUNCTION handover_badge_list_changed() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      UPDATE badge_list_state SET revision = revision + 1 WHERE id = 1;
      RETURN NULL;
    END $$;
    -- Once per statement for badges (an import revokes many in one), once per changed row elsewhere.
    CREATE TRIGGER badges_changed AFTER INSERT OR UPDATE OR DELETE ON badges FOR EACH STATEMENT EXECUTE FUNCTION handover_badge_list_changed();
    CREATE TRIGGER people_badges_changed AFTER UPDATE OF role, medical_exempt, left_on ON people FOR EACH ROW
      WHEN (OLD.role IS DISTINCT FROM NEW.role OR OLD.medical_exempt IS DISTINCT FROM NEW.medical_exempt OR OLD.left_on IS DISTINCT FROM NEW.left_on)
      EXECUTE FUNCTION handover_badge_list_changed();
    CREATE TRIGGER people_deleted_badges_changed AFTER DELETE ON people FOR EACH STATEMENT EXECUTE FUNCTION handover_badge_list_changed();
    CREATE TRIGGER classes_badges_changed AFTER INSERT OR UPDATE OF code, borrower_roles OR DELETE ON asset_classes FOR EACH STATEMENT EXECUTE FUNCTION handover_badge_list_changed();
    `,
  },
  // 6: board identity (issue 13). A station whose Storage is erased (board swapped, re-flashed)
  // counts its boots from 1 again, so events are keyed by (station, board, boot, seq): the board
  // is drawn by the station when its Storage is formatted and carried in every frame. Rows from
  // before, and frames of older firmware, are board 0. stations.board is the board last heard,
  // board_since when it took over from previous_board (a swap the Stations page shows).
  // SQLite cannot change a primary key, so its two tables are rebuilt (every column as of step 5).
  {
    sqlite: `
    ALTER TABLE station_events RENAME TO station_events_before_boards;
    CREATE TABLE station_events (
      station_id TEXT NOT NULL,
      board INTEGER NOT NULL DEFAULT 0,
      boot INTEGER NOT NULL,
      seq INTEGER NOT NULL,
      type INTEGER NOT NULL,
      locker INTEGER,
      person_id INTEGER,
      badge_hash BLOB,
      detail TEXT,
      uptime_ms INTEGER NOT NULL,
      received_at TEXT NOT NULL,
      actor_id INTEGER,
      witness_id INTEGER,
      wall_time INTEGER,
      PRIMARY KEY (station_id, board, boot, seq)
    );
    INSERT INTO station_events (station_id, board, boot, seq, type, locker, person_id, badge_hash, detail, uptime_ms, received_at, actor_id, witness_id, wall_time)
      SELECT station_id, 0, boot, seq, type, locker, person_id, badge_hash, detail, uptime_ms, received_at, actor_id, witness_id, wall_time FROM station_events_before_boards;
    DROP TABLE station_events_before_boards;
    CREATE INDEX station_events_person ON station_events (person_id);
    ALTER TABLE station_boots RENAME TO station_boots_before_boards;
    CREATE TABLE station_boots (
      station_id TEXT NOT NULL,
      board INTEGER NOT NULL DEFAULT 0,
      boot INTEGER NOT NULL,
      committed_seq INTEGER NOT NULL,
      PRIMARY KEY (station_id, board, boot)
    );
    INSERT INTO station_boots (station_id, board, boot, committed_seq) SELECT station_id, 0, boot, committed_seq FROM station_boots_before_boards;
    DROP TABLE station_boots_before_boards;
    ALTER TABLE stations ADD COLUMN board INTEGER;
    ALTER TABLE stations ADD COLUMN board_since TEXT;
    ALTER TABLE stations ADD COLUMN previous_board INTEGER;
    UPDATE stations SET board = 0 WHERE id IN (SELECT DISTINCT station_id FROM station_events);
    `,
    postgres: `
    ALTER TABLE station_events ADD COLUMN board BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE station_events DROP CONSTRAINT station_events_pkey;
    ALTER TABLE station_events ADD PRIMARY KEY (station_id, board, boot, seq);
    ALTER TABLE station_boots ADD COLUMN board BIGINT NOT NULL DEFAULT 0;
    ALTER TABLE station_boots DROP CONSTRAINT station_boots_pkey;
    ALTER TABLE station_boots ADD PRIMARY KEY (station_id, board, boot);
    ALTER TABLE stations ADD COLUMN board BIGINT;
    ALTER TABLE stations ADD COLUMN board_since TEXT;
    ALTER TABLE stations ADD COLUMN previous_board BIGINT;
    UPDATE stations SET board = 0 WHERE id IN (SELECT DISTINCT station_id FROM station_events);
    `,
  },
  // 7: read-only broker accounts (Home Assistant): user name and password hash in Mosquitto's own
  // `$7$` form, so the embedded broker checks it and the Mosquitto password file carries it as is.
  `
  CREATE TABLE broker_accounts (
    username TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created_at TEXT NOT NULL
  );
  `,
  // 8: records anchored in the audit chain (audit/anchors.ts), and keyed checkpoints of the
  // chain's head (audit/checkpoints.ts). On SQLite the anchoring triggers are TEMP objects of the
  // hub's connection, made at open; on PostgreSQL they belong to the tables' owner.
  {
    sqlite: `
    CREATE TABLE audit_checkpoints (seq INTEGER PRIMARY KEY, at TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL);
    `,
    postgres: `
    CREATE TABLE audit_checkpoints (seq BIGINT PRIMARY KEY, at TEXT NOT NULL, hash TEXT NOT NULL, mac TEXT NOT NULL);
    ${postgresAnchorMigration()}
    `,
  },
  // 9: the board the hub last gave its records' locker states to (RESTORE_LOCKERS, once per board:
  // stations/locker-restore.ts), so a restarted hub does not send them again.
  `
  ALTER TABLE stations ADD COLUMN restored_board INTEGER;
  `,
  // 10 (issue 18): station_events.detail held the frame's DETAIL number as TEXT (SQLite kept "16.0");
  // it is an integer, as on the wire. The rows' digests in the audit chain change with it: the
  // hub re-anchors each converted row whose anchor matches its old text (audit/anchors.ts
  // reanchorConverted), so `audit verify` still finds a row edited before the upgrade.
  {
    sqlite: `
    ALTER TABLE station_events RENAME TO station_events_detail_text;
    CREATE TABLE station_events (
      station_id TEXT NOT NULL,
      board INTEGER NOT NULL DEFAULT 0,
      boot INTEGER NOT NULL,
      seq INTEGER NOT NULL,
      type INTEGER NOT NULL,
      locker INTEGER,
      person_id INTEGER,
      badge_hash BLOB,
      detail INTEGER,
      uptime_ms INTEGER NOT NULL,
      received_at TEXT NOT NULL,
      actor_id INTEGER,
      witness_id INTEGER,
      wall_time INTEGER,
      PRIMARY KEY (station_id, board, boot, seq)
    );
    INSERT INTO station_events (station_id, board, boot, seq, type, locker, person_id, badge_hash, detail, uptime_ms, received_at, actor_id, witness_id, wall_time)
      SELECT station_id, board, boot, seq, type, locker, person_id, badge_hash, CAST(CAST(detail AS REAL) AS INTEGER), uptime_ms, received_at, actor_id, witness_id, wall_time FROM station_events_detail_text;
    DROP TABLE station_events_detail_text;
    CREATE INDEX station_events_person ON station_events (person_id);
    INSERT INTO hub_secrets (name, value) VALUES ('${REANCHOR_DETAIL}', 'sqlite');
    `,
    postgres: `
    ALTER TABLE station_events ALTER COLUMN detail TYPE BIGINT USING CAST(CAST(detail AS NUMERIC) AS BIGINT);
    INSERT INTO hub_secrets (name, value) VALUES ('${REANCHOR_DETAIL}', 'postgres');
    `,
  },
  // 11: anchors keep each changed row's previous digest (a row edited outside the hub and then
  // changed by it is still reported), and holds and alerts are anchored too (audit/anchors.ts).
  // SQLite's anchoring objects are TEMP ones made at open: nothing to change in the file.
  {
    sqlite: `SELECT 1;`,
    postgres: postgresAnchorMigration11(),
  },
  // 12: desk workflows (issue 17). Day cards: a school's pool of spare cards (by keyed hash, as
  // badges), each given to one person until the day's cut-off; the badge row carries the moment it
  // stops (housekeeping revokes it then, which changes the badge list). Loans made at the desk have
  // no station, locker or event sequence.
  `
  ALTER TABLE badges ADD COLUMN expires_at TEXT;
  CREATE TABLE spare_cards (
    id INTEGER PRIMARY KEY,
    label TEXT NOT NULL UNIQUE,
    hash BLOB NOT NULL UNIQUE,
    added_at TEXT NOT NULL,
    retired_at TEXT
  );
  CREATE TABLE day_cards (
    id INTEGER PRIMARY KEY,
    spare_card_id INTEGER NOT NULL REFERENCES spare_cards(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    issued_at TEXT NOT NULL,
    expires_at TEXT NOT NULL,
    issued_by INTEGER,
    ended_at TEXT,
    ended_how TEXT
  );
  CREATE INDEX day_cards_open ON day_cards (ended_at, expires_at);
  `,
  // 13 (issue 17): e-mail notifications, each recorded with its delivery state (notify/outbox.ts).
  // `dedupe` makes each notice once: one overdue digest per borrower per day, one per alert, etc.
  `
  CREATE TABLE notifications (
    id INTEGER PRIMARY KEY,
    created_at TEXT NOT NULL,
    kind TEXT NOT NULL,
    dedupe TEXT NOT NULL UNIQUE,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    next_attempt_at TEXT,
    sent_at TEXT
  );
  CREATE INDEX notifications_due ON notifications (state, next_attempt_at);
  `,
  // 14 (issue 16): several hubs count sign-in attempts together (web/shared-sign-in-limits.ts):
  // per key (an address, or an address and a username) the attempts in the window that began then.
  `
  CREATE TABLE sign_in_attempts (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    window_start_ms INTEGER NOT NULL
  );
  `,
  // 15 (issue 19): firmware bundles uploaded for network updates, what each station is to run and
  // how far it got (firmware/rollout.ts), and the rollout's pause switch.
  `
  CREATE TABLE firmware_bundles (
    id INTEGER PRIMARY KEY,
    version TEXT NOT NULL UNIQUE,
    version_number INTEGER NOT NULL,
    hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    bytes BLOB NOT NULL,
    uploaded_by TEXT NOT NULL,
    uploaded_at TEXT NOT NULL
  );
  CREATE TABLE firmware_targets (
    station_id TEXT PRIMARY KEY REFERENCES stations(id),
    bundle_id INTEGER NOT NULL REFERENCES firmware_bundles(id),
    rollback INTEGER NOT NULL DEFAULT 0,
    state TEXT NOT NULL CHECK (state IN ('waiting', 'sending', 'switched', 'done', 'rolled-back', 'refused')),
    sent INTEGER NOT NULL DEFAULT 0,
    total INTEGER NOT NULL DEFAULT 0,
    switched_boot INTEGER,
    last_error TEXT,
    updated_at TEXT NOT NULL
  );
  CREATE TABLE firmware_rollout (id INTEGER PRIMARY KEY CHECK (id = 1), paused INTEGER NOT NULL DEFAULT 0);
  INSERT INTO firmware_rollout (id, paused) VALUES (1, 0);
  `,
  // 16 (issue 16): the phones in lockers now, one row per open phone custody record (collected_at
  // IS NULL), kept by triggers on phone_custody in the same transaction as every write to it
  // (the ingest's deposits and collections, releases, lost property, purge, any command): "who
  // holds what", the lockers page and end of day read these few rows, not a term's history.
  // Derived, not anchored: `audit verify` compares it with phone_custody (audit/holdings-check.ts).
  // Filled from the records at the upgrade.
  {
    sqlite: `
    CREATE TABLE phones_in (
      custody_id INTEGER PRIMARY KEY,
      person_id INTEGER NOT NULL,
      station_id TEXT NOT NULL,
      locker INTEGER NOT NULL,
      deposited_at TEXT NOT NULL,
      uncollected_at TEXT,
      disposal_due_at TEXT
    );
    CREATE INDEX phones_in_locker ON phones_in (station_id, locker);
    INSERT INTO phones_in (custody_id, person_id, station_id, locker, deposited_at, uncollected_at, disposal_due_at)
      SELECT id, person_id, station_id, locker, deposited_at, uncollected_at, disposal_due_at FROM phone_custody WHERE collected_at IS NULL;
    CREATE TRIGGER phones_in_insert AFTER INSERT ON phone_custody WHEN NEW.collected_at IS NULL BEGIN
      INSERT INTO phones_in (custody_id, person_id, station_id, locker, deposited_at, uncollected_at, disposal_due_at)
        VALUES (NEW.id, NEW.person_id, NEW.station_id, NEW.locker, NEW.deposited_at, NEW.uncollected_at, NEW.disposal_due_at);
    END;
    CREATE TRIGGER phones_in_update AFTER UPDATE ON phone_custody BEGIN
      DELETE FROM phones_in WHERE custody_id = OLD.id;
      INSERT INTO phones_in (custody_id, person_id, station_id, locker, deposited_at, uncollected_at, disposal_due_at)
        SELECT NEW.id, NEW.person_id, NEW.station_id, NEW.locker, NEW.deposited_at, NEW.uncollected_at, NEW.disposal_due_at WHERE NEW.collected_at IS NULL;
    END;
    CREATE TRIGGER phones_in_delete AFTER DELETE ON phone_custody BEGIN
      DELETE FROM phones_in WHERE custody_id = OLD.id;
    END;
    `,
    postgres: `
    CREATE TABLE phones_in (
      custody_id BIGINT PRIMARY KEY,
      person_id BIGINT NOT NULL,
      station_id TEXT NOT NULL,
      locker BIGINT NOT NULL,
      deposited_at TEXT NOT NULL,
      uncollected_at TEXT,
      disposal_due_at TEXT
    );
    CREATE INDEX phones_in_locker ON phones_in (station_id, locker);
    INSERT INTO phones_in (custody_id, person_id, station_id, locker, deposited_at, uncollected_at, disposal_due_at)
      SELECT id, person_id, station_id, locker, deposited_at, uncollected_at, disposal_due_at FROM phone_custody WHERE collected_at IS NULL;
    -- Once per statement, with the statement's rows (a batch writes hundreds in one).
    CREATE FUNCTION handover_phones_in() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
      IF TG_OP IN ('UPDATE', 'DELETE') THEN
        DELETE FROM phones_in WHERE custody_id IN (SELECT id FROM old_rows);
      END IF;
      IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO phones_in (custody_id, person_id, station_id, locker, deposited_at, uncollected_at, disposal_due_at)
          SELECT id, person_id, station_id, locker, deposited_at, uncollected_at, disposal_due_at FROM new_rows WHERE collected_at IS NULL;
      END IF;
      RETURN NULL;
    END $$;
    CREATE TRIGGER phones_in_insert AFTER INSERT ON phone_custody REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION handover_phones_in();
    CREATE TRIGGER phones_in_update AFTER UPDATE ON phone_custody REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION handover_phones_in();
    CREATE TRIGGER phones_in_delete AFTER DELETE ON phone_custody REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION handover_phones_in();
    `,
  },
  // 17 (issue 16): schools as tenants. A trust deployment holds several schools, each named by the
  // site slug its stations use in their topics (stations.site already says whose a station is).
  // People and assets carry their school; '' is the deployment's own school (HANDOVER_SITE), so a
  // single school needs no configuration and rows written before this step stay where they were.
  // An account is of one school, or of the whole trust ('*'); an account without a row is of the
  // deployment's own school (records/schools.ts).
  `
  CREATE TABLE schools (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    added_at TEXT NOT NULL
  );
  ALTER TABLE people ADD COLUMN school TEXT NOT NULL DEFAULT '';
  ALTER TABLE assets ADD COLUMN school TEXT NOT NULL DEFAULT '';
  CREATE INDEX people_school ON people (school);
  CREATE INDEX assets_school ON assets (school);
  CREATE TABLE account_schools (
    account_id INTEGER PRIMARY KEY,
    school TEXT NOT NULL
  );
  `,
  // 18 (issue 15): people, badges, spare cards and day cards anchored in the audit chain too
  // (audit/anchors.ts). On PostgreSQL the owner's triggers are made here; SQLite's are TEMP ones
  // made at open. Either way the hub anchors the rows these tables already hold when it next
  // opens the database (audit/anchoring.ts installAnchors, one baseline flag per table).
  {
    sqlite: `SELECT 1;`,
    postgres: postgresAnchorMigration18(),
  },
  // 19 (issue 19, ota2): a station's firmware transfer withdrawn or replaced by another version:
  // the hub sends it FIRMWARE_ABORT when it is next online, so its Storage is freed of the part sent.
  `
  CREATE TABLE firmware_aborts (
    station_id TEXT PRIMARY KEY REFERENCES stations(id),
    version TEXT NOT NULL,
    reason TEXT NOT NULL,
    requested_at TEXT NOT NULL
  );
  `,
  // 20 (issue 15): a badge is anchored in the audit chain under a random key, not its hash: the
  // chain cannot be pruned, and a purged person's badge hash must not stay in it. Which badge a
  // key stands for is kept here, and goes when the hub deletes the badge (audit/badge-keys.ts).
  `
  CREATE TABLE badge_anchor_keys (
    hash BLOB PRIMARY KEY,
    anchor_key TEXT NOT NULL UNIQUE
  );
  `,
  // 21 (issue 16): "who holds what" and end of day page through the phones in lockers (records/
  // phones-in-list.ts), oldest first, a page at a time: an index in that order (and one of the
  // uncollected only), a pupil's phone in by person (a form or a school's pupils first), the
  // lockers a safeguarding hold keeps (a few, subtracted from the counts), pupils by form, a
  // school's stations (the account's scope as a condition, Scope.where).
  `
  CREATE INDEX phones_in_order ON phones_in (deposited_at, custody_id);
  CREATE INDEX phones_in_uncollected ON phones_in (deposited_at, custody_id) WHERE uncollected_at IS NOT NULL;
  CREATE INDEX phones_in_person ON phones_in (person_id);
  CREATE INDEX lockers_safeguarding ON lockers (station_id, locker) WHERE state = 'safeguarding-held';
  CREATE INDEX people_form ON people (form);
  CREATE INDEX stations_site ON stations (site);
  `,
  // 22 (issue 13): the lowest sequence of a station boot whose frame clashed with a stored event
  // (two boards with one identity). Acknowledgements of that boot stop below it for good
  // (records/committed-marks.ts): the station keeps the clashing events in its journal.
  `
  ALTER TABLE station_boots ADD COLUMN clash_seq INTEGER;
  `,
  // 23 (issue 16, ingest flat in history): no index keyed by person alone on the two tables every
  // event adds to. Each event put an entry at its person's place in station_events_person and
  // audit_log_person: once those indexes outgrow a page per person, a batch of 500 events changed
  // about 500 pages of each, all written to the WAL and checkpointed (SQLite), and the rate fell
  // with history (2,639 -> 612 events/s at 1 M events stored). The audit records of a person are
  // found through slices of 4,096 records in sequence order (audit/person-records.ts), so new
  // entries go to the last slice's few pages; station events by person were read only by purge's
  // badge erasure, which now does all its people in the pass it makes over the table anyway.
  {
    sqlite: `
    DROP INDEX station_events_person;
    DROP INDEX audit_log_person;
    CREATE INDEX audit_log_person_slice ON audit_log (seq / 4096, person_id);
    `,
    postgres: `
    DROP INDEX station_events_person;
    DROP INDEX audit_log_person;
    CREATE INDEX audit_log_person_slice ON audit_log ((seq / 4096), person_id);
    `,
  },
  // 24 (issue 16): the station events read newest first, not by station — Lockers now's "at the
  // stations just now", the Stations page's alarms of the last day, Today's deposits and
  // collections: at a trust's size millions of rows, each read a whole scan without these.
  `
  CREATE INDEX station_events_received ON station_events (received_at, seq);
  CREATE INDEX station_events_type_received ON station_events (type, received_at);
  `,
];

/** The text of one step for a database kind. */
export function forDialect(step: MigrationStep, kind: SqlDatabase['kind']): string {
  if (typeof step !== 'string') return step[kind];
  if (kind === 'sqlite') return step;
  return step
    .replace(/\bINTEGER PRIMARY KEY\b/g, 'BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY')
    .replace(/\bINTEGER\b/g, 'BIGINT')
    .replace(/\bBLOB\b/g, 'BYTEA');
}

export async function migrate(db: SqlDatabase): Promise<number> {
  await db.exec('CREATE TABLE IF NOT EXISTS schema_migrations (step INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)');
  for (;;) {
    // Each step re-reads the count inside its transaction: two processes starting together (the
    // hub and a command) apply each step once.
    const applied = await db.transaction(async (tx) => {
      if (tx.kind === 'postgres') await tx.get('SELECT pg_advisory_xact_lock(7215031)');
      const done = await tx.get<{ steps: number }>('SELECT COUNT(*) AS steps FROM schema_migrations');
      const steps = Number(done?.steps ?? 0);
      if (steps >= MIGRATIONS.length) return steps;
      await tx.exec(forDialect(MIGRATIONS[steps], tx.kind));
      await tx.run('INSERT INTO schema_migrations (step, applied_at) VALUES (?, ?)', [steps + 1, new Date().toISOString()]);
      return -1;
    });
    if (applied >= 0) return applied;
  }
}
