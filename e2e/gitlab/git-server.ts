// A smart-HTTP git server on loopback that behaves like GitLab towards the operator: repositories at nested
// paths (`/group/sub/project.git`, served by Debian's `git http-backend` as CGI) and, after every real
// `git push`, GitLab-shaped Push Hook / Tag Push Hook / System Hook webhooks to the hooks registered in the
// GitLab API emulator served on the same port under /api/v4 (api-emulator.ts; README.md lists its endpoints).
// A push reaches only the hooks the emulator holds: those made through its REST API, by addHook, or by
// setWebhook (the test's shortcut for a hand-made hook).
//
// How a push becomes webhooks: for a git-receive-pack POST the server snapshots the refs, runs http-backend,
// finishes the HTTP answer, snapshots again and diffs. Pushes to one project are serialised so the diff is
// exactly that push. The hooks then go out one per ref, in order, from a queue that never blocks a push.
// GitLab's limit is mimicked: a group of more than 3 ref changes of the same kind (branch/tag) and action
// (created/updated/removed) in one push sends no push webhook for that group (see changesToHook).
import { type ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { git, GIT_TIMEOUT_MS, gitEnv, withLock, ZERO_SHA } from './git-exec.js';
import { type ApiDeps, GitLabApi, type GitLabTier, type SendResult } from './api-emulator.js';
import { DEFAULT_GITLAB_VERSION, gitlabFeatures } from './gitlab-version.js';
import {
  buildPushPayload,
  changesToHook,
  type Delivery,
  type HookProject,
  postHook,
  type RefChange,
  standardWebhookSignature,
  type WebhookTarget,
} from './webhook.js';

export type { Delivery, WebhookTarget } from './webhook.js';
export { ZERO_SHA } from './git-exec.js';
export { ACCESS_LEVELS, type ApiRequest, type Fault, GitLabApi, type TokenOptions } from './api-emulator.js';

export interface Project {
  path: string;
  id: number;
  cloneURL: string;
  webURL: string;
  defaultBranch: string;
}

export interface GitServer {
  /** e.g. http://127.0.0.1:41234 ; repositories at `${baseURL}/group/sub/project.git`. */
  baseURL: string;
  /** What X-Gitlab-Instance says (same as baseURL). */
  instanceURL: string;
  /** The folder holding repos/, work/ (pushCommit's clones) and home/. */
  root: string;
  /** Creates a bare repository with one initial commit (README.md) on the default branch (main). */
  createProject(path: string, opts?: { defaultBranch?: string }): Promise<Project>;
  getProject(path: string): Project | undefined;
  /** The GitLab REST API emulator: tokens, hooks, faults, the clock and the request log (api-emulator.ts). */
  gitlab: GitLabApi;
  /** `${baseURL}/api/v4` */
  apiURL: string;
  /**
   * A hand-made hook, kept in the emulator's store (the one source of truth for deliveries): for one project
   * it is that project's hook made by hand (visible through the API, created or replaced in place, failure
   * state cleared); without projectPath it is an instance-wide hook for every project that has no hand-made
   * hook of its own (kind 'system' sends System Hook). `undefined` removes it.
   */
  setWebhook(target: WebhookTarget | undefined, projectPath?: string): void;
  /** Every webhook attempt, in order. */
  deliveries: Delivery[];
  /** Resolves once every push received so far has had its webhooks sent (or failed). */
  idle(): Promise<void>;
  /** Closes the server, kills running git children, drops webhooks not yet sent. */
  stop(): Promise<void>;
}

interface ServedProject extends Project, HookProject {}

// Project paths as GitLab allows them, restricted to what needs no URL encoding; at least namespace/project.
const SEGMENT = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
function validProjectPath(p: string): boolean {
  const segments = p.split('/');
  return segments.length >= 2 && segments.every((s) => SEGMENT.test(s) && !s.endsWith('.git') && !s.includes('..'));
}

/**
 * `gitlabVersion` (default: E2E_GITLAB_VERSION, else 19.0) selects the GitLab the API and the webhooks behave
 * as (gitlab-version.ts); `gitlabTier` (default premium) whether it has group hooks (api-emulator.ts GitLabTier).
 */
export async function startGitServer(opts: {
  root: string;
  host?: string;
  gitlabVersion?: string;
  gitlabTier?: GitLabTier;
}): Promise<GitServer> {
  const features = gitlabFeatures(opts.gitlabVersion ?? (process.env.E2E_GITLAB_VERSION || DEFAULT_GITLAB_VERSION));
  const userAgent = `GitLab/${features.version}.0`;
  const root = path.resolve(opts.root);
  const host = opts.host ?? '127.0.0.1';
  const reposDir = path.join(root, 'repos');
  const home = path.join(root, 'home');
  await mkdir(reposDir, { recursive: true });
  await mkdir(home, { recursive: true });
  const env = gitEnv(home);
  const children = new Set<ChildProcess>();
  const backend = path.join((await git(['--exec-path'], { env })).trim(), 'git-http-backend');

  const projects = new Map<string, ServedProject>();
  const pushLocks = new Map<string, Promise<void>>();
  // Pushes only: idle() must not wait for fetches, which a client (source-controller) may leave hanging.
  const pushes = new Set<Promise<unknown>>();
  let queue: Promise<void> = Promise.resolve(); // webhook deliveries, strictly one after another
  let stopped = false;
  const deliveries: Delivery[] = [];

  const server = http.createServer((req, res) => {
    void handle(req, res).catch((err: Error) => {
      if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'text/plain' });
      res.end(`${err.message}\n`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  const urlHost = host.includes(':') ? `[${host}]` : host;
  const baseURL = `http://${urlHost}:${port}`;
  const deps: ApiDeps = {
    baseURL,
    features,
    env,
    projects: () => projects.values(),
    send,
    samplePayload,
  };
  const api = new GitLabApi(deps);
  if (opts.gitlabTier) api.setTier(opts.gitlabTier);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseURL);
    if (url.pathname === '/api/v4' || url.pathname.startsWith('/api/v4/')) return api.handle(req, res, url);
    // The repository is the path up to the first segment ending in .git; the rest is for http-backend.
    const m = /^\/(.+?)\.git(?=\/|$)(.*)$/.exec(url.pathname);
    const project = m ? projects.get(m[1]!) : undefined;
    if (!m || !project) {
      res.writeHead(404, { 'Content-Type': 'text/plain' }).end('Not Found\n');
      return;
    }
    const cgiEnv: NodeJS.ProcessEnv = {
      ...env,
      GIT_PROJECT_ROOT: reposDir,
      GIT_HTTP_EXPORT_ALL: '1',
      GATEWAY_INTERFACE: 'CGI/1.1',
      SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
      REQUEST_METHOD: req.method ?? 'GET',
      PATH_INFO: `/${project.path}.git${m[2]}`,
      QUERY_STRING: url.search.slice(1),
      REMOTE_ADDR: req.socket.remoteAddress ?? '',
      REMOTE_USER: 'root',
    };
    // Only the request headers http-backend reads are passed, not all of them as HTTP_*: a client-sent
    // `Proxy:` header would otherwise become HTTP_PROXY for the child ("httpoxy").
    const h = req.headers;
    if (h['content-type']) cgiEnv.CONTENT_TYPE = h['content-type'];
    if (h['content-length']) cgiEnv.CONTENT_LENGTH = h['content-length'];
    if (h['content-encoding']) cgiEnv.HTTP_CONTENT_ENCODING = h['content-encoding']; // gzip: inflated by http-backend
    if (h['git-protocol']) cgiEnv.HTTP_GIT_PROTOCOL = String(h['git-protocol']); // protocol v2 negotiation

    if (req.method !== 'POST' || m[2] !== '/git-receive-pack') return runBackend(req, res, cgiEnv);

    // A push: diff the refs around it, under a per-project lock so a concurrent push cannot blur the diff.
    const push = withLock(pushLocks, project.path, async () => {
      const before = await snapshotRefs(project);
      await runBackend(req, res, cgiEnv); // resolves once the answer to git is complete
      const after = await snapshotRefs(project);
      const changed: RefChange[] = [];
      for (const ref of [...new Set([...before.keys(), ...after.keys()])].sort()) {
        const b = before.get(ref) ?? ZERO_SHA;
        const a = after.get(ref) ?? ZERO_SHA;
        if (a !== b) changed.push({ ref, before: b, after: a });
      }
      // Payloads are built now, while the repository still is in this push's state. Which hooks get them is
      // decided at delivery time, as GitLab's WebHookService checks a hook is executable when it runs.
      if (!api.hasHooks(project.id)) return [];
      const hooked = changesToHook(changed);
      return Promise.all(hooked.map(async (c) => ({ change: c, payload: await buildPushPayload(project, c, env) })));
    }).then((changes) => {
      for (const { change, payload } of changes) {
        queue = queue.then(() => (stopped ? undefined : api.deliverPush(project, change.ref, payload)));
      }
    });
    pushes.add(push);
    void push.finally(() => pushes.delete(push)).catch(() => undefined);
    await push;
  }

  async function snapshotRefs(project: ServedProject): Promise<Map<string, string>> {
    const out = await git(['--git-dir', project.gitDir, 'for-each-ref', '--format=%(objectname) %(refname)'], {
      env,
      track: children,
    });
    const refs = new Map<string, string>();
    for (const line of out.split('\n').filter(Boolean)) {
      const [sha, ref] = line.split(' ') as [string, string];
      refs.set(ref, sha);
    }
    return refs;
  }

  /** Runs http-backend as CGI for one request; streams its answer; resolves when the answer is finished. */
  function runBackend(req: http.IncomingMessage, res: http.ServerResponse, cgiEnv: NodeJS.ProcessEnv): Promise<void> {
    return new Promise((resolve) => {
      const child = spawn(backend, [], { env: cgiEnv, stdio: ['pipe', 'pipe', 'pipe'] });
      children.add(child);
      const timer = setTimeout(() => child.kill('SIGKILL'), GIT_TIMEOUT_MS);
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4096)));
      child.stdin.on('error', () => {}); // http-backend may answer (e.g. 403) without reading the body
      req.pipe(child.stdin);
      // A client that goes away mid-request would leave http-backend waiting for the rest of the body.
      res.on('close', () => {
        if (!res.writableFinished) child.kill('SIGKILL');
      });

      // CGI answer: header lines, a blank line, then the body. `Status: 404 Not Found` sets the HTTP status.
      let head: Buffer | null = Buffer.alloc(0);
      child.stdout.on('data', (chunk: Buffer) => {
        if (head === null) {
          if (!res.write(chunk)) {
            child.stdout.pause();
            res.once('drain', () => child.stdout.resume());
          }
          return;
        }
        head = Buffer.concat([head, chunk]);
        const text = head.toString('latin1');
        const crlf = text.indexOf('\r\n\r\n');
        const lf = text.indexOf('\n\n');
        const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf + 4 : lf >= 0 ? lf + 2 : -1;
        if (end < 0) return;
        let status = 200;
        const headers: Record<string, string> = {};
        for (const line of text.slice(0, end).split(/\r?\n/).filter(Boolean)) {
          const i = line.indexOf(':');
          if (i <= 0) continue;
          const name = line.slice(0, i).trim();
          const value = line.slice(i + 1).trim();
          if (name.toLowerCase() === 'status') status = parseInt(value, 10) || 500;
          else headers[name] = value;
        }
        const rest = head.subarray(end);
        head = null;
        res.writeHead(status, headers);
        if (rest.length > 0) res.write(rest);
      });

      child.on('error', (err) => (stderr += String(err))); // spawn failure; 'close' follows
      child.on('close', (code, signal) => {
        clearTimeout(timer);
        children.delete(child);
        if (head !== null && !res.headersSent) {
          res.writeHead(500, { 'Content-Type': 'text/plain' });
          res.write(`git http-backend failed (${code ?? signal}): ${stderr.trim()}\n`);
        }
        res.end(() => resolve());
        if (res.destroyed) resolve();
      });
    });
  }

  /** One webhook POST with GitLab's headers (WebHookService#build_headers); recorded in `deliveries`. */
  async function send(project: HookProject, target: Parameters<ApiDeps['send']>[1], event: string, payload: unknown): Promise<SendResult> {
    const eventUUID = randomUUID();
    const body = JSON.stringify(payload);
    const headers: Record<string, string> = {
      'Content-Type': 'application/json',
      'User-Agent': userAgent,
      'Idempotency-Key': randomUUID(),
      'X-Gitlab-Event': event,
      'X-Gitlab-Webhook-UUID': target.uuid,
      'X-Gitlab-Instance': baseURL,
      'X-Gitlab-Event-UUID': eventUUID,
    };
    if (target.token) headers['X-Gitlab-Token'] = target.token; // only when the hook has one, as GitLab
    if (target.signingKey !== undefined) {
      const timestamp = Math.floor(api.clock.now() / 1000);
      headers['webhook-id'] = eventUUID;
      headers['webhook-timestamp'] = String(timestamp);
      headers['webhook-signature'] = standardWebhookSignature(target.signingKey, eventUUID, timestamp, body);
    }
    const at = new Date();
    const record: Delivery = {
      project: project.path,
      ...(target.hookId !== undefined ? { hookId: target.hookId } : {}),
      event,
      ref: (payload as { ref?: string }).ref ?? '',
      url: target.url,
      eventUUID,
      status: 'error',
      durationMs: 0,
      at,
      body: payload,
    };
    const result: SendResult = { status: 'error', responseBody: '', responseHeaders: {}, requestHeaders: headers, durationMs: 0 };
    try {
      const answer = await postHook(target.url, headers, body);
      record.status = result.status = answer.status;
      result.responseBody = answer.body;
      result.responseHeaders = answer.headers;
    } catch (err) {
      record.error = result.error = (err as Error).message; // never the headers: they hold the token
    }
    record.durationMs = result.durationMs = Date.now() - at.getTime();
    deliveries.push(record);
    return result;
  }

  /**
   * TestHooks::ProjectService's sample data: push_events is a push of the default branch's head
   * (DataBuilder::Push.build_sample), tag_push_events a push of the first tag; each refuses an empty repository.
   */
  async function samplePayload(
    hookProject: HookProject,
    trigger: 'push_events' | 'tag_push_events',
  ): Promise<{ ref: string; payload: unknown } | { error: string }> {
    const project = projects.get(hookProject.path)!;
    const prefix = trigger === 'push_events' ? `refs/heads/${project.defaultBranch}` : 'refs/tags/';
    const out = await git(
      ['--git-dir', project.gitDir, 'for-each-ref', '--sort=refname', '--count=1', '--format=%(objectname) %(refname)', prefix],
      { env },
    );
    const [sha, ref] = out.trim().split(' ');
    if (!sha || !ref)
      return { error: trigger === 'push_events' ? 'Ensure the project has at least one commit.' : 'Ensure the project has tags.' };
    const change = { ref, before: ZERO_SHA, after: sha };
    return { ref, payload: await buildPushPayload(project, change, env) };
  }

  let nextId = 1;
  return {
    baseURL,
    instanceURL: baseURL,
    root,
    deliveries,

    async createProject(projectPath, popts = {}) {
      if (!validProjectPath(projectPath)) throw new Error(`invalid project path ${JSON.stringify(projectPath)}`);
      if (projects.has(projectPath)) throw new Error(`project ${projectPath} exists`);
      const defaultBranch = popts.defaultBranch ?? 'main';
      await git(['check-ref-format', `refs/heads/${defaultBranch}`], { env });
      const gitDir = path.join(reposDir, `${projectPath}.git`);
      await mkdir(path.dirname(gitDir), { recursive: true });
      await git(['init', '--bare', '--quiet', `--initial-branch=${defaultBranch}`, gitDir], { env });
      const g = (args: string[], input?: string) => git(['--git-dir', gitDir, ...args], { env, input });
      await g(['config', 'http.receivepack', 'true']);
      // The initial commit is written straight into the bare repository; no working copy needed.
      const blob = (await g(['hash-object', '-w', '--stdin'], `# ${projectPath}\n`)).trim();
      const tree = (await g(['mktree'], `100644 blob ${blob}\tREADME.md\n`)).trim();
      const commit = (await g(['commit-tree', tree, '-m', 'Initial commit'])).trim();
      await g(['update-ref', `refs/heads/${defaultBranch}`, commit, ZERO_SHA]);
      const webURL = `${baseURL}/${projectPath}`;
      const project: ServedProject = {
        path: projectPath,
        id: nextId++,
        cloneURL: `${webURL}.git`,
        webURL,
        defaultBranch,
        gitDir,
        sshURL: `git@${host}:${projectPath}.git`,
      };
      projects.set(projectPath, project);
      return { path: project.path, id: project.id, cloneURL: project.cloneURL, webURL, defaultBranch };
    },

    getProject(projectPath) {
      const p = projects.get(projectPath);
      return p && { path: p.path, id: p.id, cloneURL: p.cloneURL, webURL: p.webURL, defaultBranch: p.defaultBranch };
    },

    gitlab: api,
    apiURL: api.apiURL,

    setWebhook(target, projectPath) {
      api.setHandMadeHook(target, projectPath);
    },

    async idle() {
      // A push registers before git sees the answer; its webhooks are queued when it settles.
      while (pushes.size > 0) await Promise.allSettled([...pushes]);
      await queue;
    },

    async stop() {
      stopped = true;
      for (const child of children) child.kill('SIGKILL');
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await Promise.allSettled([...pushes]);
      await queue;
    },
  };
}

