import fc from 'fast-check';
import zlib from 'node:zlib';
import { chunked, head } from './wire.js';
import { KNOWN_LINKS, MiB, pushJson, SHA, signature, TOKEN } from './world.js';

/**
 * Hostile requests, generated: methods, paths, tokens, signatures, event headers, content types and
 * encodings, framings and bodies; `build` puts one on the wire and says what the endpoint must answer.
 */

const printable = (max: number) => fc.stringMatching(new RegExp(`^[!-~]{0,${max}}$`));
const headerName = fc.stringMatching(/^X-[A-Za-z0-9-]{1,20}$/).filter((n) => !/^x-gitlab|^webhook-/i.test(n));

type TokenChoice =
  | { kind: 'none' | 'valid' | 'padded' | 'name-case' | 'upper' | 'dup-valid' }
  | { kind: 'wrong' | 'dup-mixed'; value: string }
  | { kind: 'prefix' | 'oversized'; n: number };

const tokenChoice: fc.Arbitrary<TokenChoice> = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom<TokenChoice>({ kind: 'valid' }, { kind: 'padded' }, { kind: 'name-case' }) },
  { weight: 2, arbitrary: fc.constantFrom<TokenChoice>({ kind: 'none' }, { kind: 'upper' }, { kind: 'dup-valid' }) },
  {
    weight: 3,
    arbitrary: printable(64)
      .filter((v) => v !== TOKEN)
      .map((value): TokenChoice => ({ kind: 'wrong', value })),
  },
  { weight: 1, arbitrary: printable(32).map((value): TokenChoice => ({ kind: 'dup-mixed', value })) },
  { weight: 1, arbitrary: fc.integer({ min: 0, max: TOKEN.length - 1 }).map((n): TokenChoice => ({ kind: 'prefix', n })) },
  { weight: 1, arbitrary: fc.integer({ min: 4 * 1024, max: 20 * 1024 }).map((n): TokenChoice => ({ kind: 'oversized', n })) },
);

function tokenHeaders(t: TokenChoice): Array<[string, string]> {
  switch (t.kind) {
    case 'none':
      return [];
    case 'valid':
      return [['X-Gitlab-Token', TOKEN]];
    case 'padded':
      return [['X-Gitlab-Token', `  ${TOKEN} `]]; // optional whitespace around a field value is not part of it
    case 'name-case':
      return [['x-GITLAB-token', TOKEN]];
    case 'upper':
      return [['X-Gitlab-Token', TOKEN.toUpperCase()]];
    case 'dup-valid':
      return [
        ['X-Gitlab-Token', TOKEN],
        ['X-Gitlab-Token', TOKEN],
      ];
    case 'dup-mixed':
      return [
        ['X-Gitlab-Token', t.value],
        ['X-Gitlab-Token', TOKEN],
      ];
    case 'wrong':
      return [['X-Gitlab-Token', t.value]];
    case 'prefix':
      return [['X-Gitlab-Token', TOKEN.slice(0, t.n)]];
    case 'oversized':
      return [['X-Gitlab-Token', 'k'.repeat(t.n)]];
  }
}

const tokenValid = (t: TokenChoice) => t.kind === 'valid' || t.kind === 'padded' || t.kind === 'name-case';

type SigChoice = 'none' | 'valid' | 'stale' | 'wrong-key' | 'other-body' | 'garbage';
const sigChoice = fc.constantFrom<SigChoice>('valid', 'valid', 'none', 'stale', 'wrong-key', 'other-body', 'garbage');

function sigHeaders(s: SigChoice, body: Buffer): Array<[string, string]> {
  const now = Math.floor(Date.now() / 1000);
  switch (s) {
    case 'none':
      return [];
    case 'valid':
      return signature(body, now);
    case 'stale':
      return signature(body, now - 3600);
    case 'wrong-key':
      return signature(body, now, 'whsec_' + Buffer.from('not-the-key').toString('base64'));
    case 'other-body':
      return signature(Buffer.concat([body, Buffer.from(' ')]), now);
    case 'garbage':
      return [
        ['webhook-id', 'x'],
        ['webhook-timestamp', 'yesterday'],
        ['webhook-signature', 'v1,AAAA v2,BBBB'],
      ];
  }
}

