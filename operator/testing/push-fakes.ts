import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import type { PushRecord, ReceiverType, ServiceRef, TriggerRecord } from '../api/v1alpha1/types.js';
import type { ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import type { Receiver, Secret } from '../flux/types.js';
import type { KubeClient } from '../kube/client.js';
import { createLogger, type Logger } from '../observability/logger.js';
import type { PushRecords } from '../push/push-service.js';

/** Shared fakes for the push-path tests (operator/push/*.test.ts). */

/** A Flux Receiver token: usableToken() wants at least 32 characters. */
export const RECEIVER_TOKEN = 'receiver-token-0123456789abcdef-0123456789';

export const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

/** A validated link spec with sensible defaults; override any part. */
export function linkSpec(
  over: {
    endpoint?: string;
    type?: ReceiverType;
    serviceProxies?: ServiceRef[];
    projects?: string[];
    signing?: boolean;
  } = {},
): ValidatedLinkSpec {
  return {
    gitlab: { url: 'https://gitlab.example.com' },
    receiver: { endpoint: over.endpoint ?? 'http://webhook-receiver.flux-system.svc.cluster.local', type: over.type ?? 'generic-hmac' },
    trust: { projects: over.projects ?? ['**'], serviceProxies: over.serviceProxies ?? [] },
    webhook: {
      secretRef: { namespace: 'gitlab-flux-link', name: 'hook-token', key: 'token' },
      ...(over.signing ? { signingSecretRef: { namespace: 'gitlab-flux-link', name: 'hook-signing', key: 'key' } } : {}),
    },
    suspend: false,
  };
}

export function receiverObj(namespace: string, name: string, webhookPath: string | undefined, secretName = name): Receiver {
  return {
    apiVersion: 'notification.toolkit.fluxcd.io/v1',
    kind: 'Receiver',
    metadata: { name, namespace, generation: 1 },
    spec: { type: 'generic-hmac', resources: [{ kind: 'GitRepository', name }], secretRef: { name: secretName } },
    ...(webhookPath ? { status: { webhookPath, observedGeneration: 1 } } : {}),
  } as Receiver;
}

export function secretObj(namespace: string, name: string, data: Record<string, string>): Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name, namespace },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, b64(v)])),
  };
}

/** A winston logger that keeps its JSON lines in `lines` instead of printing them. */
export function memoryLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString('utf8'));
      cb();
    },
  });
  return { log: createLogger('debug', stream), lines };
}

export interface RecordedRequest {
  method: string;
  path: string;
  body: Buffer | undefined;
  headers: Record<string, string>;
  timeoutMs: number;
}

/**
 * A KubeClient whose only working method is request() (the service proxy): it records each call and answers
 * with the next status of `statuses` (the last one repeats). Every other method throws: the trigger client
 * must not read or write objects through the API.
 */
export function requestRecordingClient(statuses: number[] = [200]): KubeClient & { requests: RecordedRequest[] } {
  const requests: RecordedRequest[] = [];
  const unexpected = (what: string) => () => {
    throw new Error(`push-fakes: unexpected KubeClient.${what}`);
  };
  let i = 0;
  return {
    requests,
    get: unexpected('get'),
    list: unexpected('list'),
    create: unexpected('create'),
    replace: unexpected('replace'),
    patch: unexpected('patch'),
    delete: unexpected('delete'),
    watch: unexpected('watch'),
    async request(method, path, body, headers, timeoutMs) {
      requests.push({ method, path, body, headers: { ...headers }, timeoutMs });
      const status = statuses[Math.min(i++, statuses.length - 1)]!;
      return { status, body: Buffer.alloc(0) };
    },
  } as KubeClient & { requests: RecordedRequest[] };
}

export interface SeenRequest {
  method: string;
  url: string;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/**
 * A real HTTP server on 127.0.0.1 standing in for notification-controller. `respond` picks the status per
 * request (default 200), and optionally a body (notification-controller's own answers have none). Records
 * every request. close() also drops keep-alive connections.
 */
export async function startFakeReceiverServer(
  respond: (req: SeenRequest, index: number) => number | { status: number; body: string } = () => 200,
  port = 0,
): Promise<{
  port: number;
  url: string;
  seen: SeenRequest[];
  close(): Promise<void>;
}> {
  const seen: SeenRequest[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const r: SeenRequest = { method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks) };
      seen.push(r);
      const answer = respond(r, seen.length - 1);
      const { status, body } = typeof answer === 'number' ? { status: answer, body: '' } : answer;
      res.writeHead(status, { 'Content-Length': String(Buffer.byteLength(body)) });
      res.end(body);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const actual = (server.address() as AddressInfo).port;
  return {
    port: actual,
    url: `http://127.0.0.1:${actual}`,
    seen,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** A port that was free a moment ago (listened on, then closed): connecting to it is refused. */
export async function freePort(): Promise<number> {
  const s = http.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', () => resolve()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}

/** Push records the push path hands to the link's status writer, kept in memory. */
export function memoryRecords(): PushRecords & { pushes: Array<[string, PushRecord]>; triggers: Array<[string, TriggerRecord]> } {
  const pushes: Array<[string, PushRecord]> = [];
  const triggers: Array<[string, TriggerRecord]> = [];
  return {
    pushes,
    triggers,
    recordPush: (link, r) => void pushes.push([link, r]),
    recordTrigger: (link, r) => void triggers.push([link, r]),
  };
}
