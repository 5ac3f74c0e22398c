import { KubeConfig } from '@kubernetes/client-node';
import http from 'node:http';
import https from 'node:https';
import type { KubeObject } from '../meta/object.js';
import { redactPaths } from '../meta/redact.js';
import { apiVersionOf, type Resource } from '../meta/resource.js';
import { resourceLabel, resourcePath } from './resources.js';

/**
 * The operator's own client for the Kubernetes API: every read and write of the reconcile path goes through
 * it, with errors that carry the HTTP status and the API's reason. (@dot-i/k8s-operator swallows errors on
 * some writes and the generated @kubernetes/client-node APIs hide the status behind exceptions; here a
 * conflict or a 404 is a value the caller decides about.) Authentication comes from @kubernetes/client-node's
 * KubeConfig (kubeconfig file, in-cluster service account, exec plugins).
 */

export class KubeError extends Error {
  constructor(
    readonly status: number,
    readonly reason: string,
    message: string,
  ) {
    super(message);
    this.name = 'KubeError';
  }
}

export const isNotFound = (e: unknown) => e instanceof KubeError && e.status === 404;
export const isConflict = (e: unknown) => e instanceof KubeError && e.status === 409 && e.reason === 'Conflict';
export const isAlreadyExists = (e: unknown) => e instanceof KubeError && e.status === 409 && e.reason === 'AlreadyExists';

export interface ListOptions {
  namespace?: string;
  labelSelector?: string;
  fieldSelector?: string;
  limit?: number;
  continue?: string;
  resourceVersion?: string;
}

export interface ListResult<T> {
  items: T[];
  resourceVersion: string;
}

export type PatchType = 'merge' | 'json' | 'apply';
const PATCH_CONTENT_TYPES: Record<PatchType, string> = {
  merge: 'application/merge-patch+json',
  json: 'application/json-patch+json',
  apply: 'application/apply-patch+yaml',
};

export interface WatchEvent<T> {
  type: 'ADDED' | 'MODIFIED' | 'DELETED' | 'BOOKMARK' | 'ERROR';
  object: T;
}

export interface WatchHandle {
  /** Resolves when the stream ends; rejects with a KubeError (e.g. 410 Gone) or a connection error. */
  done: Promise<void>;
  abort(): void;
}

/** Counts requests by verb and resource; the metrics module and the benchmarks read it. */
export type RequestObserver = (verb: string, resource: string, status: number, seconds: number) => void;

export interface KubeClient {
  get<T extends KubeObject>(r: Resource, namespace: string | undefined, name: string): Promise<T | undefined>;
  list<T extends KubeObject>(r: Resource, opts?: ListOptions): Promise<ListResult<T>>;
  create<T extends KubeObject>(r: Resource, obj: T): Promise<T>;
  replace<T extends KubeObject>(r: Resource, obj: T, subresource?: 'status'): Promise<T>;
  patch<T extends KubeObject>(
    r: Resource,
    namespace: string | undefined,
    name: string,
    body: unknown,
    type: PatchType,
    opts?: { subresource?: 'status'; fieldManager?: string; force?: boolean },
  ): Promise<T>;
  delete(r: Resource, namespace: string | undefined, name: string, opts?: { uid?: string; resourceVersion?: string }): Promise<boolean>;
  /** timeoutSeconds: the API server ends the watch cleanly after that long. */
  watch<T extends KubeObject>(
    r: Resource,
    opts: ListOptions & { resourceVersion: string; timeoutSeconds?: number },
    onEvent: (e: WatchEvent<T>) => void,
  ): WatchHandle;
  /** A raw request to a path of the API server (the service proxy); returns status and body. */
  request(
    method: string,
    path: string,
    body: Buffer | undefined,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number; body: Buffer }>;
}

export interface HttpKubeClientOptions {
  kubeConfig: KubeConfig;
  fieldManager?: string;
  requestTimeoutMs?: number;
  observe?: RequestObserver;
  userAgent?: string;
}

