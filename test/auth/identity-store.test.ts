/** The identity repository on embedded PGlite. */
import t from 'tap';
import { tmpdir } from 'node:os';
import { openSqlStore } from '../../core/stores/open-sql.js';
import type { SqlStore } from '../../core/stores/sql.js';
import { PLUGIN_MIGRATIONS, silentLog } from '../stores/sql-suite.js';
import { identityStoreSuite } from './identity-suite.js';

let db: SqlStore;
t.before(async () => {
  db = await openSqlStore({ pglite: 'memory' }, tmpdir(), silentLog, PLUGIN_MIGRATIONS);
});
t.teardown(() => db.close());

t.test('identity store on PGlite', async (t) => identityStoreSuite(t, () => db));
