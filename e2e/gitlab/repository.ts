// Branches and tags as GitLab's repository API shows them, read from the real bare repository.
// Sources: lib/api/branches.rb, lib/api/tags.rb, lib/api/entities/branch.rb, tag.rb, commit.rb;
// doc/api/branches.md, doc/api/tags.md.
import { git } from './git-exec.js';

export interface RepoProject {
  gitDir: string;
  defaultBranch: string;
  webURL: string;
}

interface Commit {
  id: string;
  parentIds: string[];
  authorName: string;
  authorEmail: string;
  authoredDate: string;
  committerName: string;
  committerEmail: string;
  committedDate: string;
  message: string;
}

export interface BranchHead {
  name: string;
  commit: Commit;
}

export interface TagHead {
  name: string;
  /** The tag object for an annotated tag, the commit for a lightweight one. */
  target: string;
  /** The annotation; '' for a lightweight tag. */
  message: string;
  /** The tagger's date of an annotated tag; null for a lightweight one. */
  createdAt: string | null;
  commit: Commit;
}

const FS = '\x1f';
const RS = '\x1e';

async function readCommits(gitDir: string, env: NodeJS.ProcessEnv, shas: string[]): Promise<Map<string, Commit>> {
  const unique = [...new Set(shas)];
  const out = new Map<string, Commit>();
  if (unique.length === 0) return out;
  const text = await git(
    [
      '--git-dir',
      gitDir,
      'log',
      '--no-walk=unsorted',
      `--format=%H${FS}%P${FS}%an${FS}%ae${FS}%aI${FS}%cn${FS}%ce${FS}%cI${FS}%B${RS}`,
      ...unique,
    ],
    { env },
  );
  for (const record of text.split(RS)) {
    const r = record.replace(/^\n/, '');
    if (r === '') continue;
    const [id, parents, an, ae, ad, cn, ce, cd, body] = r.split(FS) as string[];
    out.set(id!, {
      id: id!,
      parentIds: parents ? parents.split(' ') : [],
      authorName: an!,
      authorEmail: ae!,
      authoredDate: ad!,
      committerName: cn!,
      committerEmail: ce!,
      committedDate: cd!,
      message: body ?? '',
    });
  }
  return out;
}

export async function readBranches(project: RepoProject, env: NodeJS.ProcessEnv): Promise<BranchHead[]> {
  const text = await git(
    ['--git-dir', project.gitDir, 'for-each-ref', '--sort=refname', `--format=%(refname:lstrip=2)${FS}%(objectname)`, 'refs/heads/'],
    {
      env,
    },
  );
  const rows = text
    .split('\n')
    .filter(Boolean)
    .map((l) => l.split(FS) as [string, string]);
  const commits = await readCommits(
    project.gitDir,
    env,
    rows.map(([, sha]) => sha),
  );
  return rows.map(([name, sha]) => ({ name, commit: commits.get(sha)! }));
}

export async function readTags(project: RepoProject, env: NodeJS.ProcessEnv): Promise<TagHead[]> {
  const text = await git(
    [
      '--git-dir',
      project.gitDir,
      'for-each-ref',
      '--sort=refname',
      `--format=%(refname:lstrip=2)${FS}%(objecttype)${FS}%(objectname)${FS}%(*objectname)${FS}%(taggerdate:iso-strict)${FS}%(contents)${RS}`,
      'refs/tags/',
    ],
    { env },
  );
  const rows = text
    .split(RS)
    .map((r) => r.replace(/^\n/, ''))
    .filter(Boolean)
    .map((r) => r.split(FS) as [string, string, string, string, string, string]);
  // Only tags of commits (a tag of a tree or blob has no commit; GitLab leaves such tags out too).
  const pointing = rows.map(([name, type, sha, peeled, date, contents]) => ({
    name,
    annotated: type === 'tag',
    target: sha,
    commitSha: type === 'tag' ? peeled : sha,
    createdAt: type === 'tag' && date ? date : null,
    message: type === 'tag' ? contents.trimEnd() : '',
  }));
  const types = pointing.length
    ? (
        await git(['--git-dir', project.gitDir, 'cat-file', '--batch-check=%(objecttype)'], {
          env,
          input: pointing.map((p) => p.commitSha).join('\n') + '\n',
        })
      )
        .split('\n')
        .filter(Boolean)
    : [];
  const commitTags = pointing.filter((_, i) => types[i] === 'commit');
  const commits = await readCommits(
    project.gitDir,
    env,
    commitTags.map((t) => t.commitSha),
  );
  return commitTags.map((t) => ({
    name: t.name,
    target: t.target,
    message: t.message,
    createdAt: t.createdAt,
    commit: commits.get(t.commitSha)!,
  }));
}

