/** The identity repository on real PostgreSQL, in a scratch schema. */
import t from 'tap';
import { openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlStore } from '../../core/stores/sql.js';
import { PLUGIN_MIGRATIONS, silentLog } from '../stores/sql-suite.js';
import { identityStoreSuite } from '../auth/identity-suite.js';
import { createScratchSchema, type ScratchSchema } from './scratch-schema.js';

let schema: ScratchSchema;
let db: SqlStore;
t.before(async () => {
  schema = await createScratchSchema('identity');
  db = await openSqlStore({ postgres: schema.url }, process.cwd(), silentLog, PLUGIN_MIGRATIONS);
});
t.teardown(async () => {
  await db?.close();
  await schema?.drop();
});

t.test('identity store on PostgreSQL', async (t) => identityStoreSuite(t, () => db));
