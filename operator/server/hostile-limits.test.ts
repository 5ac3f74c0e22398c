import { expect } from 'chai';
import fc from 'fast-check';
import { createHmac } from 'node:crypto';
import http from 'node:http';
import {
  checkSignature,
  checkToken,
  MIN_SIGNING_KEY_BYTES,
  MIN_TOKEN_CHARS,
  weakSigningKeyReason,
  weakTokenReason,
} from '../gitlab/webhook-auth.js';
import { parseEvent } from '../gitlab/webhook-event.js';
import type { Target } from '../push/receiver-index.js';
import { RecentDeliveries } from '../push/recent-deliveries.js';
import { webhookRoute } from '../push/webhook-handler.js';
import { linkSpec, memoryLogger } from '../testing/push-fakes.js';
import { startHttpServer } from './http-server.js';
import { jsonShape, JsonShapeScanner, type JsonShapeVerdict, MAX_JSON_DEPTH } from './json-limits.js';

/**
 * Property tests for the limits the hostile-input review added: weak webhook secrets, replayed deliveries,
 * keys picked by the sender, and the shape of JSON bodies — each against an independent model, and the
 * shape limit end to end over real sockets.
 */

const TOKEN = 'hostile-limits-token-0123456789abcdef';
const SHA = '9f2c1e0b7a6d5c4b3a29180706f5e4d3c2b1a098';

/** Reference for the shape scan, from the parsed value: nesting of containers and values started by `{`, `[`, `,`. */
function shapeOf(v: unknown): { depth: number; values: number } {
  if (v === null || typeof v !== 'object') return { depth: 0, values: 0 };
  const items = Array.isArray(v) ? v : Object.values(v as Record<string, unknown>);
  let depth = 0;
  let values = 1 + Math.max(items.length - 1, 0);
  for (const item of items) {
    const s = shapeOf(item);
    depth = Math.max(depth, s.depth);
    values += s.values;
  }
  return { depth: depth + 1, values };
}

/** The verdicts the scan may give: it stops at the first limit passed in text order, so past both, either. */
function allowedVerdicts(v: unknown, maxDepth: number, maxValues: number): JsonShapeVerdict[] {
  const s = shapeOf(v);
  const passed: JsonShapeVerdict[] = [];
  if (s.depth > maxDepth) passed.push('too-deep');
  if (s.values > maxValues) passed.push('too-many-values');
  return passed.length > 0 ? passed : ['ok'];
}

