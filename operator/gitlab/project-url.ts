// Decides whether a Flux GitRepository's spec.url points at a project on one GitLab instance.
//
// The URL is split by hand instead of with WHATWG `URL`: `URL` silently rewrites what it reads
// (resolves `..`, turns `\` into `/` for http, decodes `%2e` as a dot segment, canonicalises
// numeric IPv4 shorthands), so a string it accepts is not the string Flux/Go will dial. Anything
// unusual is answered with "no match": a missed match only costs the GitRepository its
// spec.interval fallback, a false match would wire a webhook to a repository on another host.

/** A GitLab instance as the matcher needs it. */
export interface Instance {
  /** Normalised instance URL: scheme, host, optional port, root path; no trailing slash. */
  readonly url: string;
  /** Lower-case host names (no port) that serve the instance: the URL's host plus the SSH hosts. */
  readonly hosts: Set<string>;
  /** Relative URL root without trailing slash: '' or e.g. '/gitlab'. */
  readonly rootPath: string;
}

interface SplitURL {
  scheme: string;
  userinfo: string | undefined;
  host: string;
  port: string | undefined;
  path: string;
  queryOrFragment: boolean;
}

// Printable ASCII without space and backslash. Go's url.Parse and WHATWG disagree about `\`
// (authority terminator vs. invalid userinfo), and non-ASCII hosts need IDNA mapping we would
// have to match exactly; neither appears in a sane GitRepository URL, so refuse them outright.
const SAFE_URL_CHARS = /^[\x21-\x5b\x5d-\x7e]*$/;
const HOST_NAME = /^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?$/;
// RFC 3986 userinfo characters. Anything else (a second `@` is fine, see splitURL) means the
// authority would be parsed differently by different clients.
const USERINFO = /^[A-Za-z0-9\-._~!$&'()*+,;=:%@]*$/;
// GitLab namespace/project path segment (Gitlab::PathRegex): starts with a letter, digit, `_` or
// `.`, continues with those and `-`. This also rejects `-` (GitLab's `/-/` route separator) and
// any percent-encoding, which project paths never need.
const PROJECT_SEGMENT = /^[A-Za-z0-9_.][A-Za-z0-9_.-]*$/;
const ROOT_SEGMENT = /^[A-Za-z0-9_.~-]+$/;

function splitURL(raw: string): SplitURL | undefined {
  if (!SAFE_URL_CHARS.test(raw)) return undefined;
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)([^?#]*)(.*)$/.exec(raw);
  if (!m) return undefined;
  const [, scheme, authority, path, rest] = m as unknown as [string, string, string, string, string];
  // The last `@` separates user-info, as in Go's url.Parse and WHATWG URL:
  // `https://gitlab.example.com@evil.net/` is a request to evil.net.
  const at = authority.lastIndexOf('@');
  const userinfo = at >= 0 ? authority.slice(0, at) : undefined;
  if (userinfo !== undefined && !USERINFO.test(userinfo)) return undefined;
  const hostport = at >= 0 ? authority.slice(at + 1) : authority;
  let host: string;
  let port: string | undefined;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) return undefined;
    host = hostport.slice(0, close + 1);
    const after = hostport.slice(close + 1);
    if (after !== '' && !after.startsWith(':')) return undefined;
    port = after === '' ? undefined : after.slice(1);
  } else {
    const colon = hostport.lastIndexOf(':');
    host = colon >= 0 ? hostport.slice(0, colon) : hostport;
    port = colon >= 0 ? hostport.slice(colon + 1) : undefined;
  }
  // Empty port (`host:`) is what Go accepts too; only digits otherwise.
  if (port !== undefined && !/^[0-9]{0,5}$/.test(port)) return undefined;
  const canonical = canonicalHost(host);
  if (canonical === undefined) return undefined;
  return { scheme: scheme.toLowerCase(), userinfo, host: canonical, port, path, queryOrFragment: rest !== '' };
}

/** Lower-case DNS name or bracketed, canonically written IPv6 literal; undefined if neither. */
function canonicalHost(host: string): string | undefined {
  if (host.startsWith('[')) {
    // Only IPv6 literals are compared in canonical form, so `[0:0::1]` equals `[::1]`; names
    // are compared as written, because resolvers do not agree on shorthands like `0x7f.1`.
    if (!/^\[[0-9A-Fa-f:.]+\]$/.test(host)) return undefined;
    try {
      return new URL(`http://${host}/`).hostname;
    } catch {
      return undefined;
    }
  }
  const lower = host.toLowerCase();
  return HOST_NAME.test(lower) ? lower : undefined;
}

