import { expect } from 'chai';
import { jsonShape, JsonShapeScanner, MAX_JSON_DEPTH, MAX_JSON_VALUES } from './json-limits.js';

const b = (s: string) => Buffer.from(s, 'utf8');

describe('json-limits: the shape of a JSON body, on its bytes', () => {
  it('limits are 32 levels and 100,000 values', () => {
    expect([MAX_JSON_DEPTH, MAX_JSON_VALUES]).to.deep.equal([32, 100_000]);
  });

  const cases: Array<[string, string, ReturnType<typeof jsonShape>]> = [
    [
      'a GitLab-like push',
      JSON.stringify({
        object_kind: 'push',
        project: { path_with_namespace: 'a/b' },
        commits: [{ id: 'x', author: { name: 'n' }, added: ['f'] }],
      }),
      'ok',
    ],
    ['32 levels', '['.repeat(32) + ']'.repeat(32), 'ok'],
    ['33 levels', '['.repeat(33) + ']'.repeat(33), 'too-deep'],
    ['33 levels of objects and arrays mixed', '{"a":['.repeat(17) + '0' + ']}'.repeat(17), 'too-deep'],
    ['brackets inside strings do not count', JSON.stringify({ s: '['.repeat(1000) + '{'.repeat(1000) }), 'ok'],
    ['an escaped quote does not end a string', JSON.stringify({ s: '\\"' + '['.repeat(100) }), 'ok'],
    ['an escaped backslash before the closing quote ends the string', `{"s":"\\\\"}` + '['.repeat(40), 'too-deep'],
    ['UTF-8 inside strings is skipped', JSON.stringify({ s: 'ü✓𝄞'.repeat(1000) }), 'ok'],
    ['commas inside strings do not count', JSON.stringify({ s: ','.repeat(200_000) }), 'ok'],
    ['100,000 values', '[' + '0,'.repeat(99_999) + '0]', 'ok'],
    ['100,001 values', '[' + '0,'.repeat(100_000) + '0]', 'too-many-values'],
    ["closing brackets never go below zero in effect (malformed JSON is the parser's)", ']]]]' + '['.repeat(32), 'ok'],
  ];
  for (const [name, text, want] of cases) it(name, () => expect(jsonShape(b(text))).to.equal(want));

  it('gives the same verdict whatever the chunking, strings and escapes split across chunks', () => {
    const text = b(JSON.stringify({ s: 'a\\"[[[' + '\\\\' }) + '['.repeat(40));
    for (let cut = 1; cut < text.length; cut++) {
      const scanner = new JsonShapeScanner();
      const first = scanner.feed(text.subarray(0, cut));
      const verdict = first === 'ok' ? scanner.feed(text.subarray(cut)) : first;
      expect(verdict, `cut at ${cut}`).to.equal('too-deep');
    }
  });

  it('stops at the first byte past a limit: a 5 MiB bracket body is refused after 33 bytes', () => {
    const scanner = new JsonShapeScanner();
    expect(scanner.feed(b('['.repeat(33)))).to.equal('too-deep');
    expect(scanner.feed(b('}'.repeat(1000))), 'the verdict stays').to.equal('too-deep');
  });

  it('scans 5 MiB of strings in linear time (well under 100 ms)', () => {
    const big = b(JSON.stringify({ s: 'x'.repeat(5 * 1024 * 1024) }));
    const t = process.hrtime.bigint();
    expect(jsonShape(big)).to.equal('ok');
    expect(Number(process.hrtime.bigint() - t) / 1e6).to.be.below(100);
  });
});
