/**
 * The core's own SQL schema, and the list a gateway migrates. The core owns one table, the
 * settings the server secret lives in; every other table belongs to the plugin that uses it and is
 * declared on its definition (`migrations:`). `core/` creates no other table (a test checks).
 */
import type { PluginRegistry } from '../plugin.js';
import type { OwnedMigrations } from './migrate.js';

const SETTINGS = `
CREATE TABLE gateway_settings (
  name  text PRIMARY KEY,
  value text NOT NULL
);
`;

/** Always migrated first. */
export const CORE_MIGRATIONS: OwnedMigrations = {
  owner: 'core',
  migrations: [{ id: 1, name: 'settings', sql: SETTINGS, legacyId: 1 }],
};

/** The migrations of every plugin in `plugins` that declares some, in registry order. */
export function pluginMigrations(plugins: PluginRegistry): OwnedMigrations[] {
  return [...plugins.values()].flatMap((p) => (p.migrations?.length ? [{ owner: p.name, migrations: p.migrations }] : []));
}