/**
 * Parses the GitLab instance URL (e.g. `https://gitlab.example.com` or
 * `https://example.com:8443/gitlab`) and extra SSH host names (`host` or `host:port`; the port is
 * ignored because any port matches). Throws an Error naming what is wrong.
 */
export function parseInstance(url: string, sshHosts: string[] = []): Instance {
  const what = `GitLab instance URL ${JSON.stringify(url)}`;
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):/.exec(url)?.[1]?.toLowerCase();
  if (scheme === undefined || !url.slice(scheme.length + 1).startsWith('//')) {
    throw new Error(`${what} is not an absolute URL (expected https://host[/root])`);
  }
  if (scheme !== 'http' && scheme !== 'https') {
    throw new Error(`${what} must use http or https, not ${scheme}`);
  }
  if (!SAFE_URL_CHARS.test(url)) {
    throw new Error(`${what} contains spaces, backslashes or non-ASCII characters`);
  }
  if (/[?#]/.test(url)) {
    throw new Error(`${what} must not have a query string or fragment`);
  }
  const authority = /^[^:]+:\/\/([^/]*)/.exec(url)?.[1] ?? '';
  if (authority.includes('@')) {
    throw new Error(`${what} must not contain user info (credentials)`);
  }
  if (authority === '') throw new Error(`${what} has no host`);
  const split = splitURL(url);
  if (split === undefined) throw new Error(`${what} has an invalid host or port`);
  if (split.host === '') throw new Error(`${what} has no host`);

  const rootPath = split.path.endsWith('/') ? split.path.slice(0, -1) : split.path;
  if (rootPath !== '') {
    const segs = rootPath.slice(1).split('/');
    if (segs.some((s) => !ROOT_SEGMENT.test(s) || s === '.' || s === '..')) {
      throw new Error(`${what} has an invalid path ${JSON.stringify(split.path)} (expected '' or a relative root like /gitlab)`);
    }
  }

  const hosts = new Set<string>([split.host]);
  for (const entry of sshHosts) {
    const parsed = splitURL(`ssh://${entry}`);
    if (
      entry === '' ||
      parsed === undefined ||
      parsed.host === '' ||
      parsed.userinfo !== undefined ||
      parsed.path !== '' ||
      parsed.queryOrFragment
    ) {
      throw new Error(`SSH host ${JSON.stringify(entry)} is not a host name (expected host or host:port)`);
    }
    hosts.add(parsed.host);
  }
  const port = split.port ? `:${split.port}` : '';
  return { url: `${split.scheme}://${split.host}${port}${rootPath}`, hosts, rootPath };
}

/**
 * The GitLab project path (`group/sub/project`, case as written) that `repoURL` points at on
 * `instance`, or undefined when it does not point at a project there.
 */
export function projectPathFor(repoURL: string, instance: Instance): string | undefined {
  const u = splitURL(repoURL);
  if (u === undefined || u.queryOrFragment) return undefined;
  if (u.scheme !== 'http' && u.scheme !== 'https' && u.scheme !== 'ssh') return undefined;
  if (!instance.hosts.has(u.host)) return undefined;

  let path = u.path;
  const root = instance.rootPath;
  if (u.scheme === 'ssh') {
    // GitLab's SSH clone URLs never carry the relative root, but people copy the http form and
    // swap the scheme; accept it. This reads `ssh://host/gitlab/a/b` as project `a/b` when the
    // root is /gitlab, not as `gitlab/a/b` (a group named like the root is the rare case).
    if (root !== '' && path.startsWith(`${root}/`) && path.slice(root.length + 1).includes('/')) {
      path = path.slice(root.length);
    }
  } else if (root !== '') {
    // The root path is a fixed web-server prefix; URL paths are case-sensitive, so is this.
    if (!path.startsWith(`${root}/`)) return undefined;
    path = path.slice(root.length);
  }
  if (!path.startsWith('/')) return undefined;
  path = path.slice(1);
  if (path.endsWith('/')) path = path.slice(0, -1);
  // GitLab strips `.git` case-sensitively (RepoPath.parse); `Project.GIT` is a different name.
  if (path.endsWith('.git')) path = path.slice(0, -'.git'.length);

  const segs = path.split('/');
  if (segs.length < 2) return undefined;
  for (const s of segs) {
    if (!PROJECT_SEGMENT.test(s) || s === '.' || s === '..') return undefined;
  }
  // GitLab refuses project paths ending in these, so such a URL names no project.
  const last = segs[segs.length - 1]!;
  if (last.endsWith('.git') || last.endsWith('.atom')) return undefined;
  return path;
}

/** GitLab resolves project paths case-insensitively; compare through this. */
export function normalizeProject(projectPath: string): string {
  return projectPath.toLowerCase();
}
