import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { parseServiceProxyPath, type ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import type { Receiver, Secret } from '../flux/types.js';
import { RECEIVER_WEBHOOK_PATH, receiverWebhookPath } from '../flux/webhook-path.js';
import type { KubeClient } from '../kube/client.js';
import { redactPaths } from '../meta/redact.js';
import { usableToken } from '../reconcile/desired.js';
import { TOKEN_KEY } from '../reconcile/names.js';

/**
 * Calls one Flux Receiver: POST `<endpoint>/hook/<sha256>` with what its type checks (an HMAC of the body
 * for generic-hmac; X-Gitlab-Token and X-Gitlab-Event for gitlab). A service-proxy endpoint goes through the
 * Kubernetes API with the operator's credentials, and only to a service the link's trust policy allow-lists.
 * Retries with backoff on connection errors and 5xx (503: Receiver not ready yet) within a time budget; a 404
 * means the webhook path changed (token rotated), so the Receiver and its token are read again before retrying.
 *
 * The path is the one notification-controller derives from the token, the Receiver's name and namespace
 * (`receiverWebhookPath`), never the one in `status.webhookPath`: that status is writable by whoever holds
 * Flux's `edit` role in the namespace. The status only tells whether notification-controller serves the path:
 * - absent, or well-formed (`/hook/<64 hex>`) but another path: not ready yet (a rotated token
 *   notification-controller has not seen, or a tampered status): nothing is sent, the trigger waits within its
 *   budget and ends `not-ready`;
 * - anything else: notification-controller never writes it, so someone else did: the trigger ends at once
 *   as `tampered`, nothing is sent.
 */
export type TriggerResult = 'delivered' | 'failed' | 'refused' | 'not-ready' | 'tampered';

export interface TriggerRequest {
  linkName: string;
  spec: ValidatedLinkSpec;
  namespace: string;
  receiver: string;
  event: 'Push Hook' | 'Tag Push Hook';
  body: string;
  /** Called just before each request to the Receiver is sent, with its attempt number (1 = first). */
  onSend?: (attempt: number) => void;
}

export interface TriggerDeps {
  client: KubeClient;
  receiver(namespace: string, name: string): Receiver | undefined;
  secret(namespace: string, name: string): Secret | undefined;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  timeoutMs?: number;
  /** Total time a trigger keeps retrying (a notification-controller restart takes tens of seconds). */
  budgetMs?: number;
}

export interface TriggerOutcome {
  result: TriggerResult;
  attempts: number;
  detail: string;
}

/** Anchored, allow-listed service-proxy check: the same rule the link's validation applies, at call time too. */
export function proxyAllowed(spec: ValidatedLinkSpec): { proxy: boolean; allowed: boolean; detail: string } {
  const endpoint = spec.receiver.endpoint;
  if (!endpoint.startsWith('/')) return { proxy: false, allowed: true, detail: 'direct' };
  const target = parseServiceProxyPath(endpoint);
  if (!target)
    return {
      proxy: true,
      allowed: false,
      detail: 'endpoint is not a service-proxy path of the form /api/v1/namespaces/<ns>/services/<svc>/proxy',
    };
  const ok = spec.trust.serviceProxies.some((s) => s.namespace === target.namespace && s.name === target.service);
  return {
    proxy: true,
    allowed: ok,
    detail: ok
      ? `service proxy ${target.namespace}/${target.service}`
      : `service proxy ${target.namespace}/${target.service} is not allowed by spec.trust.serviceProxies`,
  };
}

export class TriggerClient {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly agent = {
    http: new http.Agent({ keepAlive: true, maxSockets: 32 }),
    https: new https.Agent({ keepAlive: true, maxSockets: 32 }),
  };

  constructor(private readonly deps: TriggerDeps) {
    this.sleep = deps.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.now = deps.now ?? Date.now;
  }

  async trigger(req: TriggerRequest): Promise<TriggerOutcome> {
    const proxy = proxyAllowed(req.spec);
    if (!proxy.allowed) return { result: 'refused', attempts: 0, detail: proxy.detail };
    const deadline = this.now() + (this.deps.budgetMs ?? 120_000);
    let delay = 250;
    let attempts = 0;
    let last = '';
    while (true) {
      const target = this.target(req);
      if (target.kind === 'tampered') return { result: 'tampered', attempts, detail: TAMPERED };
      if (target.kind === 'refused') return { result: 'failed', attempts, detail: target.why };
      if (target.kind === 'wait') last = target.why;
      else {
        attempts++;
        req.onSend?.(attempts);
        const { status, body } = await this.post(req, proxy.proxy, target.path, target.token).catch((err: Error) => {
          last = `connection error: ${redactPaths(err.message)}`;
          return { status: 0, body: '' };
        });
        if (status >= 200 && status < 300) return { result: 'delivered', attempts, detail: `HTTP ${status}` };
        if (status !== 0) last = body === '' ? `HTTP ${status}` : `HTTP ${status}: ${body}`;
        if (isPermanent(status, body)) return { result: 'failed', attempts, detail: last };
      }
      if (this.now() + delay > deadline) return { result: target.kind === 'send' ? 'failed' : 'not-ready', attempts, detail: last };
      await this.sleep(delay);
      delay = Math.min(delay * 2, 10_000);
    }
  }

  /** Where to send and with which token, read afresh from the caches (a rotation changes both). */
  private target(
    req: TriggerRequest,
  ):
    | { kind: 'send'; path: string; token: string }
    | { kind: 'wait'; why: string }
    | { kind: 'refused'; why: string }
    | { kind: 'tampered' } {
    const receiver = this.deps.receiver(req.namespace, req.receiver);
    if (!receiver) return { kind: 'wait', why: 'Receiver not found' };
    const refused = eventRefused(receiver, req);
    if (refused) return { kind: 'refused', why: refused };
    const served = receiver.status?.webhookPath;
    if (!served) return { kind: 'wait', why: 'Receiver has no webhook path yet' };
    if (!RECEIVER_WEBHOOK_PATH.test(served)) return { kind: 'tampered' };
    const secret = this.deps.secret(req.namespace, receiver.spec.secretRef?.name ?? req.receiver);
    const token = usableToken(secret);
    if (!token) return { kind: 'wait', why: 'token Secret missing' };
    // notification-controller hashes the Secret's bytes as stored.
    const path = receiverWebhookPath(Buffer.from(secret!.data![TOKEN_KEY]!, 'base64'), req.receiver, req.namespace);
    if (served !== path)
      return {
        kind: 'wait',
        why: 'Receiver status.webhookPath is not the path of its token: notification-controller has not seen the current token yet, or the status was changed by someone else; nothing sent',
      };
    return { kind: 'send', path, token };
  }

  /**
   * The status and the start of the answer's body, on one line (shown in lastTrigger and the log). Async, so
   * that anything thrown here (a URL that cannot be built) is this attempt's error, never the queue's.
   */
  private async post(
    req: TriggerRequest,
    viaProxy: boolean,
    webhookPath: string,
    token: string,
  ): Promise<{ status: number; body: string }> {
    const body = Buffer.from(req.body);
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'gitlab-flux-link' };
    if (req.spec.receiver.type === 'gitlab') {
      headers['X-Gitlab-Token'] = token;
      headers['X-Gitlab-Event'] = req.event;
    } else {
      headers['X-Signature'] = `sha256=${createHmac('sha256', token).update(body).digest('hex')}`;
    }
    const timeoutMs = this.deps.timeoutMs ?? 10_000;
    const url = receiverURL(req.spec.receiver.endpoint, webhookPath);
    if (viaProxy)
      return this.deps.client
        .request('POST', url.pathname, body, headers, timeoutMs)
        .then((r) => ({ status: r.status, body: excerpt(r.body) }));
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const r = mod.request(
        url,
        {
          method: 'POST',
          headers: { ...headers, 'Content-Length': String(body.length) },
          timeout: timeoutMs,
          agent: url.protocol === 'https:' ? this.agent.https : this.agent.http,
        },
        (res) => {
          // Only the start of the body is kept; the rest is read and dropped so the connection can be reused.
          const kept: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            if (size < MAX_DETAIL_BYTES) kept.push(c.subarray(0, MAX_DETAIL_BYTES - size));
            size += c.length;
          });
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body: excerpt(Buffer.concat(kept), size) }));
          res.on('error', reject);
        },
      );
      r.on('timeout', () => r.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      r.on('error', reject);
      r.end(body);
    });
  }
}

