/**
 * `responses`' SQL schema, recorded under the owner `responses`; never edit or reorder an applied
 * migration, add one with the next id.
 *
 * `responses_stored` holds one row per stored Response, keyed by organization and id: ids derive
 * from request ids, which a client may choose (`x-request-id`), so the same id in two organizations
 * is two rows that never see each other. `conversation` is the chat-form messages of the whole
 * chain up to and including this answer (what a `previous_response_id` request continues; never
 * `instructions`), `input` this turn's input items as the client sent them (`input_items`),
 * `response` the Response object.
 */
import type { Migration } from '../../core/stores/migrate.js';

const RESPONSES_STORED = `
CREATE TABLE responses_stored (
  org_id       text NOT NULL,
  id           text NOT NULL,
  key_id       text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  model        text,
  previous_id  text,
  conversation jsonb NOT NULL,
  input        jsonb NOT NULL,
  response     jsonb NOT NULL,
  PRIMARY KEY (org_id, id)
);
CREATE INDEX responses_stored_expires_at ON responses_stored (expires_at);
`;

export const RESPONSES_MIGRATIONS: readonly Migration[] = [{ id: 1, name: 'stored responses (responses_stored)', sql: RESPONSES_STORED }];