/** One request to the API server, as HttpKubeClient.send makes it. */
interface SendRequest {
  method: string;
  /** Path and query, below the cluster's base URL. */
  path: string;
  body?: string | Buffer;
  contentType?: string;
  /** What the RequestObserver counts the request as: a verb ('get', 'watch', …) and a resource ('secrets', 'services/proxy', …). */
  verb: string;
  resource: string;
  /** Takes a 200 answer as a stream instead of reading it whole (watches); the promise then never settles. */
  stream?: (res: http.IncomingMessage) => void;
  /** Socket idle timeout; 0 for none. Default: the client's requestTimeoutMs. */
  timeoutMs?: number;
  /** Headers added to the defaults (auth, Accept, User-Agent); contentType and the body's length are set after them. */
  headers?: Record<string, string>;
  /** Aborts the request, before or after the answer started (destroys its socket). */
  signal?: AbortSignal;
}

export class HttpKubeClient implements KubeClient {
  private readonly base: URL;
  private readonly agent: http.Agent;
  /**
   * Watches get a connection of their own, never a kept-alive one: after a watch is dropped as dead (the
   * informer's idle check), its replacement must not land on a pooled socket that died the same way.
   */
  private readonly watchAgent: http.Agent;
  private authCache?: { at: number; options: https.RequestOptions };
  private readonly fieldManager: string;
  private readonly timeoutMs: number;

  constructor(private readonly opts: HttpKubeClientOptions) {
    const cluster = opts.kubeConfig.getCurrentCluster();
    if (!cluster) throw new Error('kubeconfig has no current cluster');
    // This client's own agent does not speak to proxies; ignoring proxy-url would send the operator's
    // credentials straight to the server address, bypassing a proxy the cluster's owner required. The URL itself
    // is not shown: it may carry credentials.
    if (cluster.proxyUrl) {
      throw new Error(
        `kubeconfig cluster "${cluster.name}" sets proxy-url (clusters[].cluster.proxy-url), which gitlab-flux-link does not support; remove it and make the API server reachable directly`,
      );
    }
    this.base = new URL(cluster.server);
    this.fieldManager = opts.fieldManager ?? 'gitlab-flux-link';
    this.timeoutMs = opts.requestTimeoutMs ?? 30_000;
    // Keep-alive: at 10,000 repositories the operator makes tens of thousands of requests; a fresh TLS
    // handshake for each would dominate.
    const AgentClass = this.base.protocol === 'https:' ? https.Agent : http.Agent;
    this.agent = new AgentClass({ keepAlive: true, maxSockets: 64 });
    this.watchAgent = new AgentClass({ keepAlive: false });
  }

  /** TLS material and Authorization header, refreshed every minute (service-account tokens rotate). */
  private async auth(): Promise<https.RequestOptions> {
    const now = Date.now();
    if (!this.authCache || now - this.authCache.at > 60_000) {
      const options: https.RequestOptions = {};
      await this.opts.kubeConfig.applyToHTTPSOptions(options);
      this.authCache = { at: now, options };
    }
    return this.authCache.options;
  }