const TAMPERED =
  'Receiver status.webhookPath is not a path notification-controller writes (/hook/<sha256>): changed by someone else; nothing sent';

/** Where a service-proxy endpoint (a path of the API server) is resolved; only its path is ever used. */
const API_SERVER_BASE = 'https://kubernetes.invalid';

/**
 * The endpoint with the webhook path appended to its own path (one trailing slash dropped), built with the
 * URL API: the webhook path can only ever extend the path, never reach the host, port or user part. A
 * service-proxy endpoint (a path) is resolved against a placeholder origin and only its path is sent.
 */
export function receiverURL(endpoint: string, webhookPath: string): URL {
  if (!RECEIVER_WEBHOOK_PATH.test(webhookPath)) throw new Error('not a Receiver webhook path (/hook/<sha256>)');
  const url = new URL(endpoint, API_SERVER_BASE);
  if (endpoint.startsWith('/') && url.origin !== API_SERVER_BASE)
    throw new Error('a service-proxy endpoint must be a path of the API server');
  url.pathname = url.pathname.replace(/\/$/, '') + webhookPath;
  return url;
}

/** How much of an answer's body is kept for the trigger's detail. */
const MAX_DETAIL_BYTES = 200;

/** The body's start as one line of printable text (webhook paths redacted), marked when cut. */
function excerpt(body: Buffer, size = body.length): string {
  const text = redactPaths(body.subarray(0, MAX_DETAIL_BYTES).toString('utf8'))
    .replace(/[\p{Cc}\s]/gu, ' ')
    .replace(/ +/g, ' ')
    .trim();
  return size > MAX_DETAIL_BYTES ? `${text}…` : text;
}