describe('hostile limits: properties', function () {
  this.timeout(60_000);

  it('the shape scan agrees with the parsed structure, for any JSON value, limits and chunking', () => {
    fc.assert(
      fc.property(
        fc.jsonValue({ maxDepth: 8 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 60 }),
        fc.array(fc.nat(), { maxLength: 4 }),
        (v, maxDepth, maxValues, cuts) => {
          const text = Buffer.from(JSON.stringify(v), 'utf8');
          const whole = jsonShape(text, maxDepth, maxValues);
          expect(allowedVerdicts(v, maxDepth, maxValues)).to.include(whole);
          // Any chunking gives the same verdict as the whole.
          const points = [...new Set(cuts.map((c) => c % (text.length + 1)))].sort((a, b) => a - b);
          const scanner = new JsonShapeScanner(maxDepth, maxValues);
          let verdict: JsonShapeVerdict = 'ok';
          let from = 0;
          for (const p of [...points, text.length]) {
            verdict = scanner.feed(text.subarray(from, p));
            from = p;
          }
          expect(verdict).to.equal(whole);
        },
      ),
      { numRuns: 2_000 },
    );
  });

  it('a webhook token is accepted exactly when it has 16 characters or more, and never authenticates below that', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 40 }), (token) => {
        const chars = [...token].length;
        expect(weakTokenReason(token) === undefined).to.equal(chars >= MIN_TOKEN_CHARS);
        if (chars > 0 && chars < MIN_TOKEN_CHARS) expect(checkToken(token, token).ok).to.equal(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it('a whsec_ key is accepted exactly when it is canonical base64 of 16 bytes or more; a weak key never verifies a signature', () => {
    const canonical = fc.uint8Array({ maxLength: 48 }).map((bytes) => 'whsec_' + Buffer.from(bytes).toString('base64'));
    const mangled = fc
      .tuple(fc.uint8Array({ minLength: 1, maxLength: 48 }), fc.constantFrom('strip-padding', 'url-safe', 'space', 'junk'))
      .map(([bytes, how]) => {
        const b64 = Buffer.from(bytes).toString('base64');
        if (how === 'strip-padding') return 'whsec_' + b64.replace(/=+$/, '');
        if (how === 'url-safe') return 'whsec_' + Buffer.from(bytes).toString('base64url');
        if (how === 'space') return 'whsec_ ' + b64;
        return 'whsec_' + b64 + '!';
      });
    fc.assert(
      fc.property(fc.oneof(canonical, mangled), (key) => {
        const text = key.slice('whsec_'.length);
        const bytes = Buffer.from(text, 'base64');
        const acceptable = bytes.toString('base64') === text && bytes.length >= MIN_SIGNING_KEY_BYTES;
        expect(weakSigningKeyReason(key) === undefined, key).to.equal(acceptable);
        if (!acceptable) {
          // Signed with exactly the bytes the key decodes to: still refused.
          const now = 1_700_000_000;
          const body = Buffer.from('{}');
          const sig = 'v1,' + createHmac('sha256', bytes).update(`id.${now}.`).update(body).digest('base64');
          expect(checkSignature({ id: 'id', timestamp: String(now), signature: sig }, body, key, now).ok).to.equal(false);
        }
      }),
      { numRuns: 2_000 },
    );
  });

  it("no object_kind or event_name but push and tag_push is a push, Object's own member names included", () => {
    const names = fc.oneof(fc.string(), fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype), 'push', 'tag_push'));
    fc.assert(
      fc.property(names, fc.constantFrom('Push Hook', 'Tag Push Hook', 'System Hook'), (kind, header) => {
        const body = { object_kind: kind, event_name: kind, after: SHA, ref: 'refs/heads/main', project: { path_with_namespace: 'a/b' } };
        const got = parseEvent(header, body);
        expect(got.kind === 'push', `${header} ${JSON.stringify(kind)}: ${JSON.stringify(got)}`).to.equal(
          kind === 'push' || kind === 'tag_push',
        );
        if (got.kind === 'push') expect(['Push Hook', 'Tag Push Hook']).to.include(got.event);
      }),
      { numRuns: 2_000 },
    );
  });

  it('RecentDeliveries answers as a simple model does, and never holds more than its bound', () => {
    type Op = { op: 'add' | 'has'; key: number } | { op: 'wait'; ms: number };
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ op: fc.constantFrom<'add' | 'has'>('add', 'has'), key: fc.integer({ min: 0, max: 12 }) }),
      fc.record({ op: fc.constant<'wait'>('wait'), ms: fc.integer({ min: 0, max: 40 }) }),
    );
    fc.assert(
      fc.property(
        fc.array(op, { maxLength: 200 }),
        fc.integer({ min: 1, max: 8 }),
        fc.integer({ min: 1, max: 60 }),
        (ops, maxEntries, ttlMs) => {
          let now = 0;
          const set = new RecentDeliveries({ ttlMs, maxEntries, now: () => now });
          // The model: additions in order, each with its expiry; the oldest dropped past the bound.
          let model: Array<{ key: string; expiry: number }> = [];
          for (const o of ops) {
            if (o.op === 'wait') {
              now += o.ms;
              continue;
            }
            model = model.filter((e) => e.expiry > now);
            const key = `k${o.key}`;
            if (o.op === 'has') expect(set.has(key), `has ${key} at ${now}`).to.equal(model.some((e) => e.key === key));
            else {
              if (model.length === maxEntries) model.shift();
              model.push({ key, expiry: now + ttlMs });
              set.add(key);
            }
            expect(set.size).to.be.at.most(maxEntries);
          }
        },
      ),
      { numRuns: 1_000 },
    );
  });

  describe('over real sockets: the webhook route', () => {
    let server: Awaited<ReturnType<typeof startHttpServer>>;
    const enqueued: Target[] = [];
    const observed: string[] = [];
    const target: Target = { namespace: 'apps', gitRepository: 'app', receiver: 'gfl-app', project: 'team/app', ref: { branch: 'main' } };

    before(async () => {
      const { log } = memoryLogger();
      const route = webhookRoute({
        log,
        linkSpec: (name) => (name === 'gitlab' ? linkSpec() : undefined),
        secretValue: async () => TOKEN,
        projectAllowed: () => true,
        targets: () => [target],
        enqueue: (_l, _p, t) => enqueued.push(t),
        observe: (result) => observed.push(result),
        recordPush: () => undefined,
      });
      server = await startHttpServer({ host: '127.0.0.1', port: 0, routes: [route] });
    });
    after(async () => {
      server.server.closeAllConnections();
      await server.close();
    });

    function post(body: string, extra: Record<string, string> = {}): Promise<number> {
      return new Promise((resolve) => {
        const req = http.request(
          {
            host: '127.0.0.1',
            port: server.port,
            method: 'POST',
            path: '/hooks/gitlab',
            agent: false,
            headers: { 'Content-Type': 'application/json', 'X-Gitlab-Event': 'Push Hook', 'X-Gitlab-Token': TOKEN, ...extra },
          },
          (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode ?? 0));
          },
        );
        req.on('error', () => resolve(-1));
        req.end(body);
      });
    }

    const push = (extra: unknown) =>
      JSON.stringify({ object_kind: 'push', after: SHA, ref: 'refs/heads/main', project: { path_with_namespace: 'team/app' }, extra });

    it('a push nested up to 32 levels triggers; one level more is 400 and triggers nothing', async () => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 0, max: 40 }), fc.constantFrom('[', '{"k":'), async (levels, open) => {
          const close = open === '[' ? ']' : '}';
          const extra = JSON.parse(open.repeat(levels) + '0' + close.repeat(levels)) as unknown;
          const before = enqueued.length;
          const status = await post(push(extra));
          const depth = levels + 1; // the push object itself is one level
          if (depth <= MAX_JSON_DEPTH) {
            expect(status, `depth ${depth}`).to.equal(202);
            expect(enqueued.length - before).to.equal(1);
          } else {
            expect([400, -1], `depth ${depth}`).to.include(status);
            expect(enqueued.length - before, `depth ${depth}: nothing triggered`).to.equal(0);
          }
        }),
        { numRuns: 60 },
      );
    });

    it('each distinct delivery triggers once, however often and in whatever order its copies arrive', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.integer({ min: 0, max: 5 }), { minLength: 1, maxLength: 20 }),
          fc.string({ minLength: 1, maxLength: 8 }),
          async (ids, salt) => {
            const before = enqueued.length;
            const statuses: number[] = [];
            for (const id of ids) statuses.push(await post(push(null), { 'Idempotency-Key': `${salt}-${id}-${before}` }));
            const distinct = new Set(ids).size;
            expect(enqueued.length - before).to.equal(distinct);
            expect(statuses.filter((s) => s === 202)).to.have.length(distinct);
            expect(statuses.filter((s) => s === 200)).to.have.length(ids.length - distinct);
          },
        ),
        { numRuns: 30 },
      );
    });
  });
});
