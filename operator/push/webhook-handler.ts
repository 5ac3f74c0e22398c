import type http from 'node:http';
import type { SecretKeyRef } from '../api/v1alpha1/types.js';
import type { ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import type { Logger } from '../observability/logger.js';
import { text, type Route } from '../server/http-server.js';
import { checkSignature, checkToken, weakSecretMessage, weakSigningKeyReason, weakTokenReason, type WebhookSecretField } from '../gitlab/webhook-auth.js';
import { parseEvent, type Push } from '../gitlab/webhook-event.js';
import type { Target } from './receiver-index.js';
import { shouldTrigger } from './ref-match.js';

/**
 * POST /hooks/<link>: GitLab's webhooks in. The request is authenticated, parsed and mapped to Receivers,
 * the triggers are queued, and the answer goes out before any Receiver is called, so its time does not grow
 * with the number of repositories (GitLab disables hooks that answer slowly).
 *
 * Answers: 202 push accepted (triggers queued, possibly none); 200 authenticated event that is not a push;
 * 400 malformed; 401 wrong or missing token or signature; 404 unknown link (or one whose spec is invalid);
 * 405 not POST; 413 too large; 202 for a suspended link (authenticated, nothing triggered);
 * 503 the link's webhook Secret cannot be read, or holds a value too weak to authenticate anything
 * (gitlab/webhook-auth.ts: a token under 16 characters, a signing key under 16 bytes or not canonical base64;
 * the link's WebhookSecretReady condition says the same).
 */
export const HOOK_PREFIX = '/hooks/';
/** GitLab sends at most 20 commits in a push payload, but their file lists can be long; 5 MiB is ample. */
export const MAX_BODY_BYTES = 5 * 1024 * 1024;

export interface WebhookDeps {
  log: Logger;
  /** The validated spec of a link that exists and can receive pushes. */
  linkSpec(name: string): ValidatedLinkSpec | undefined;
  /** Reads a key of a Secret (cached briefly); undefined when the Secret or key is missing. */
  secretValue(ref: Required<SecretKeyRef>): Promise<string | undefined>;
  projectAllowed(link: string, project: string): boolean;
  targets(link: string, project: string): Target[];
  /** `receivedAt`: process.hrtime.bigint() when the webhook request reached the route. */
  enqueue(link: string, push: Push, target: Target, receivedAt: bigint): void;
  /** One call per webhook answered: its result and the seconds from reaching the route to the answer written. */
  observe(result: string, seconds: number): void;
  recordPush(link: string, push: Push, now: Date): void;
  now?: () => Date;
  maxBodyBytes?: number;
}

type Answer = { status: number; body: string; result: string };

export function webhookRoute(deps: WebhookDeps): Route {
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
    const answer = await handle(deps, req, linkName, receivedAt);
    if (answer.status === 413) {
      // The rest of the body is not read: close after the answer is out, so the client still gets it.
      res.setHeader('Connection', 'close');
      res.once('finish', () => req.destroy());
    }
    if (!res.headersSent) text(res, answer.status, answer.body);
    deps.observe(answer.result, Number(process.hrtime.bigint() - receivedAt) / 1e9);
    return true;
  };
}

async function handle(deps: WebhookDeps, req: http.IncomingMessage, linkName: string, receivedAt: bigint): Promise<Answer> {
  const now = deps.now?.() ?? new Date();
  if (req.method !== 'POST') return { status: 405, body: 'only POST', result: 'method_not_allowed' };
  const spec = deps.linkSpec(linkName);
  if (!spec) {
    req.resume();
    return { status: 404, body: 'no such GitLabFluxLink', result: 'unknown_link' };
  }
  const limit = deps.maxBodyBytes ?? MAX_BODY_BYTES;
  if (Number(req.headers['content-length'] ?? 0) > limit) return { status: 413, body: `body larger than ${limit} bytes`, result: 'too_large' };

  // The token is in a header: check it before reading the body, so an unauthenticated client cannot make
  // the operator hold up to `limit` bytes per connection (node discards the unread body after the answer).
  const token = await deps.secretValue(spec.webhook.secretRef);
  if (token === undefined) {
    deps.log.warn('webhook Secret unreadable: refusing the webhook', { link: linkName, secretNamespace: spec.webhook.secretRef.namespace, secretName: spec.webhook.secretRef.name });
    return { status: 503, body: 'webhook secret not available', result: 'secret_missing' };
  }
  const weakToken = weakTokenReason(token);
  if (weakToken) return weakSecret(deps, linkName, 'spec.webhook.secretRef', spec.webhook.secretRef, weakToken);
  const auth = checkToken(header(req, 'x-gitlab-token'), token);
  if (!auth.ok) return { status: 401, body: 'unauthorized', result: 'unauthorized' };

  const body = await readBody(req, limit);
  if (body === 'too-large') return { status: 413, body: `body larger than ${limit} bytes`, result: 'too_large' };
  if (body === 'aborted') return { status: 400, body: 'request aborted', result: 'aborted' };
  if (spec.webhook.signingSecretRef) {
    const key = await deps.secretValue(spec.webhook.signingSecretRef);
    if (key === undefined) return { status: 503, body: 'signing secret not available', result: 'secret_missing' };
    const weakKey = weakSigningKeyReason(key);
    if (weakKey) return weakSecret(deps, linkName, 'spec.webhook.signingSecretRef', spec.webhook.signingSecretRef, weakKey);
    const sig = checkSignature({ id: header(req, 'webhook-id'), timestamp: header(req, 'webhook-timestamp'), signature: header(req, 'webhook-signature') }, body, key, Math.floor(now.getTime() / 1000));
    if (!sig.ok) return { status: 401, body: 'unauthorized', result: 'bad_signature' };
  }

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

  deps.recordPush(linkName, event, now);
  if (!deps.projectAllowed(linkName, event.project)) {
    deps.log.info('push ignored: project not allowed by the trust policy', { link: linkName, project: event.project });
    return { status: 202, body: 'accepted: project not allowed by the link\'s trust policy', result: 'untrusted_project' };
  }
  const targets = deps.targets(linkName, event.project).filter((t) => shouldTrigger(t.ref, { ref: event.ref, deleted: event.deleted }));
  for (const t of targets) deps.enqueue(linkName, event, t, receivedAt);
  deps.log.info('push accepted', { link: linkName, project: event.project, ref: event.ref, deleted: event.deleted, receivers: targets.length });
  return { status: 202, body: `accepted: ${targets.length} receiver(s) to trigger`, result: 'accepted' };
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

/** Reads at most `limit` bytes; a larger body stops the read at once. */
function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | 'too-large' | 'aborted'> {
  // The read starts after an await (the token check): the client may have gone meanwhile, and its
  // 'aborted' and 'close' events with it.
  if (req.destroyed) return Promise.resolve('aborted');
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        req.removeAllListeners('data');
        req.pause();
        resolve('too-large');
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('aborted', () => resolve('aborted'));
    req.on('error', () => resolve('aborted'));
    req.on('close', () => resolve('aborted')); // after 'end' this changes nothing: a promise settles once
  });
}