  private async send(request: SendRequest): Promise<{ status: number; body: Buffer }> {
    const {
      method,
      path,
      body,
      contentType,
      verb,
      resource,
      stream,
      timeoutMs = this.timeoutMs,
      headers: extraHeaders = {},
      signal,
    } = request;
    const auth = await this.auth();
    const started = process.hrtime.bigint();
    const mod = this.base.protocol === 'https:' ? https : http;
    const headers: Record<string, string> = {
      ...(auth.headers as Record<string, string> | undefined),
      Accept: 'application/json',
      'User-Agent': this.opts.userAgent ?? 'gitlab-flux-link',
      ...extraHeaders,
    };
    if (contentType) headers['Content-Type'] = contentType;
    // Always an explicit length: node sends a DELETE body neither chunked nor with a length, so the API
    // server reads the DeleteOptions as the start of the next request on the kept-alive socket (HTTP 400).
    if (body !== undefined) headers['Content-Length'] = String(Buffer.byteLength(body));
    return new Promise((resolve, reject) => {
      const req = mod.request(
        {
          ...auth,
          headers,
          method,
          protocol: this.base.protocol,
          hostname: this.base.hostname.replace(/^\[|\]$/g, ''),
          port: this.base.port,
          path: (this.base.pathname.replace(/\/$/, '') || '') + path,
          agent: stream ? this.watchAgent : this.agent,
          timeout: timeoutMs,
          ...(signal ? { signal } : {}),
        },
        (res) => {
          const status = res.statusCode ?? 0;
          if (stream && status === 200) {
            stream(res);
            return;
          }
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            this.opts.observe?.(verb, resource, status, Number(process.hrtime.bigint() - started) / 1e9);
            resolve({ status, body: Buffer.concat(chunks) });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(new Error(`request timed out after ${timeoutMs} ms: ${method} ${redactPaths(path.split('?')[0]!)}`)),
      );
      req.on('error', (err) => {
        this.opts.observe?.(verb, resource, 0, Number(process.hrtime.bigint() - started) / 1e9);
        reject(err);
      });
      if (stream) req.setTimeout(0);
      req.end(body);
    });
  }

  private async call<T>(
    method: string,
    path: string,
    verb: string,
    r: Resource,
    body?: unknown,
    contentType = 'application/json',
  ): Promise<T> {
    const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
    const res = await this.send({
      method,
      path,
      body: payload,
      contentType: payload === undefined ? undefined : contentType,
      verb,
      resource: resourceLabel(r),
    });
    const text = res.body.toString('utf8');
    if (res.status >= 200 && res.status < 300) return (text ? JSON.parse(text) : {}) as T;
    throw toKubeError(res.status, text, `${method} ${path.split('?')[0]}`);
  }

  async get<T extends KubeObject>(r: Resource, namespace: string | undefined, name: string): Promise<T | undefined> {
    try {
      return await this.call<T>('GET', resourcePath(r, namespace, name), 'get', r);
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  async list<T extends KubeObject>(r: Resource, opts: ListOptions = {}): Promise<ListResult<T>> {
    const res = await this.call<{ items: T[]; metadata: { resourceVersion: string; continue?: string } }>(
      'GET',
      resourcePath(r, opts.namespace) + query(opts),
      'list',
      r,
    );
    const items = res.items ?? [];
    // The list response omits apiVersion/kind on items; callers compare whole objects, so fill them in.
    for (const item of items) {
      item.apiVersion ??= apiVersionOf(r);
      item.kind ??= r.kind;
    }
    if (res.metadata.continue && opts.limit) {
      const rest = await this.list<T>(r, { ...opts, continue: res.metadata.continue });
      return { items: items.concat(rest.items), resourceVersion: rest.resourceVersion };
    }
    return { items, resourceVersion: res.metadata.resourceVersion };
  }

  create<T extends KubeObject>(r: Resource, obj: T): Promise<T> {
    return this.call<T>('POST', resourcePath(r, obj.metadata.namespace) + `?fieldManager=${this.fieldManager}`, 'create', r, obj);
  }

  replace<T extends KubeObject>(r: Resource, obj: T, subresource?: 'status'): Promise<T> {
    return this.call<T>(
      'PUT',
      resourcePath(r, obj.metadata.namespace, obj.metadata.name, subresource) + `?fieldManager=${this.fieldManager}`,
      subresource ? 'update-status' : 'update',
      r,
      obj,
    );
  }

  patch<T extends KubeObject>(
    r: Resource,
    namespace: string | undefined,
    name: string,
    body: unknown,
    type: PatchType,
    opts: { subresource?: 'status'; fieldManager?: string; force?: boolean } = {},
  ): Promise<T> {
    let q = `?fieldManager=${encodeURIComponent(opts.fieldManager ?? this.fieldManager)}`;
    if (opts.force) q += '&force=true';
    return this.call<T>(
      'PATCH',
      resourcePath(r, namespace, name, opts.subresource) + q,
      opts.subresource ? 'patch-status' : 'patch',
      r,
      body,
      PATCH_CONTENT_TYPES[type],
    );
  }

  async delete(
    r: Resource,
    namespace: string | undefined,
    name: string,
    opts: { uid?: string; resourceVersion?: string } = {},
  ): Promise<boolean> {
    const preconditions = opts.uid || opts.resourceVersion ? { uid: opts.uid, resourceVersion: opts.resourceVersion } : undefined;
    const body = { kind: 'DeleteOptions', apiVersion: 'v1', propagationPolicy: 'Background', preconditions };
    try {
      await this.call('DELETE', resourcePath(r, namespace, name), 'delete', r, body);
      return true;
    } catch (e) {
      if (isNotFound(e)) return false;
      throw e;
    }
  }

  watch<T extends KubeObject>(
    r: Resource,
    opts: ListOptions & { resourceVersion: string; timeoutSeconds?: number },
    onEvent: (e: WatchEvent<T>) => void,
  ): WatchHandle {
    let abort: () => void = () => undefined;
    const done = new Promise<void>((resolve, reject) => {
      const { timeoutSeconds, ...listOpts } = opts;
      const timeout = timeoutSeconds === undefined ? '' : `&timeoutSeconds=${timeoutSeconds}`;
      const path =
        resourcePath(r, opts.namespace) + query({ ...listOpts, limit: undefined }) + '&watch=1&allowWatchBookmarks=true' + timeout;
      const controller = new AbortController();
      let aborted = false;
      // Before the answer comes, aborting must end the request too: a watch sent into a dead connection
      // would otherwise hold its socket for ever.
      abort = () => {
        aborted = true;
        controller.abort();
        resolve();
      };
      this.send({
        method: 'GET',
        path,
        verb: 'watch',
        resource: resourceLabel(r),
        timeoutMs: 0,
        signal: controller.signal,
        stream: (res) => {
          abort = () => {
            aborted = true;
            res.destroy();
            resolve();
          };
          let buffered = '';
          res.setEncoding('utf8');
          res.on('data', (chunk: string) => {
            buffered += chunk;
            let nl: number;
            while ((nl = buffered.indexOf('\n')) >= 0) {
              const line = buffered.slice(0, nl);
              buffered = buffered.slice(nl + 1);
              if (!line.trim()) continue;
              const event = JSON.parse(line) as WatchEvent<T>;
              if (event.type === 'ERROR') {
                const status = event.object as unknown as { code?: number; reason?: string; message?: string };
                res.destroy();
                reject(new KubeError(status.code ?? 500, status.reason ?? 'Unknown', status.message ?? 'watch error'));
                return;
              }
              onEvent(event);
            }
          });
          res.on('end', () => resolve());
          res.on('error', (err) => (aborted ? resolve() : reject(err)));
          res.on('close', () => resolve());
        },
      })
        .then((res) => {
          // Only reached when the API server answered the watch with an error status.
          if (!aborted) reject(toKubeError(res.status, res.body.toString('utf8'), `watch ${resourceLabel(r)}`));
        })
        .catch((err) => (aborted ? resolve() : reject(err)));
    });
    return { done, abort: () => abort() };
  }

  async request(
    method: string,
    path: string,
    body: Buffer | undefined,
    headers: Record<string, string>,
    timeoutMs: number,
  ): Promise<{ status: number; body: Buffer }> {
    return this.send({
      method,
      path,
      body,
      contentType: headers['Content-Type'],
      verb: method.toLowerCase(),
      resource: 'services/proxy',
      timeoutMs,
      headers,
    });
  }
}

function query(opts: ListOptions): string {
  const q = new URLSearchParams();
  if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
  if (opts.fieldSelector) q.set('fieldSelector', opts.fieldSelector);
  if (opts.limit) q.set('limit', String(opts.limit));
  if (opts.continue) q.set('continue', opts.continue);
  if (opts.resourceVersion) q.set('resourceVersion', opts.resourceVersion);
  const s = q.toString();
  return s ? `?${s}` : '?';
}

function toKubeError(status: number, text: string, what: string): KubeError {
  try {
    const s = JSON.parse(text) as { reason?: string; message?: string };
    return new KubeError(status, s.reason ?? 'Unknown', `${what}: ${s.message ?? text}`);
  } catch {
    return new KubeError(status, 'Unknown', `${what}: HTTP ${status}`);
  }
}

/** Loads the kubeconfig the way kubectl does: $KUBECONFIG, ~/.kube/config, or the in-cluster service account. */
export function loadKubeConfig(file?: string): KubeConfig {
  const kc = new KubeConfig();
  if (file) kc.loadFromFile(file);
  else kc.loadFromDefault();
  return kc;
}