/** Paths: the links, their encodings, traversal, bad escapes, very long names, other routes. */
const pathArb: fc.Arbitrary<string> = fc.oneof(
  { weight: 8, arbitrary: fc.constantFrom('/hooks/gitlab', '/hooks/signed') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '/hooks/gitlab?x=1&y=%zz',
      '/hooks/%67itlab',
      '/hooks/gitlab/',
      '/hooks/gitlab%2F..',
      '/hooks/../hooks/gitlab',
      '/hooks/%2e%2e%2fgitlab',
      '/hooks/./gitlab',
      '/hooks//gitlab',
      '/hooks/%E0%A4%A',
      '/hooks/%00',
      '/hooks/gitlab%00',
      '/hooks/%',
      '/hooks/',
      '/hooks',
      '/HOOKS/gitlab',
      '//hooks/gitlab',
      '/',
      '*',
      'http://127.0.0.1/hooks/gitlab',
      '/healthz',
      '/metrics',
      '/hooks/gitlab#frag',
    ),
  },
  { weight: 2, arbitrary: fc.string({ maxLength: 40 }).map((s) => '/hooks/' + encodeURIComponent(s)) },
  { weight: 1, arbitrary: fc.integer({ min: 100, max: 20_000 }).map((n) => '/hooks/' + 'a'.repeat(n)) },
);

/** The link name the endpoint sees, undefined when the path is not the webhook route. */
function linkOf(path: string): string | undefined {
  const p = path.split('?')[0]!;
  if (!p.startsWith('/hooks/')) return undefined;
  try {
    return decodeURIComponent(p.slice('/hooks/'.length));
  } catch {
    return '';
  }
}

const ZERO = '0'.repeat(40);
/** GitLab-shaped events with random fields: most are pushes, to the tracked branch or not. */
const eventJson = fc
  .record({
    object_kind: fc.constantFrom('push', 'push', 'tag_push', 'merge_request', 'pipeline', 'Push', ''),
    ref: fc.oneof(
      fc.constantFrom('refs/heads/main', 'refs/heads/main', 'refs/heads/dev', 'refs/tags/v1', ''),
      fc.string({ maxLength: 40 }),
    ),
    after: fc.oneof(fc.constant(SHA), fc.constant(ZERO), fc.stringMatching(/^[0-9a-fA-F]{0,64}$/)),
    project: fc.oneof(
      fc.constantFrom<unknown>(
        { path_with_namespace: 'team/app' },
        { path_with_namespace: 'Team/App' },
        { path_with_namespace: 'team/sig' },
        null,
        'team/app',
        ['team/app'],
      ),
      fc.record({ path_with_namespace: fc.string({ maxLength: 30 }), id: fc.integer() }),
    ),
    extra: fc.dictionary(fc.string({ maxLength: 12 }), fc.jsonValue({ maxDepth: 2 }), { maxKeys: 5 }),
  })
  .map(({ extra, ...e }) => JSON.stringify({ ...extra, ...e, event_name: e.object_kind }));

const deepJson = fc.tuple(fc.constantFrom('array', 'object', 'unbalanced'), fc.integer({ min: 1, max: 200_000 })).map(([kind, d]) => {
  if (kind === 'array') return '['.repeat(d) + ']'.repeat(d);
  if (kind === 'object') return '{"a":'.repeat(d) + '0' + '}'.repeat(d);
  return '{"object_kind":"push","x":' + '['.repeat(d);
});

const INVALID_UTF8 = [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xf8, 0x88, 0x80, 0x80, 0x80], [0xc0, 0xaf], [0xe2, 0x82]].map((b) =>
  Buffer.from(b),
);

