/**
 * A fixture plugin that owns everything a feature may own: a SQL table (its migration), an admin
 * route and a CLI command. `plugin-contract.test.ts` registers it beside the built-ins and checks
 * that the core serves each part without naming it.
 */
import { definePlugin, type PluginInstance } from '../../core/plugin.js';
import { defineAdminModule } from '../../core/admin/contract.js';

export default definePlugin({
  name: 'guestbook',
  schema: { type: 'object', additionalProperties: false },
  migrations: [{ id: 1, name: 'guestbook entries', sql: 'CREATE TABLE guestbook_entries (id serial PRIMARY KEY, signed_by text NOT NULL);' }],
  admin: defineAdminModule({
    name: 'guestbook',
    create(services) {
      return {
        routes: [
          {
            method: 'POST',
            path: '/admin/guestbook',
            summary: 'Sign the guestbook.',
            tag: 'guestbook',
            requestSchema: { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1 } }, additionalProperties: false },
            async handle(req) {
              const sql = await services.sql();
              await sql.query('INSERT INTO guestbook_entries (signed_by) VALUES ($1)', [(req.body as { name: string }).name]);
              return { status: 201, body: { object: 'guestbook.entry' } };
            },
          },
          {
            method: 'GET',
            path: '/admin/guestbook',
            summary: 'Who signed.',
            tag: 'guestbook',
            async handle() {
              const { rows } = await (await services.sql()).query<{ signed_by: string }>('SELECT signed_by FROM guestbook_entries ORDER BY id');
              return { status: 200, body: { object: 'list', data: rows.map((r) => r.signed_by) } };
            },
          },
        ],
      };
    },
  }),
  commands: {
    names: ['guestbook'],
    usage: '  switchyard guestbook sign NAME                          sign the guestbook',
    async run(command, args) {
      if (args[0] !== 'sign' || !args[1]) return 2;
      process.stdout.write(`${command}: signed by ${args[1]}\n`);
      return 0;
    },
  },
  create(): PluginInstance {
    return { handle: (_ctx, next) => next() };
  },
});
