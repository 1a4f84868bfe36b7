/** The outage guard of the networked stores: down at the first outage, failing at once, up at the first answered probe. */
import t from 'tap';
import { Writable } from 'node:stream';
import { OutageGuard } from '../../core/stores/outage.js';
import { StoreUnavailableError } from '../../core/errors.js';
import { createLogger } from '../../core/log.js';

function capturedLog(): { log: ReturnType<typeof createLogger>; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString().split('\n')) if (line.trim()) lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  return { log: createLogger({ level: 'info', destination }), lines };
}

t.test('after an outage calls fail at once until a probe is answered; one line when it starts, one when it ends', async (t) => {
  const { log, lines } = capturedLog();
  let serverUp = false;
  let probes = 0;
  const guard = new OutageGuard({
    store: 'kv',
    server: 'redis',
    log,
    probeIntervalMs: 10,
    probe: async () => {
      probes++;
      if (!serverUp) throw new Error('ECONNREFUSED');
    },
  });
  t.teardown(() => guard.close());

  t.doesNotThrow(() => guard.assertUp(), 'up until an outage is seen');
  guard.trip('redis: Command timed out');
  guard.trip('redis: Command timed out');
  t.equal(guard.up, false);
  t.throws(() => guard.assertUp(), StoreUnavailableError);
  try {
    guard.assertUp();
  } catch (err) {
    t.match(err, { status: 503, code: 'store_unavailable', store: 'kv', detail: /^redis unreachable for \d+ ms \(redis: Command timed out\)$/ });
    t.notMatch((err as Error).message, /Command timed out/, 'the client sees which store, not what failed');
  }
  // The guard's timers do not keep the process alive; these waits do.
  while (probes < 3) await new Promise((r) => setTimeout(r, 5));
  t.equal(guard.up, false, 'still down while probes fail');
  serverUp = true;
  const failedProbes = probes;
  while (!guard.up) await new Promise((r) => setTimeout(r, 5));
  t.equal(probes, failedProbes + 1, 'up again at the first answered probe');
  t.doesNotThrow(() => guard.assertUp());
  t.same(
    lines.map((l) => [l['level'], l['msg']]),
    [
      ['warn', 'redis unreachable: calls fail at once until a probe reaches it again'],
      ['info', 'redis reachable again'],
    ],
  );
});

t.test('a closed guard stops probing', async (t) => {
  const { log } = capturedLog();
  let probes = 0;
  const guard = new OutageGuard({ store: 'sql', server: 'postgres', log, probeIntervalMs: 5, probe: async () => void probes++ });
  guard.trip('postgres: connect ECONNREFUSED');
  guard.close();
  await new Promise((r) => setTimeout(r, 30));
  t.equal(probes, 0);
});