// ---- Pushing as a user would: a working copy per project under <root>/work, and `git push` over HTTP ----

const workLocks = new Map<string, Promise<void>>();

function mustProject(server: GitServer, projectPath: string): Project {
  const project = server.getProject(projectPath);
  if (!project) throw new Error(`unknown project ${projectPath}`);
  return project;
}

/** Runs fn in the project's working copy (cloned on first use, fetched otherwise), one caller at a time. */
function inWorkingCopy<T>(
  server: GitServer,
  project: Project,
  fn: (g: (...args: string[]) => Promise<string>, dir: string) => Promise<T>,
): Promise<T> {
  const dir = path.join(server.root, 'work', project.path);
  const env = gitEnv(path.join(server.root, 'home'));
  return withLock(workLocks, dir, async () => {
    const g = (...args: string[]) => git(args, { env, cwd: dir });
    if (!existsSync(path.join(dir, '.git'))) {
      await mkdir(path.dirname(dir), { recursive: true });
      await git(['clone', '--quiet', project.cloneURL, dir], { env });
    } else {
      await g('remote', 'set-url', 'origin', project.cloneURL);
      await g('fetch', '--quiet', '--prune', '--force', 'origin', '+refs/heads/*:refs/remotes/origin/*');
    }
    return fn(g, dir);
  });
}

