// What GitLab sends on a push: which ref changes produce a webhook, the payload
// (Gitlab::DataBuilder::Push), the headers, the optional Standard Webhooks signature, and one bounded POST.
import { createHmac } from 'node:crypto';
import type { LookupAddress } from 'node:dns';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import { git, ZERO_SHA } from './git-exec.js';

export interface WebhookTarget {
  url: string;
  /** Sent as X-Gitlab-Token (GitLab's "secret token"). */
  token: string;
  /**
   * Standard Webhooks signing key. `whsec_<base64>` is base64-decoded (as the Standard Webhooks spec says);
   * any other string is used as raw UTF-8 bytes.
   */
  signingKey?: string;
  /** 'project' (default): X-Gitlab-Event is Push Hook / Tag Push Hook; 'system': System Hook, same payload. */
  kind?: 'project' | 'system';
}

export interface Delivery {
  project: string;
  /** The project hook's id in the API emulator; absent for the instance-wide hand-made hook. */
  hookId?: number;
  /** The X-Gitlab-Event header value. */
  event: string;
  ref: string;
  url: string;
  eventUUID: string;
  status: number | 'error';
  error?: string;
  durationMs: number;
  at: Date;
  body: unknown;
}

/** What the payload builder needs to know about a project (the server's Project plus its git dir). */
export interface HookProject {
  id: number;
  path: string;
  gitDir: string;
  defaultBranch: string;
  webURL: string;
  cloneURL: string;
  sshURL: string;
}

export interface RefChange {
  ref: string;
  before: string;
  after: string;
}

/** The pushing user, as GitLab reports it. The test ground has a single user. */
export const HOOK_USER = { id: 1, name: 'Administrator', username: 'root', email: 'admin@example.invalid' };
export const HOOK_TIMEOUT_MS = 10_000; // GitLab's default webhook timeout
/** Gitlab::CurrentSettings.push_event_hooks_limit default. */
export const PUSH_EVENT_HOOKS_LIMIT = 3;
const MAX_HOOK_COMMITS = 20; // DataBuilder::Push keeps the newest 20, oldest first

/**
 * Which changes of one push get a webhook, in GitLab's order (Git::ProcessRefChangesService): branch changes
 * then tag changes; within each, grouped by action (created / removed / updated) in order of first appearance.
 * A group with more than 3 changes runs no project (or system) push hooks at all. So 4 new branches in one
 * push send nothing, while 2 new branches plus 2 new tags send 4 hooks. Other refs (notes, ...) never do.
 */
export function changesToHook(changes: RefChange[]): RefChange[] {
  const out: RefChange[] = [];
  for (const prefix of ['refs/heads/', 'refs/tags/']) {
    const groups = new Map<string, RefChange[]>();
    for (const c of changes.filter((c) => c.ref.startsWith(prefix))) {
      const action = c.before === ZERO_SHA ? 'created' : c.after === ZERO_SHA ? 'removed' : 'pushed';
      groups.set(action, [...(groups.get(action) ?? []), c]);
    }
    for (const group of groups.values()) if (group.length <= PUSH_EVENT_HOOKS_LIMIT) out.push(...group);
  }
  return out;
}

export function eventHeader(ref: string, kind: WebhookTarget['kind']): string {
  if (kind === 'system') return 'System Hook';
  return ref.startsWith('refs/tags/') ? 'Tag Push Hook' : 'Push Hook';
}

