// The ordered schema migrations of berthd's metadata database (docs/metadata.md draws the result).
// Each migration runs once, inside one transaction with the row that records it in `migrations`, so
// a crash mid-migration leaves the database at the previous version, never half-way.
// Must never: change a migration that has shipped (add a new one), or depend on engine code.

export type Migration = { version: number; name: string; sql: string };

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'containers and volumes',
    sql: `
      CREATE TABLE containers (
        id             TEXT PRIMARY KEY,
        name           TEXT NOT NULL UNIQUE,
        image_ref      TEXT NOT NULL,
        image_id       TEXT NOT NULL,
        config         TEXT NOT NULL,
        labels         TEXT NOT NULL DEFAULT '{}',
        runtime        TEXT NOT NULL,
        snapshot_key   TEXT NOT NULL,
        created_at     TEXT NOT NULL,
        restart_policy TEXT NOT NULL DEFAULT 'no',
        restart_max    INTEGER NOT NULL DEFAULT 0,
        status         TEXT NOT NULL DEFAULT 'created',
        pid            INTEGER NOT NULL DEFAULT 0,
        started_at     TEXT,
        finished_at    TEXT,
        exit_code      INTEGER
      );
      CREATE TABLE volumes (
        name       TEXT PRIMARY KEY,
        driver     TEXT NOT NULL,
        mountpoint TEXT NOT NULL,
        labels     TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
      );
    `,
  },
  {
    version: 2,
    name: 'restart bookkeeping, oom, shim identity',
    sql: `
      ALTER TABLE containers ADD COLUMN restart_count INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE containers ADD COLUMN manually_stopped INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE containers ADD COLUMN oom_killed INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE containers ADD COLUMN shim_pid INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE containers ADD COLUMN error TEXT NOT NULL DEFAULT '';
    `,
  },
  {
    version: 3,
    name: 'network attachments and the events tail',
    sql: `
      CREATE TABLE network_attachments (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        network      TEXT NOT NULL,
        result       TEXT NOT NULL,
        PRIMARY KEY (container_id, network)
      );
      CREATE TABLE events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        time_nano  TEXT NOT NULL,
        type       TEXT NOT NULL,
        action     TEXT NOT NULL,
        actor_id   TEXT NOT NULL,
        attributes TEXT NOT NULL DEFAULT '{}'
      );
    `,
  },
  {
    version: 4,
    name: 'leases and published-port allocations',
    sql: `
      CREATE TABLE leases (
        id         TEXT PRIMARY KEY,
        created_at TEXT NOT NULL,
        expires_at TEXT,
        labels     TEXT NOT NULL DEFAULT '{}'
      );
      CREATE TABLE lease_resources (
        lease_id TEXT NOT NULL REFERENCES leases(id) ON DELETE CASCADE,
        kind     TEXT NOT NULL,
        key      TEXT NOT NULL,
        PRIMARY KEY (lease_id, kind, key)
      );
      CREATE TABLE port_allocations (
        container_id   TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        container_port INTEGER NOT NULL,
        protocol       TEXT NOT NULL,
        host_ip        TEXT NOT NULL,
        host_port      INTEGER NOT NULL,
        PRIMARY KEY (container_id, container_port, protocol, host_ip),
        UNIQUE (host_port, protocol)
      );
    `,
  },
  {
    version: 5,
    name: 'lease kind and owner as data',
    // Leases taken before v5 carried both only in their id, "<kind>-<pid>-<random>": read them out
    // once, here, so nothing parses ids any more. Their owner's start time was never recorded ('').
    sql: `
      ALTER TABLE leases ADD COLUMN kind TEXT NOT NULL DEFAULT '';
      ALTER TABLE leases ADD COLUMN owner_pid INTEGER NOT NULL DEFAULT 0;
      ALTER TABLE leases ADD COLUMN owner_start_time TEXT NOT NULL DEFAULT '';
      CREATE TEMP VIEW v5_lease_ids AS
        SELECT id, substr(id, 1, instr(id, '-') - 1) AS kind,
               substr(substr(id, instr(id, '-') + 1), 1, instr(substr(id, instr(id, '-') + 1), '-') - 1) AS pid
        FROM leases;
      UPDATE leases SET
        kind = (SELECT kind FROM v5_lease_ids v WHERE v.id = leases.id),
        owner_pid = (SELECT CAST(pid AS INTEGER) FROM v5_lease_ids v WHERE v.id = leases.id)
      WHERE id IN (SELECT id FROM v5_lease_ids WHERE kind IN ('pull', 'load', 'import', 'create') AND pid <> '' AND pid NOT GLOB '*[^0-9]*');
      DROP VIEW v5_lease_ids;
    `,
  },
  {
    version: 6,
    name: 'pod sandboxes',
    sql: `
      CREATE TABLE pods (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL UNIQUE,
        config     TEXT NOT NULL,
        labels     TEXT NOT NULL DEFAULT '{}',
        runtime    TEXT NOT NULL,
        state      TEXT NOT NULL DEFAULT 'notready',
        pid        INTEGER NOT NULL DEFAULT 0,
        shim_pid   INTEGER NOT NULL DEFAULT 0,
        netns      TEXT NOT NULL DEFAULT '',
        network    TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL,
        error      TEXT NOT NULL DEFAULT ''
      );
    `,
  },
  {
    version: 7,
    name: 'image IDs are config digests',
    // image_id named the image's manifest (or index) digest; docker's and containerd's image ID is
    // the config digest. The target digest moves to image_digest (what keeps the image's content as
    // a gc root), and image_id keeps the old value until the engine, which can read the content
    // store, backfills the config digest (MetadataStore.imageIdsToBackfill: rows whose two columns
    // are equal), once, at its next start.
    sql: `
      ALTER TABLE containers ADD COLUMN image_digest TEXT NOT NULL DEFAULT '';
      UPDATE containers SET image_digest = image_id;
    `,
  },
  {
    version: 8,
    name: 'container endpoints',
    // A container's place on each network it is connected to (docker's EndpointSettings: aliases, a
    // requested address), kept while it is stopped; network_attachments holds what a running one
    // got. Containers made before v8 joined one network at create: their endpoint is read out of the
    // request once, here; '' stands for the engine's default network, whose name berthd gives at
    // open (MetadataStore.nameDefaultEndpoints).
    sql: `
      CREATE TABLE container_endpoints (
        container_id TEXT NOT NULL REFERENCES containers(id) ON DELETE CASCADE,
        network      TEXT NOT NULL,
        aliases      TEXT NOT NULL DEFAULT '[]',
        ipv4_address TEXT NOT NULL DEFAULT '',
        seq          INTEGER NOT NULL,
        PRIMARY KEY (container_id, network)
      );
      INSERT INTO container_endpoints (container_id, network, aliases, seq)
        SELECT id, COALESCE(json_extract(config, '$.request.network'), ''),
               COALESCE(json_extract(config, '$.request.aliases'), '[]'), 0
        FROM containers
        WHERE json_extract(config, '$.request.sandbox') IS NULL
          AND COALESCE(json_extract(config, '$.request.network'), '') NOT IN ('host', 'none');
    `,
  },
  {
    version: 9,
    name: 'endpoint MAC addresses',
    // The MAC address an endpoint asked for (docker's --mac-address, EndpointSettings.MacAddress),
    // given to CNI at each attach so that a stopped and started container keeps it; '' for one the
    // kernel picks.
    sql: `ALTER TABLE container_endpoints ADD COLUMN mac_address TEXT NOT NULL DEFAULT '';`,
  },
  {
    version: 10,
    name: 'container health',
    // docker's State.Health as JSON, written with each probe's result; NULL for a container whose
    // healthcheck never ran.
    sql: `
      ALTER TABLE containers ADD COLUMN health TEXT;
    `,
  },
];

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version;