/** Entities::Commit. */
export function renderCommit(c: Commit, webURL: string): Record<string, unknown> {
  const lines = c.message.split('\n');
  return {
    id: c.id,
    short_id: c.id.slice(0, 8),
    created_at: c.committedDate,
    parent_ids: c.parentIds,
    title: lines[0] ?? '',
    message: c.message,
    author_name: c.authorName,
    author_email: c.authorEmail,
    authored_date: c.authoredDate,
    committer_name: c.committerName,
    committer_email: c.committerEmail,
    committed_date: c.committedDate,
    trailers: {},
    extended_trailers: {},
    web_url: `${webURL}/-/commit/${c.id}`,
  };
}

/** Entities::Branch. The default branch is protected, as GitLab protects it on creation by default. */
export function renderBranch(b: BranchHead, project: RepoProject, accessLevel: number): Record<string, unknown> {
  const isDefault = b.name === project.defaultBranch;
  return {
    name: b.name,
    commit: renderCommit(b.commit, project.webURL),
    merged: false,
    protected: isDefault,
    developers_can_push: false,
    developers_can_merge: false,
    can_push: isDefault ? accessLevel >= 40 : accessLevel >= 30,
    default: isDefault,
    web_url: `${project.webURL}/-/tree/${b.name}`,
  };
}

/** Entities::Tag. */
export function renderTag(t: TagHead, project: RepoProject): Record<string, unknown> {
  return {
    name: t.name,
    message: t.message,
    target: t.target,
    commit: renderCommit(t.commit, project.webURL),
    release: null,
    protected: false,
    created_at: t.createdAt,
  };
}

/** `search` of the branches and tags APIs: `^prefix`, `suffix$`, or a substring, case-insensitive. */
export function matchesSearch(name: string, search: string | null): boolean {
  if (search === null || search === '') return true;
  const n = name.toLowerCase();
  let s = search.toLowerCase();
  const anchoredStart = s.startsWith('^');
  const anchoredEnd = s.endsWith('$');
  if (anchoredStart) s = s.slice(1);
  if (anchoredEnd) s = s.slice(0, -1);
  if (anchoredStart && anchoredEnd) return n === s;
  if (anchoredStart) return n.startsWith(s);
  if (anchoredEnd) return n.endsWith(s);
  return n.includes(s);
}

/** Compares version-like names as GitLab's `order_by=version` does (numbers by value). */
function versionCompare(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/**
 * GET /projects/:id/repository/tags ordering: order_by name | updated (the commit's date) | version, default
 * updated; sort asc | desc, default desc. Undefined for an invalid value (Grape answers 400).
 */
export function orderTags(tags: TagHead[], orderBy: string | null, sort: string | null): TagHead[] | { error: string } {
  const by = orderBy ?? 'updated';
  const dir = sort ?? 'desc';
  if (!['name', 'updated', 'version'].includes(by)) return { error: 'order_by does not have a valid value' };
  if (!['asc', 'desc'].includes(dir)) return { error: 'sort does not have a valid value' };
  const cmp =
    by === 'name'
      ? (x: TagHead, y: TagHead) => (x.name < y.name ? -1 : x.name > y.name ? 1 : 0)
      : by === 'version'
        ? (x: TagHead, y: TagHead) => versionCompare(x.name, y.name)
        : (x: TagHead, y: TagHead) => Date.parse(x.commit.committedDate) - Date.parse(y.commit.committedDate) || (x.name < y.name ? -1 : 1);
  const sorted = [...tags].sort(cmp);
  return dir === 'desc' ? sorted.reverse() : sorted;
}