/** Builds GitLab's push / tag_push payload for one ref change; reads the bare repository right after the push. */
export async function buildPushPayload(project: HookProject, change: RefChange, env: NodeJS.ProcessEnv): Promise<Record<string, unknown>> {
  const g = (...args: string[]) => git(['--git-dir', project.gitDir, ...args], { env });
  const isTag = change.ref.startsWith('refs/tags/');
  const deleted = change.after === ZERO_SHA;
  const exists = async (ref: string) => (await g('for-each-ref', '--format=%(objectname)', ref)).trim() !== '';

  // checkout_sha: the commit the ref points at (an annotated tag is peeled), null on deletion.
  const checkoutSha = deleted ? null : (await g('rev-parse', `${change.after}^{commit}`)).trim();

  // Commits as GitLab lists them: Git::BranchHooksService / Git::TagHooksService.
  let range: string[];
  let message: string | null = null;
  if (deleted) range = [];
  else if (isTag) {
    // A tag push lists just the tagged commit; message is the annotation (null for a lightweight tag).
    range = [checkoutSha!, '-n', '1'];
    if ((await g('cat-file', '-t', change.after)).trim() === 'tag') {
      message = (await g('for-each-ref', '--format=%(contents)', change.ref)).trimEnd();
    }
  } else if (change.before !== ZERO_SHA) range = [`${change.before}..${change.after}`];
  else if (change.ref === `refs/heads/${project.defaultBranch}`) range = [change.after];
  else {
    // A new branch: the commits not reachable from the default branch (GitLab's heuristic).
    const base = `refs/heads/${project.defaultBranch}`;
    range = (await exists(base)) ? [change.after, '--not', base] : [change.after];
  }
  const total = range.length === 0 ? 0 : Number((await g('rev-list', '--count', ...range)).trim());
  const commits = range.length === 0 ? [] : await listCommits(g, project, range);

  const projectAttrs = {
    id: project.id,
    name: project.path.split('/').at(-1)!,
    description: '',
    web_url: project.webURL,
    avatar_url: null,
    git_ssh_url: project.sshURL,
    git_http_url: project.cloneURL,
    namespace: project.path.split('/').at(-2)!, // the (sub)group's name
    visibility_level: 0,
    path_with_namespace: project.path,
    default_branch: project.defaultBranch,
    ci_config_path: null,
    homepage: project.webURL,
    url: project.sshURL,
    ssh_url: project.sshURL,
    http_url: project.cloneURL,
  };
  const kind = isTag ? 'tag_push' : 'push';
  return {
    object_kind: kind,
    event_name: kind,
    before: change.before,
    after: change.after,
    ref: change.ref,
    ref_protected: false,
    checkout_sha: checkoutSha,
    message,
    user_id: HOOK_USER.id,
    user_name: HOOK_USER.name,
    user_username: HOOK_USER.username,
    user_email: HOOK_USER.email,
    user_avatar: `https://www.gravatar.com/avatar/${'0'.repeat(32)}?s=80&d=identicon`,
    project_id: project.id,
    project: projectAttrs,
    commits,
    total_commits_count: total,
    push_options: {},
    repository: {
      name: projectAttrs.name,
      url: projectAttrs.url,
      description: projectAttrs.description,
      homepage: projectAttrs.homepage,
      git_http_url: projectAttrs.git_http_url,
      git_ssh_url: projectAttrs.git_ssh_url,
      visibility_level: projectAttrs.visibility_level,
    },
  };
}

/** The newest 20 commits of a rev-list range, oldest first, with added/modified/removed against the first parent. */
async function listCommits(g: (...args: string[]) => Promise<string>, project: HookProject, range: string[]): Promise<unknown[]> {
  // \x1f between fields, \x1e after each commit: neither appears in commit metadata in practice.
  const out = await g('log', `-n${MAX_HOOK_COMMITS}`, '--format=%H%x1f%P%x1f%an%x1f%ae%x1f%aI%x1f%B%x1e', ...range);
  const records = out
    .split('\x1e')
    .map((r) => r.replace(/^\n/, ''))
    .filter((r) => r !== '');
  const commits = [];
  for (const record of records.reverse()) {
    const [id, parents, name, email, timestamp, body] = record.split('\x1f') as [string, string, string, string, string, string];
    const firstParent = parents.split(' ')[0];
    const diff = await g(
      'diff-tree',
      '-r',
      '-z',
      '--no-commit-id',
      '--name-status',
      '--no-renames',
      ...(firstParent ? [firstParent, id] : ['--root', id]),
    );
    const files: Record<'added' | 'modified' | 'removed', string[]> = { added: [], modified: [], removed: [] };
    const parts = diff.split('\0');
    for (let i = 0; i + 1 < parts.length; i += 2) {
      const status = parts[i]!;
      files[status === 'A' ? 'added' : status === 'D' ? 'removed' : 'modified'].push(parts[i + 1]!);
    }
    commits.push({
      id,
      message: body,
      title: body.split('\n')[0],
      timestamp,
      url: `${project.webURL}/-/commit/${id}`,
      author: { name, email },
      ...files,
    });
  }
  return commits;
}