async function refExists(g: (...args: string[]) => Promise<string>, ref: string): Promise<boolean> {
  return (await g('for-each-ref', '--format=%(objectname)', ref)).trim() !== '';
}

/**
 * Commits `files` (path → content; no file means an empty commit) on top of the branch as the server has it
 * (a new branch starts from the default branch), pushes it with `git push origin HEAD:refs/heads/<branch>`,
 * then, if `tag` is given, tags that commit (annotated when tagMessage is given, else lightweight; moved if it
 * exists) and pushes the tag in a second push. Resolves with the new commit's sha.
 */
export async function pushCommit(
  server: GitServer,
  projectPath: string,
  opts: { branch?: string; message?: string; files?: Record<string, string>; tag?: string; tagMessage?: string } = {},
): Promise<{ sha: string }> {
  const project = mustProject(server, projectPath);
  const branch = opts.branch ?? project.defaultBranch;
  return inWorkingCopy(server, project, async (g, top) => {
    await g('check-ref-format', `refs/heads/${branch}`);
    if (opts.tag !== undefined) await g('check-ref-format', `refs/tags/${opts.tag}`);
    const start = (await refExists(g, `refs/remotes/origin/${branch}`))
      ? `refs/remotes/origin/${branch}`
      : `refs/remotes/origin/${project.defaultBranch}`;
    await g('checkout', '--quiet', '--force', '--no-track', '-B', branch, ...((await refExists(g, start)) ? [start] : []));
    await g('clean', '-fdq');
    for (const [name, content] of Object.entries(opts.files ?? {})) {
      const file = path.resolve(top, name);
      if (!file.startsWith(top + path.sep) || path.relative(top, file).split(path.sep)[0] === '.git') {
        throw new Error(`file path ${JSON.stringify(name)} leaves the working copy`);
      }
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, content);
    }
    await g('add', '--all');
    await g('commit', '--quiet', '--allow-empty', '-m', opts.message ?? `Update ${branch}`);
    const sha = (await g('rev-parse', 'HEAD')).trim();
    await g('push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`);
    if (opts.tag !== undefined) {
      await g('tag', '--force', ...(opts.tagMessage !== undefined ? ['-a', '-m', opts.tagMessage] : []), opts.tag, 'HEAD');
      await g('push', '--quiet', '--force', 'origin', `refs/tags/${opts.tag}`);
    }
    return { sha };
  });
}

/** Pushes the deletion of a ref: `refs/heads/x`, `refs/tags/v1`, or a bare branch name. */
export async function deleteRef(server: GitServer, projectPath: string, ref: string): Promise<void> {
  const full = ref.startsWith('refs/') ? ref : `refs/heads/${ref}`;
  return inWorkingCopy(server, mustProject(server, projectPath), async (g) => {
    await g('check-ref-format', full);
    await g('push', '--quiet', 'origin', '--delete', full);
  });
}

/**
 * One `git push origin <refspecs...>` from the working copy (HEAD is the last commit pushCommit made, or the
 * default branch after the first clone), e.g. ['HEAD:refs/heads/a', 'HEAD:refs/heads/b'] for a multi-ref push.
 */
export async function pushRefspecs(server: GitServer, projectPath: string, refspecs: string[]): Promise<void> {
  if (refspecs.length === 0 || refspecs.some((r) => r.startsWith('-'))) throw new Error('refspecs must be non-empty and not options');
  return inWorkingCopy(server, mustProject(server, projectPath), async (g) => {
    await g('push', '--quiet', 'origin', ...refspecs);
  });
}
