import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { GitServer } from '../gitlab/git-server.js';
import type { ProjectHook } from '../gitlab/hooks-store.js';
import { OPERATOR_NAMESPACE } from './operator.js';

/**
 * Helpers for the suites of GitLab webhooks registered by the operator through the emulator's REST API
 * (e2e/gitlab): links with `spec.gitlab.api`, a switchable front for the operator's webhook endpoint, the hooks
 * listed through the API the way a client must (every page), and the secrets those suites create, for the
 * log scan that runs last.
 */

/** Every token value the suites hand to the operator (GitLab API tokens, webhook tokens): the log scan looks for each. */
export const knownSecrets = new Set<string>();

/** A Secret in the operator's namespace with `token` = value; the value is remembered for the log scan. */
export function tokenSecretManifest(name: string, token: string) {
  knownSecrets.add(token);
  return { apiVersion: 'v1', kind: 'Secret', metadata: { name, namespace: OPERATOR_NAMESPACE }, stringData: { token } };
}

export interface ApiLinkOptions {
  gitlabURL: string;
  receiverURL: string;
  label: Record<string, string>;
  projects: string[];
  webhookSecret: string;
  apiSecret: string;
  /** spec.webhook.url; must end in /hooks/<name>. */
  webhookURL: string;
  requestsPerMinute?: number;
}

/** A GitLabFluxLink whose GitLab hooks the operator keeps (spec.gitlab.api + spec.webhook.url). */
export function apiLinkManifest(name: string, o: ApiLinkOptions) {
  return {
    apiVersion: 'fluxlink.dev/v1alpha1',
    kind: 'GitLabFluxLink',
    metadata: { name },
    spec: {
      gitlab: {
        url: o.gitlabURL,
        api: {
          tokenSecretRef: { namespace: OPERATOR_NAMESPACE, name: o.apiSecret },
          ...(o.requestsPerMinute !== undefined ? { requestsPerMinute: o.requestsPerMinute } : {}),
        },
      },
      receiver: { endpoint: o.receiverURL },
      trust: { namespaceSelector: { matchLabels: o.label }, projects: o.projects },
      webhook: { secretRef: { namespace: OPERATOR_NAMESPACE, name: o.webhookSecret }, url: o.webhookURL },
    },
  };
}

/** Whether a hook carries exactly this link's ownership marker (`fluxlink-link=<uid>`), as ADR 0014 defines it. */
export function ownedBy(url: string, uid: string): boolean {
  try {
    const values = new URL(url).searchParams.getAll('fluxlink-link');
    return values.length === 1 && values[0] === uid;
  } catch {
    return false;
  }
}

/** The stored hooks of a project carrying the link's marker. */
export const ownedHooks = (git: GitServer, project: string, uid: string) => git.gitlab.hooksOf(project).filter((h) => ownedBy(h.url, uid));

/**
 * What a person set on a hook: everything stored but the delivery record (failure state and logs change with
 * every push, whoever owns the hook). The operator must never change any of it on a hook that is not its own.
 */
export function configOf(h: ProjectHook): Omit<ProjectHook, 'failure' | 'logs'> {
  const { failure: _failure, logs: _logs, ...config } = h;
  return config;
}

/** GitLab's REST API as a person or script would call it, with their own token. */
export async function gitlabCall(
  git: GitServer,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; headers: Headers; json: any }> {
  const res = await fetch(`${git.gitlab.apiURL}${path}`, {
    method,
    headers: { 'PRIVATE-TOKEN': token, ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) },
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, json: text ? JSON.parse(text) : undefined };
}

/** Every hook of a project through the API, following X-Next-Page until the last page (small pages on purpose). */
export async function listHooksThroughApi(git: GitServer, token: string, project: string, perPage = 2): Promise<any[]> {
  const all: any[] = [];
  for (let page = '1'; page !== '';) {
    const r = await gitlabCall(git, token, 'GET', `/projects/${encodeURIComponent(project)}/hooks?per_page=${perPage}&page=${page}`);
    if (r.status !== 200) throw new Error(`GET hooks of ${project}: HTTP ${r.status} ${JSON.stringify(r.json)}`);
    all.push(...(r.json as any[]));
    page = r.headers.get('x-next-page') ?? '';
  }
  return all;
}

/**
 * A loopback HTTP front for the operator's webhook endpoint, so that a hook's URL stays the same across operator
 * restarts (each gets a new port) and the endpoint can be made to fail on demand: while `down`, every request is
 * answered 503 without reaching the operator.
 */
export interface WebhookFront {
  url: string;
  /** The operator's base URL requests are forwarded to. */
  target: string;
  down: boolean;
  /**
   * While true, requests wait (as on a slow network) and are forwarded once it is false again, to the target of that
   * moment: an operator that starts leading before the test has pointed the front at it is not answered by the old one.
   */
  holding: boolean;
  close(): Promise<void>;
}

export async function startWebhookFront(target: string): Promise<WebhookFront> {
  let held: Array<() => void> = [];
  let holding = false;
  const front = {
    target,
    down: false,
    get holding() {
      return holding;
    },
    set holding(on: boolean) {
      holding = on;
      if (!on) for (const release of held.splice(0)) release();
    },
  } as WebhookFront;
  const server = http.createServer((req, res) => {
    if (holding) {
      held.push(() => server.emit('request', req, res));
      return;
    }
    if (front.down) {
      req.resume();
      res.writeHead(503, { 'Content-Type': 'text/plain', Connection: 'close' }).end('endpoint down (test)\n');
      return;
    }
    const up = http.request(new URL(req.url ?? '/', front.target), { method: req.method, headers: req.headers, agent: false }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', () => (res.headersSent ? res.destroy() : res.writeHead(502).end()));
    req.pipe(up);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  front.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  front.close = () =>
    new Promise<void>((resolve) => {
      held = [];
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return front;
}
