import t from 'tap';
import { parseBytes, parseDuration, MAX_DURATION_MS } from '../../core/config/units.js';

t.test('parseBytes reads sizes with binary units, case and spaces ignored', async (t) => {
  t.equal(parseBytes('4mb'), 4 * 1024 * 1024);
  t.equal(parseBytes('4m'), 4 * 1024 * 1024);
  t.equal(parseBytes(' 16 KB '), 16 * 1024);
  t.equal(parseBytes('1.5k'), 1536);
  t.equal(parseBytes('1g'), 1024 ** 3);
  t.equal(parseBytes('512'), 512, 'a bare number is bytes');
  t.equal(parseBytes('10b'), 10);
  t.equal(parseBytes('0'), 0);
  t.equal(parseBytes(2048), 2048);
  t.equal(parseBytes(10.9), 10, 'fractions of a byte round down');
  t.equal(parseBytes('0.5b'), 0);
});

t.test('parseBytes rejects what is not a size', async (t) => {
  for (const bad of ['', ' ', 'mb', '-1', '-1kb', '4tb', '4 megabytes', '1e3', '4mb4', '0x10', '.5kb', '9999999999gb']) {
    t.equal(parseBytes(bad), undefined, JSON.stringify(bad));
  }
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 60]) t.equal(parseBytes(bad), undefined, String(bad));
});

t.test('parseDuration reads ms, s, m and h; a bare number is milliseconds', async (t) => {
  t.equal(parseDuration('500ms'), 500);
  t.equal(parseDuration('30s'), 30_000);
  t.equal(parseDuration('30S'), 30_000);
  t.equal(parseDuration('1.5m'), 90_000);
  t.equal(parseDuration(' 2 h '), 7_200_000);
  t.equal(parseDuration('250'), 250);
  t.equal(parseDuration('0'), 0);
  t.equal(parseDuration(0), 0);
  t.equal(parseDuration(1500), 1500);
  t.equal(parseDuration('596h'), 596 * 3_600_000, 'the longest whole-hour timer Node can run');
});

t.test('parseDuration rejects what is not a duration, or is too long for a timer', async (t) => {
  for (const bad of ['', 'ms', '-5s', '5 seconds', '1d', '1w', '10sec', '1h30m', 'soon', '1e3', '597h', '99999999h']) {
    t.equal(parseDuration(bad), undefined, JSON.stringify(bad));
  }
  for (const bad of [-1, Number.NaN, Number.POSITIVE_INFINITY, MAX_DURATION_MS + 1]) t.equal(parseDuration(bad), undefined, String(bad));
  t.equal(parseDuration(MAX_DURATION_MS), MAX_DURATION_MS);
});
