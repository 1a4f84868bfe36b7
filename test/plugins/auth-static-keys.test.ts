/** Static keys looked up by the presented key: known keys are remembered, anything else is refused every time. */
import t from 'tap';
import { compileStaticKeys, type StaticKeyConfig } from '../../plugins/auth/static-keys.js';
import { sha256Hex } from '../../plugins/auth/keys.js';

const entry = (name: string, secret: { key?: string; sha256?: string }): StaticKeyConfig => ({
  name,
  ...secret,
  org: 'acme',
  scopes: ['write'],
  environment: 'live',
  allowed_models: [],
  allowed_ips: [],
  allowed_referrers: [],
  limits: {},
  metadata: {},
});

t.test('a declared key is found on every request, by its plain or its sha256 declaration', async (t) => {
  const keys = compileStaticKeys([entry('plain', { key: 'sk-plain-0123456789' }), entry('hashed', { sha256: sha256Hex('sk-hashed-0123456789') })]);
  for (let i = 0; i < 3; i++) {
    t.equal(keys.findPresented('sk-plain-0123456789')?.state.keyId, 'plain');
    t.equal(keys.findPresented('sk-hashed-0123456789')?.state.keyId, 'hashed');
  }
});

t.test('near misses of a remembered key are refused', async (t) => {
  const keys = compileStaticKeys([entry('plain', { key: 'sk-plain-0123456789' })]);
  t.ok(keys.findPresented('sk-plain-0123456789'), 'remembered now');
  for (const wrong of ['sk-plain-012345678', 'sk-plain-01234567890', 'SK-PLAIN-0123456789', 'sk-plain-0123456788', '']) {
    t.equal(keys.findPresented(wrong), undefined, JSON.stringify(wrong));
  }
  t.equal(keys.findPresented('sk-plain-0123456789')?.state.keyId, 'plain', 'still found after the misses');
});