const bodyArb: fc.Arbitrary<Buffer> = fc.oneof(
  { weight: 6, arbitrary: eventJson.map((s) => Buffer.from(s)) },
  { weight: 2, arbitrary: fc.uint8Array({ maxLength: 2048 }).map((a) => Buffer.from(a)) },
  {
    weight: 2,
    arbitrary: fc
      .tuple(fc.constantFrom(...INVALID_UTF8), fc.boolean())
      .map(([bad, inRef]) =>
        inRef
          ? Buffer.concat([
              Buffer.from('{"object_kind":"push","ref":"refs/heads/m'),
              bad,
              Buffer.from(`ain","after":"${SHA}","project":{"path_with_namespace":"team/app"}}`),
            ])
          : Buffer.concat([bad, Buffer.from(pushJson())]),
      ),
  },
  { weight: 2, arbitrary: fc.json({ maxDepth: 4 }).map((s) => Buffer.from(s)) },
  {
    weight: 2,
    arbitrary: fc
      .constantFrom(
        '',
        '[]',
        'null',
        '42',
        '"push"',
        '{}',
        '{"object_kind":["push"]}',
        '{"object_kind":"push","project":"team/app","ref":1,"after":true}',
        '{"__proto__":{"object_kind":"push"}}',
      )
      .map((s) => Buffer.from(s)),
  },
  { weight: 1, arbitrary: deepJson.map((s) => Buffer.from(s)) },
  {
    weight: 1,
    arbitrary: fc.integer({ min: 0, max: MiB }).map((n) => Buffer.from(pushJson({ commits: [{ id: SHA, message: 'm'.repeat(n) }] }))),
  },
);

type Framing = { kind: 'length' } | { kind: 'chunked'; sizes: number[] } | { kind: 'none' } | { kind: 'wrong-length'; delta: number };
const framingArb: fc.Arbitrary<Framing> = fc.oneof(
  { weight: 6, arbitrary: fc.constant<Framing>({ kind: 'length' }) },
  {
    weight: 3,
    arbitrary: fc
      .array(fc.integer({ min: 1, max: 4096 }), { minLength: 1, maxLength: 5 })
      .map((sizes): Framing => ({ kind: 'chunked', sizes })),
  },
  { weight: 1, arbitrary: fc.constant<Framing>({ kind: 'none' }) },
  {
    weight: 2,
    arbitrary: fc
      .integer({ min: -200, max: 200 })
      .filter((d) => d !== 0)
      .map((delta): Framing => ({ kind: 'wrong-length', delta })),
  },
);

/** Headers that change how node frames or accepts the request: the outcome is node's, not predicted here. */
const unsafeArb = fc.constantFrom<Array<[string, string]> | 'no-host' | 'dup-host'>(
  [['Expect', '100-continue']],
  [['Expect', 'the-unexpected']],
  [['Content-Length', '7']],
  [['Transfer-Encoding', 'identity']],
  [['Transfer-Encoding', 'gzip, chunked']],
  [['Upgrade', 'websocket']],
  'no-host',
  'dup-host',
);

const STANDARD_METHODS = ['POST', 'GET', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'PROPFIND'];
const methodArb = fc.oneof(
  { weight: 8, arbitrary: fc.constant('POST') },
  { weight: 3, arbitrary: fc.constantFrom(...STANDARD_METHODS) },
  { weight: 1, arbitrary: fc.constantFrom('post', 'P0ST', 'CONNECT', 'BREW', 'POST ') },
);

export const hostileRequest = fc.record({
  method: methodArb,
  path: pathArb,
  token: tokenChoice,
  sig: sigChoice,
  event: fc.oneof(
    fc.constantFrom<string | undefined | string[]>(
      'Push Hook',
      'Push Hook',
      'Tag Push Hook',
      'System Hook',
      'Merge Request Hook',
      undefined,
      ['Push Hook', 'Push Hook'],
    ),
    printable(48),
  ),
  contentType: fc.option(
    fc.oneof(
      fc.constantFrom(
        'application/json',
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/json; charset=latin1',
        'multipart/form-data; boundary=x',
      ),
      printable(40),
    ),
    { nil: undefined },
  ),
  encoding: fc.option(fc.constantFrom('gzip', 'br', 'deflate', 'x-unknown', 'gzip, br', 'identity'), { nil: undefined }),
  compress: fc.constantFrom<'none' | 'gzip' | 'br'>('none', 'none', 'none', 'gzip', 'br'),
  body: bodyArb,
  framing: framingArb,
  extra: fc.array(fc.tuple(headerName, printable(60)), { maxLength: 4 }),
  /** A delivery id from a small pool: in a batch, some requests replay another's (answered 200 `duplicate`). */
  delivery: fc.option(fc.tuple(fc.constantFrom('Idempotency-Key', 'X-Gitlab-Event-UUID'), fc.constantFrom('delivery-1', 'delivery-2')), {
    freq: 2,
    nil: undefined,
  }),
  unsafe: fc.option(unsafeArb, { freq: 6, nil: undefined }),
  splits: fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { maxLength: 3 }),
});

