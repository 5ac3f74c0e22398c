import { createHash } from 'node:crypto';
import type http from 'node:http';
import type { SecretKeyRef } from '../api/v1alpha1/types.js';
import type { ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import type { Logger } from '../observability/logger.js';
import { LogRateLimit } from '../observability/log-rate-limit.js';
import { text, type Route } from '../server/http-server.js';
import { JsonShapeScanner, MAX_JSON_DEPTH, MAX_JSON_VALUES, type JsonShapeVerdict } from '../server/json-limits.js';
import {
  checkSignature,
  checkToken,
  weakSecretMessage,
  weakSigningKeyReason,
  weakTokenReason,
  type WebhookSecretField,
} from '../gitlab/webhook-auth.js';
import { parseEvent, type Push } from '../gitlab/webhook-event.js';
import type { Target } from './receiver-index.js';
import { RecentDeliveries } from './recent-deliveries.js';
import { shouldTrigger } from './ref-match.js';

/**
 * POST /hooks/<link>: GitLab's webhooks in. The request is authenticated, parsed and mapped to Receivers,
 * the triggers are queued, and the answer goes out before any Receiver is called, so its time does not grow
 * with the number of repositories (GitLab disables hooks that answer slowly).
 *
 * Answers: 202 push accepted (triggers queued, possibly none); 200 authenticated event that is not a push,
 * or a delivery accepted already (a replay or GitLab's retry: see `deliveryIds`);
 * 400 malformed, or nested deeper / holding more values than server/json-limits.ts allows (refused while
 * the body is read, before any parse); 401 wrong or missing token or signature; 404 unknown link (or one
 * whose spec is invalid); 405 not POST; 413 too large; 202 for a suspended link (authenticated, nothing
 * triggered); 503 with Retry-After when `maxBodyReads` large bodies are being read already;
 * 503 the link's webhook Secret cannot be read, or holds a value too weak to authenticate anything
 * (gitlab/webhook-auth.ts: a token under 16 characters, a signing key under 16 bytes or not canonical base64;
 * the link's WebhookSecretReady condition says the same).
 */
export const HOOK_PREFIX = '/hooks/';
/** A refused token is judged again by a Secret value at most this old (a rotation just made). */
export const TOKEN_RECHECK_MAX_AGE_MS = 1_000;
/** GitLab sends at most 20 commits in a push payload, but their file lists can be long; 5 MiB is ample. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;
/** How far a signed webhook's timestamp may be from now (Standard Webhooks' 5 minutes). */
export const SIGNATURE_TOLERANCE_SECONDS = 300;
/**
 * Accepted deliveries are remembered for twice the tolerance: a timestamp may be up to 5 minutes ahead and
 * stays valid until 5 minutes past, so a signed delivery can be replayed for 10 minutes at most.
 */
export const DELIVERY_MEMORY_MS = 2 * SIGNATURE_TOLERANCE_SECONDS * 1000;
/** Deliveries remembered at most (about 180 bytes each: ~18 MiB), i.e. 166 a second for 10 minutes. */
export const DEFAULT_MAX_DELIVERIES_REMEMBERED = 100_000;
/**
 * Large webhook bodies read (and parsed) at once, per process: 16 × 5 MiB bounds what token holders can make
 * the operator hold. A large body is one that declares more than SMALL_BODY_BYTES or no length at all
 * (chunked). GitLab's push bodies are a few KiB with a Content-Length: they take no slot, so a burst of
 * GitLab's concurrent deliveries is never turned away; at most HTTP_MAX_CONNECTIONS of them hold 64 KiB each.
 */
export const DEFAULT_MAX_BODY_READS = 16;
export const SMALL_BODY_BYTES = 64 * 1024;

export interface WebhookDeps {
  log: Logger;
  /** The validated spec of a link that exists and can receive pushes. */
  linkSpec(name: string): ValidatedLinkSpec | undefined;
  /** Reads a key of a Secret (cached briefly); undefined when the Secret or key is missing. */
  secretValue(ref: Required<SecretKeyRef>, opts?: { maxAgeMs?: number }): Promise<string | undefined>;
  projectAllowed(link: string, project: string): boolean;
  targets(link: string, project: string): Target[];
  /** `receivedAt`: process.hrtime.bigint() when the webhook request reached the route. */
  enqueue(link: string, push: Push, target: Target, receivedAt: bigint): void;
  /** One call per webhook answered: its result and the seconds from reaching the route to the answer written. */
  observe(result: string, seconds: number): void;
  recordPush(link: string, push: Push, now: Date): void;
  now?: () => Date;
  maxBodyBytes?: number;
  /** Accepted deliveries remembered to refuse replays (default DEFAULT_MAX_DELIVERIES_REMEMBERED). */
  maxDeliveriesRemembered?: number;
  /** Bodies read at once (default DEFAULT_MAX_BODY_READS). */
  maxBodyReads?: number;
}

/** `close`: the rest of the body is not read; the connection is closed once the answer is out. */
type Answer = { status: number; body: string; result: string; close?: boolean; retryAfterSeconds?: number };

/** The "webhook Secret unreadable" warning, per link and field: any client can provoke it, so at most once a minute. */
export const SECRET_WARNING_INTERVAL_MS = 60_000;

/** What the route keeps across requests. */
interface RouteState {
  deliveries: RecentDeliveries;
  /** Large bodies being read now, and the bound. */
  bodyReads: { active: number; max: number };
  secretWarnings: LogRateLimit;
}

/** An authenticated request on its way to an answer. */
interface Authenticated {
  req: http.IncomingMessage;
  linkName: string;
  spec: ValidatedLinkSpec;
  limit: number;
  now: Date;
  receivedAt: bigint;
}

export function webhookRoute(deps: WebhookDeps): Route {
  const state: RouteState = {
    secretWarnings: new LogRateLimit(SECRET_WARNING_INTERVAL_MS),
    deliveries: new RecentDeliveries({
      ttlMs: DELIVERY_MEMORY_MS,
      maxEntries: deps.maxDeliveriesRemembered ?? DEFAULT_MAX_DELIVERIES_REMEMBERED,
      now: () => (deps.now?.() ?? new Date()).getTime(),
    }),
    bodyReads: { active: 0, max: deps.maxBodyReads ?? DEFAULT_MAX_BODY_READS },
  };
  return async (req, res) => {
    const receivedAt = process.hrtime.bigint();
    const path = (req.url ?? '').split('?')[0];
    if (!path.startsWith(HOOK_PREFIX)) return false;
    let linkName: string;
    try {
      linkName = decodeURIComponent(path.slice(HOOK_PREFIX.length));
    } catch {
      linkName = ''; // not valid percent-encoding: no link has such a name
    }
    const answer = await handle(deps, state, req, linkName, receivedAt);
    if (answer.retryAfterSeconds !== undefined) res.setHeader('Retry-After', String(answer.retryAfterSeconds));
    if (answer.status === 413 || answer.close) {
      // The rest of the body is not read: close after the answer is out, so the client still gets it.
      res.setHeader('Connection', 'close');
      res.once('finish', () => req.destroy());
    }
    if (!res.headersSent) text(res, answer.status, answer.body);
    deps.observe(answer.result, Number(process.hrtime.bigint() - receivedAt) / 1e9);
    return true;
  };
}

async function handle(
  deps: WebhookDeps,
  state: RouteState,
  req: http.IncomingMessage,
  linkName: string,
  receivedAt: bigint,
): Promise<Answer> {
  const { bodyReads, secretWarnings } = state;
  const now = deps.now?.() ?? new Date();
  if (req.method !== 'POST') return { status: 405, body: 'only POST', result: 'method_not_allowed' };
  const spec = deps.linkSpec(linkName);
  if (!spec) {
    req.resume();
    return { status: 404, body: 'no such GitLabFluxLink', result: 'unknown_link' };
  }
  const limit = deps.maxBodyBytes ?? MAX_BODY_BYTES;
  if (Number(req.headers['content-length'] ?? 0) > limit)
    return { status: 413, body: `body larger than ${limit} bytes`, result: 'too_large' };

  // The token is in a header: check it before reading the body, so an unauthenticated client cannot make
  // the operator hold up to `limit` bytes per connection (node discards the unread body after the answer).
  const token = await deps.secretValue(spec.webhook.secretRef);
  if (token === undefined) {
    secretUnreadable(deps, secretWarnings, linkName, 'spec.webhook.secretRef', spec.webhook.secretRef, now);
    return { status: 503, body: 'webhook secret not available', result: 'secret_missing' };
  }
  const weakToken = weakTokenReason(token);
  if (weakToken) return weakSecret(deps, linkName, 'spec.webhook.secretRef', spec.webhook.secretRef, weakToken);
  let auth = checkToken(header(req, 'x-gitlab-token'), token);
  if (!auth.ok) {
    // The Secret may have just been rotated: with spec.gitlab.api the operator re-keys its own GitLab hooks within
    // a pass, before the cached value expires. Judge once more by a value at most a second old (at most one GET
    // a second per Secret, whatever is sent) before refusing.
    const fresh = await deps.secretValue(spec.webhook.secretRef, { maxAgeMs: TOKEN_RECHECK_MAX_AGE_MS });
    if (fresh !== undefined && fresh !== token && !weakTokenReason(fresh)) auth = checkToken(header(req, 'x-gitlab-token'), fresh);
  }
  if (!auth.ok) return { status: 401, body: 'unauthorized', result: 'unauthorized' };

  // Reading and parsing a large body is the expensive part: bounded per process, refused at once when full.
  const declared = req.headers['content-length'];
  const authenticated: Authenticated = { req, linkName, spec, limit, now, receivedAt };
  if (declared !== undefined && Number(declared) <= SMALL_BODY_BYTES) return authenticatedBody(deps, state, authenticated);
  if (bodyReads.active >= bodyReads.max)
    return {
      status: 503,
      body: 'busy: too many large webhook bodies being read, retry',
      result: 'busy',
      close: true,
      retryAfterSeconds: 1,
    };
  bodyReads.active++;
  try {
    return await authenticatedBody(deps, state, authenticated);
  } finally {
    bodyReads.active--;
  }
}

async function authenticatedBody(deps: WebhookDeps, state: RouteState, request: Authenticated): Promise<Answer> {
  const { req, linkName, spec, limit, now, receivedAt } = request;
  const { deliveries } = state;
  // A signed webhook is kept whole (within the limit) so that its signature is judged before its shape; an
  // unsigned one is not kept past a shape limit. Either way nothing past a limit is scanned further or parsed.
  const read = await readBody(req, limit, spec.webhook.signingSecretRef !== undefined);
  if (read === 'too-large') return { status: 413, body: `body larger than ${limit} bytes`, result: 'too_large' };
  if (read === 'aborted') return { status: 400, body: 'request aborted', result: 'aborted' };
  const chunked = req.headers['content-length'] === undefined; // cut off mid-body: closed after the answer
  const shapeRefused = (shape: JsonShapeVerdict): Answer | undefined => {
    if (shape === 'too-deep') return { status: 400, body: `body nests deeper than ${MAX_JSON_DEPTH}`, result: 'malformed', close: chunked };
    if (shape === 'too-many-values')
      return { status: 400, body: `body holds more than ${MAX_JSON_VALUES} JSON values`, result: 'malformed', close: chunked };
    return undefined;
  };
  if (read.kind === 'cut') return shapeRefused(read.shape)!;
  const body = read.body;
  if (spec.webhook.signingSecretRef) {
    const key = await deps.secretValue(spec.webhook.signingSecretRef);
    if (key === undefined) {
      secretUnreadable(deps, state.secretWarnings, linkName, 'spec.webhook.signingSecretRef', spec.webhook.signingSecretRef, now);
      return { status: 503, body: 'signing secret not available', result: 'secret_missing' };
    }
    const weakKey = weakSigningKeyReason(key);
    if (weakKey) return weakSecret(deps, linkName, 'spec.webhook.signingSecretRef', spec.webhook.signingSecretRef, weakKey);
    const sig = checkSignature(
      { id: header(req, 'webhook-id'), timestamp: header(req, 'webhook-timestamp'), signature: header(req, 'webhook-signature') },
      body,
      key,
      Math.floor(now.getTime() / 1000),
      SIGNATURE_TOLERANCE_SECONDS,
    );
    if (!sig.ok) return { status: 401, body: 'unauthorized', result: 'bad_signature' };
  }
  const refused = shapeRefused(read.shape);
  if (refused) return refused;

  // From here on nothing awaits: looking the delivery up, acting on it and remembering it are one step, so
  // two copies arriving together cannot both pass.
  const ids = deliveryIds(req, linkName, spec.webhook.signingSecretRef !== undefined, body);
  if (ids.some((id) => deliveries.has(id)))
    return { status: 200, body: 'ignored: duplicate delivery, accepted already', result: 'duplicate' };
  const answer = accept(deps, req, linkName, spec, body, now, receivedAt);
  // Only accepted deliveries: GitLab's retry of one refused (a 503 meanwhile) must be judged afresh.
  if (answer.status < 300) for (const id of ids) deliveries.add(id);
  return answer;
}

/**
 * What identifies a delivery across its copies, per link:
 * - `webhook-id` of a signed webhook (Standard Webhooks: the same for every retry of a message). It is
 *   covered by the signature, so a replay within the 5-minute window cannot change it;
 * - `Idempotency-Key` (GitLab: the same across retries of one delivery) or `X-Gitlab-Event-UUID` (one per
 *   event), each together with a digest of the body: a copy is the same id with the same payload. (GitLab
 *   reuses an Event-UUID for events caused by a webhook's own API calls; their payloads differ.) A token
 *   holder can change these freely; they stop plain copies — a captured request sent again, GitLab's
 *   retries — which would cost a trigger each.
 * A repeat is answered 200: it is a copy of a delivery that was accepted, and GitLab retries what it saw fail
 * (a timeout after our 202 is enough), so any other answer would count towards disabling the hook.
 */
function deliveryIds(req: http.IncomingMessage, link: string, signed: boolean, body: Buffer): string[] {
  const ids: string[] = [];
  const signedId = signed ? header(req, 'webhook-id') : undefined;
  if (signedId) ids.push(`${link}\nwebhook-id\n${signedId}`);
  const unsigned = [
    ['idempotency-key', header(req, 'idempotency-key')],
    ['event-uuid', header(req, 'x-gitlab-event-uuid')],
  ].filter(([, v]) => v);
  if (unsigned.length > 0) {
    const payload = createHash('sha256').update(body).digest('base64');
    for (const [kind, value] of unsigned) ids.push(`${link}\n${kind}\n${value}\n${payload}`);
  }
  return ids;
}

/** An authenticated delivery, not seen before: parse it and queue its triggers. Synchronous on purpose. */
function accept(
  deps: WebhookDeps,
  req: http.IncomingMessage,
  linkName: string,
  spec: ValidatedLinkSpec,
  body: Buffer,
  now: Date,
  receivedAt: bigint,
): Answer {
  // Suspended: authenticated pushes are acknowledged (GitLab disables hooks that keep failing) and dropped.
  if (spec.suspend) return { status: 202, body: 'accepted: link suspended, nothing triggered', result: 'suspended' };

  let json: unknown;
  try {
    json = JSON.parse(body.toString('utf8'));
  } catch {
    return { status: 400, body: 'body is not valid JSON', result: 'malformed' };
  }
  const event = parseEvent(header(req, 'x-gitlab-event'), json);
  if (event.kind === 'invalid') return { status: 400, body: event.message, result: 'malformed' };
  if (event.kind === 'ignored') return { status: 200, body: `ignored: ${event.reason}`, result: 'ignored' };

  // A group hook (docs/adr/0020-group-hooks.md) also sends the pushes of the group's projects no GitRepository of
  // this link follows: answered 200 at once, before any record, log or status write (cheap, and a 2xx, so GitLab
  // never counts them towards disabling the hook), counted as `unlinked_project`.
  const followed = deps.targets(linkName, event.project);
  if (followed.length === 0 && deps.projectAllowed(linkName, event.project))
    return { status: 200, body: 'ignored: no GitRepository of this link follows the project', result: 'unlinked_project' };
  deps.recordPush(linkName, event, now);
  if (!deps.projectAllowed(linkName, event.project)) {
    deps.log.info('push ignored: project not allowed by the trust policy', { link: linkName, project: event.project });
    return { status: 202, body: "accepted: project not allowed by the link's trust policy", result: 'untrusted_project' };
  }
  const targets = followed.filter((t) => shouldTrigger(t.ref, { ref: event.ref, deleted: event.deleted }));
  for (const t of targets) deps.enqueue(linkName, event, t, receivedAt);
  deps.log.info('push accepted', {
    link: linkName,
    project: event.project,
    ref: event.ref,
    deleted: event.deleted,
    receivers: targets.length,
  });
  return { status: 202, body: `accepted: ${targets.length} receiver(s) to trigger`, result: 'accepted' };
}

/**
 * A webhook Secret (token or signing key) that cannot be read: the webhook is refused (503) and a warning
 * names the field and the Secret (never a value), at most once a minute per link and field, since any client
 * can provoke it; the next one counts those held back.
 */
function secretUnreadable(
  deps: WebhookDeps,
  warnings: LogRateLimit,
  link: string,
  field: WebhookSecretField,
  ref: Required<SecretKeyRef>,
  now: Date,
): void {
  const suppressed = warnings.take(`${link} ${field}`, now.getTime());
  if (suppressed === undefined) return;
  // Not named "secret…": the logger blanks fields named like a secret, and these say which Secret to fix.
  const fields = { link, field, namespace: ref.namespace, name: ref.name };
  deps.log.warn('webhook Secret unreadable: refusing the webhook', suppressed ? { ...fields, suppressed } : fields);
}

/** A webhook Secret whose value authenticates nothing: refused as unavailable, the field named in the log. */
function weakSecret(deps: WebhookDeps, link: string, field: WebhookSecretField, ref: Required<SecretKeyRef>, reason: string): Answer {
  deps.log.warn(`webhook refused: ${weakSecretMessage(field, ref, reason)}`, { link });
  return { status: 503, body: 'webhook secret not acceptable', result: 'secret_weak' };
}

function header(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** A body read whole (with the verdict on its shape), or refused for its shape and not kept. */
type BodyRead = { kind: 'whole'; body: Buffer; shape: JsonShapeVerdict } | { kind: 'cut'; shape: Exclude<JsonShapeVerdict, 'ok'> };

/**
 * Reads at most `limit` bytes (a larger body stops the read at once), scanning the JSON shape on the way.
 * Past a shape limit nothing more is scanned, and unless `keepPastShape` (a signed webhook, whose signature
 * is judged on the whole body first) nothing more is kept: a body with a Content-Length is read to its end
 * and dropped, so the client, still sending, reads its answer rather than a reset; a chunked one, which has
 * no end to wait for, is cut off at once.
 */
function readBody(req: http.IncomingMessage, limit: number, keepPastShape: boolean): Promise<BodyRead | 'too-large' | 'aborted'> {
  // The read starts after an await (the token check): the client may have gone meanwhile, and its
  // 'aborted' and 'close' events with it.
  if (req.destroyed) return Promise.resolve('aborted');
  const chunked = req.headers['content-length'] === undefined;
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    const scanner = new JsonShapeScanner();
    let shape: JsonShapeVerdict = 'ok';
    let size = 0;
    const stop = (why: 'too-large' | BodyRead) => {
      req.removeAllListeners('data');
      req.pause();
      resolve(why);
    };
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) return stop('too-large');
      if (shape === 'ok') shape = scanner.feed(c);
      if (shape === 'ok' || keepPastShape) return void chunks.push(c);
      chunks = [];
      if (chunked) stop({ kind: 'cut', shape });
    });
    req.on('end', () =>
      resolve(shape === 'ok' || keepPastShape ? { kind: 'whole', body: Buffer.concat(chunks), shape } : { kind: 'cut', shape }),
    );
    req.on('aborted', () => resolve('aborted'));
    req.on('error', () => resolve('aborted'));
    req.on('close', () => resolve('aborted')); // after 'end' this changes nothing: a promise settles once
  });
}
