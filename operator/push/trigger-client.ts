import { createHmac } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import { parseServiceProxyPath, type ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import type { Receiver, Secret } from '../flux/types.js';
import type { KubeClient } from '../kube/client.js';
import { usableToken } from '../reconcile/desired.js';

/**
 * Calls one Flux Receiver: POST `<endpoint><status.webhookPath>` with what its type checks (an HMAC of the
 * body for generic-hmac; X-Gitlab-Token and X-Gitlab-Event for gitlab). A service-proxy endpoint goes
 * through the Kubernetes API with the operator's credentials, and only to a service the link's trust policy
 * allow-lists. Retries with backoff on connection errors and 5xx (503: Receiver not ready yet) within a time
 * budget; a 404 means the webhook path changed (token rotated), so the path is read again before retrying.
 */
export type TriggerResult = 'delivered' | 'failed' | 'refused' | 'not-ready';

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
  if (!target) return { proxy: true, allowed: false, detail: 'endpoint is not a service-proxy path of the form /api/v1/namespaces/<ns>/services/<svc>/proxy' };
  const ok = spec.trust.serviceProxies.some((s) => s.namespace === target.namespace && s.name === target.service);
  return { proxy: true, allowed: ok, detail: ok ? `service proxy ${target.namespace}/${target.service}` : `service proxy ${target.namespace}/${target.service} is not allowed by spec.trust.serviceProxies` };
}

export class TriggerClient {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly agent = { http: new http.Agent({ keepAlive: true, maxSockets: 32 }), https: new https.Agent({ keepAlive: true, maxSockets: 32 }) };

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
      const receiver = this.deps.receiver(req.namespace, req.receiver);
      const token = usableToken(this.deps.secret(req.namespace, receiver?.spec.secretRef?.name ?? req.receiver));
      const path = receiver?.status?.webhookPath;
      const refused = receiver && eventRefused(receiver, req);
      if (refused) return { result: 'failed', attempts, detail: refused };
      if (path && token) {
        attempts++;
        req.onSend?.(attempts);
        const { status, body } = await this.post(req, proxy.proxy, path, token).catch((err: Error) => {
          last = `connection error: ${err.message}`;
          return { status: 0, body: '' };
        });
        if (status >= 200 && status < 300) return { result: 'delivered', attempts, detail: `HTTP ${status}` };
        if (status !== 0) last = body === '' ? `HTTP ${status}` : `HTTP ${status}: ${body}`;
        if (isPermanent(status, body)) return { result: 'failed', attempts, detail: last };
      } else {
        last = !receiver ? 'Receiver not found' : !path ? 'Receiver has no webhook path yet' : 'token Secret missing';
      }
      if (this.now() + delay > deadline) return { result: path && token ? 'failed' : 'not-ready', attempts, detail: last };
      await this.sleep(delay);
      delay = Math.min(delay * 2, 10_000);
    }
  }

  /** The status and the start of the answer's body, on one line (shown in lastTrigger and the log). */
  private post(req: TriggerRequest, viaProxy: boolean, webhookPath: string, token: string): Promise<{ status: number; body: string }> {
    const body = Buffer.from(req.body);
    const headers: Record<string, string> = { 'Content-Type': 'application/json', 'User-Agent': 'gitlab-flux-link' };
    if (req.spec.receiver.type === 'gitlab') {
      headers['X-Gitlab-Token'] = token;
      headers['X-Gitlab-Event'] = req.event;
    } else {
      headers['X-Signature'] = `sha256=${createHmac('sha256', token).update(body).digest('hex')}`;
    }
    const timeoutMs = this.deps.timeoutMs ?? 10_000;
    if (viaProxy) {
      const base = req.spec.receiver.endpoint.replace(/\/$/, '');
      return this.deps.client.request('POST', base + webhookPath, body, headers, timeoutMs).then((r) => ({ status: r.status, body: excerpt(r.body) }));
    }
    const url = new URL(req.spec.receiver.endpoint.replace(/\/$/, '') + webhookPath);
    const mod = url.protocol === 'https:' ? https : http;
    return new Promise((resolve, reject) => {
      const r = mod.request(url, { method: 'POST', headers: { ...headers, 'Content-Length': String(body.length) }, timeout: timeoutMs, agent: url.protocol === 'https:' ? this.agent.https : this.agent.http }, (res) => {
        // Only the start of the body is kept; the rest is read and dropped so the connection can be reused.
        const kept: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          if (size < MAX_DETAIL_BYTES) kept.push(c.subarray(0, MAX_DETAIL_BYTES - size));
          size += c.length;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: excerpt(Buffer.concat(kept), size) }));
        res.on('error', reject);
      });
      r.on('timeout', () => r.destroy(new Error(`timed out after ${timeoutMs} ms`)));
      r.on('error', reject);
      r.end(body);
    });
  }
}

/** How much of an answer's body is kept for the trigger's detail. */
const MAX_DETAIL_BYTES = 200;

/** The body's start as one line of printable text, marked when cut. */
function excerpt(body: Buffer, size = body.length): string {
  const text = body.subarray(0, MAX_DETAIL_BYTES).toString('utf8').replace(/[\p{Cc}\s]/gu, ' ').replace(/ +/g, ' ').trim();
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