export type ValueOf<A> = A extends fc.Arbitrary<infer T> ? T : never;
export type HostileRequest = ValueOf<typeof hostileRequest>;

export interface BuiltRequest {
  wire: Buffer;
  halfClose: boolean;
  /** Token valid and, for the signed link, the signature too: the only requests that may trigger. */
  authentic: boolean;
  /** The status the endpoint must answer, when the request is plain enough to say; 'authenticated' = 200, 202 or 400. */
  expected: number | 'authenticated' | undefined;
  headBytes: number;
}

export function build(r: HostileRequest): BuiltRequest {
  let body = r.body;
  if (r.compress === 'gzip') body = zlib.gzipSync(body, { level: 1 });
  if (r.compress === 'br') body = zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 1 } });
  const linkName = linkOf(r.path);
  const headers: Array<[string, string]> = [];
  if (r.unsafe !== 'no-host') headers.push(['Host', '127.0.0.1']);
  if (r.unsafe === 'dup-host') headers.push(['Host', 'evil.example.com']);
  headers.push(...tokenHeaders(r.token));
  if (typeof r.event === 'string') headers.push(['X-Gitlab-Event', r.event]);
  if (Array.isArray(r.event)) r.event.forEach((e) => headers.push(['X-Gitlab-Event', e]));
  if (r.contentType !== undefined) headers.push(['Content-Type', r.contentType]);
  if (r.encoding !== undefined) headers.push(['Content-Encoding', r.encoding]);
  if (linkName === 'signed') headers.push(...sigHeaders(r.sig, body));
  headers.push(...r.extra);
  if (r.delivery) headers.push(r.delivery);
  if (Array.isArray(r.unsafe)) headers.push(...r.unsafe);
  let payload: Buffer = body;
  if (r.framing.kind === 'length') headers.push(['Content-Length', String(body.length)]);
  if (r.framing.kind === 'wrong-length') headers.push(['Content-Length', String(Math.max(0, body.length + r.framing.delta))]);
  if (r.framing.kind === 'chunked') {
    headers.push(['Transfer-Encoding', 'chunked']);
    payload = chunked(body, r.framing.sizes);
  }
  if (r.framing.kind === 'none') payload = body.subarray(0, 512); // trailing bytes: read as a next request, if at all
  headers.push(['Connection', 'close']);
  const h = head(r.method, r.path, headers);
  const headBytes = Buffer.byteLength(h);
  // A declared length longer than what is sent: end the write side, or node waits for the rest until its timeout.
  const extraLength = Array.isArray(r.unsafe) && r.unsafe.some(([k]) => k === 'Content-Length');
  const halfClose =
    (r.framing.kind === 'wrong-length' && r.framing.delta > 0) || (extraLength && r.framing.kind === 'none' && payload.length < 7);

  const authentic =
    linkName !== undefined && KNOWN_LINKS.has(linkName) && tokenValid(r.token) && (linkName === 'gitlab' || r.sig === 'valid');
  let expected: BuiltRequest['expected'];
  const plain =
    (r.framing.kind === 'length' || r.framing.kind === 'chunked') &&
    r.unsafe === undefined &&
    STANDARD_METHODS.includes(r.method) &&
    r.path.startsWith('/hooks/') &&
    !r.path.includes('#') &&
    headBytes < 15 * 1024;
  if (headBytes > 17 * 1024 && STANDARD_METHODS.includes(r.method) && r.unsafe === undefined) expected = 431;
  else if (plain) {
    if (r.method !== 'POST') expected = 405;
    else if (!KNOWN_LINKS.has(linkName ?? '')) expected = 404;
    else if (!tokenValid(r.token)) expected = 401;
    else if (linkName === 'signed' && r.sig !== 'valid') expected = 401;
    else expected = 'authenticated';
  }
  return { wire: Buffer.concat([Buffer.from(h, 'latin1'), payload]), halfClose, authentic, expected, headBytes };
}

export function describeRequest(r: HostileRequest, b: BuiltRequest): string {
  return `${r.method} ${r.path.slice(0, 80)} token=${r.token.kind} sig=${r.sig} framing=${r.framing.kind} delivery=${r.delivery?.join(':') ?? 'none'} unsafe=${JSON.stringify(r.unsafe)} body=${r.body.length}B head=${b.headBytes}B`;
}