/** Standard Webhooks: `v1,<base64 HMAC-SHA256 of "<id>.<timestamp>.<body>">`. */
export function standardWebhookSignature(key: string, id: string, timestamp: number, body: string): string {
  const secret = key.startsWith('whsec_') ? Buffer.from(key.slice('whsec_'.length), 'base64') : Buffer.from(key, 'utf8');
  return `v1,${createHmac('sha256', secret).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
}

/**
 * The address to connect to when `hostname` (as URL.hostname gives it) is loopback: 127.0.0.0/8, ::1 or
 * `localhost` (RFC 6761: always loopback; pinned to 127.0.0.1, never looked up).
 * Anything else is undefined: a hook may hold any URL (GitLab stores it), but this emulator delivers only to
 * this machine, so no test can send traffic elsewhere whatever URL it registers.
 */
export function loopbackAddress(hostname: string): string | undefined {
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (host === 'localhost' || host === 'localhost.') return '127.0.0.1';
  if (net.isIPv4(host)) return host.startsWith('127.') ? host : undefined;
  return host === '::1' ? host : undefined; // URL writes every IPv6 loopback form as ::1
}

/** What a receiver answered: status, headers and (the first 8 KiB of) the body, as WebHookService logs them. */
export interface HookAnswer {
  status: number;
  headers: Record<string, string>;
  body: string;
}
const RESPONSE_BODY_LOG_BYTES = 8 * 1024;

/**
 * One POST, no redirects followed (so nothing reaches a host other than the configured one), no keep-alive
 * (so no socket outlives a test), bounded by GitLab's 10 s including reading the answer. Resolves with the
 * answer; rejects on network errors and timeouts.
 */
export function postHook(url: string, headers: Record<string, string>, body: string): Promise<HookAnswer> {
  const u = new URL(url);
  if (u.protocol !== 'http:' && u.protocol !== 'https:') return Promise.reject(new Error(`unsupported URL scheme ${u.protocol}`));
  const address = loopbackAddress(u.hostname);
  if (address === undefined) {
    return Promise.reject(new Error(`refused: ${u.hostname} is not a loopback address (the test ground sends nothing off this machine)`));
  }
  return new Promise((resolve, reject) => {
    const req = (u.protocol === 'https:' ? https : http).request(u, {
      method: 'POST',
      agent: false,
      // Connect to the checked address itself: no name lookup can lead elsewhere.
      lookup: (_host, opts, cb) =>
        opts.all
          ? (cb as unknown as (e: null, a: LookupAddress[]) => void)(null, [{ address, family: net.isIP(address) }])
          : cb(null, address, net.isIP(address)),
      headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) },
    });
    const timer = setTimeout(() => req.destroy(new Error(`no answer within ${HOOK_TIMEOUT_MS} ms`)), HOOK_TIMEOUT_MS);
    const fail = (err: Error) => {
      clearTimeout(timer);
      reject(err);
    };
    req.on('error', fail);
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      let kept = 0;
      res.on('error', fail);
      res.on('data', (d: Buffer) => {
        if (kept < RESPONSE_BODY_LOG_BYTES) chunks.push(d.subarray(0, RESPONSE_BODY_LOG_BYTES - kept));
        kept += d.length;
      });
      res.on('end', () => {
        clearTimeout(timer);
        const answerHeaders: Record<string, string> = {};
        for (const [k, v] of Object.entries(res.headers)) if (v !== undefined) answerHeaders[k] = Array.isArray(v) ? v.join(', ') : v;
        resolve({ status: res.statusCode ?? 0, headers: answerHeaders, body: Buffer.concat(chunks).toString('utf8') });
      });
    });
    req.end(body);
  });
}