/**
 * A 4xx the receiver will answer again to the same request, so retrying cannot help. Not permanent: 404
 * (the webhook path changed: read again), 408/429 (come back later), and a 400 with an empty body.
 * notification-controller answers every request it cannot validate with a bare 400 (its receiver handler
 * writes the status only; "unable to validate payload" and the cause go to its log). That includes failing to
 * read the Receiver's token Secret from the API server, as during an outage (e2e `outage`), so a bare 400 may
 * pass. Its permanent 400s for our requests are an event the Receiver does not list (checked before sending:
 * `eventRefused`) or a token mismatch, which lasts only while a rotated token reaches its cache. A 400 with a
 * body is not notification-controller's validation (a proxy, the API server's service proxy, another server):
 * the same request gets the same answer, so it fails at once and is shown as it is.
 */
export function isPermanent(status: number, body = ''): boolean {
  if (status === 400) return body !== '';
  return status >= 400 && status < 500 && ![404, 408, 429].includes(status);
}

/**
 * A gitlab-type Receiver checks X-Gitlab-Event against its spec.events (case-insensitively) and answers 400
 * for any other event, every time: such a trigger is not sent. generic-hmac Receivers ignore events.
 */
function eventRefused(receiver: Receiver, req: TriggerRequest): string | undefined {
  const events = receiver.spec.events ?? [];
  if (req.spec.receiver.type !== 'gitlab' || receiver.spec.type !== 'gitlab' || events.length === 0) return undefined;
  if (events.some((e) => e.toLowerCase() === req.event.toLowerCase())) return undefined;
  return `Receiver ${req.namespace}/${req.receiver} does not accept X-Gitlab-Event ${JSON.stringify(req.event)} (spec.events)`;
}
