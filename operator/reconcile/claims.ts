import type { LabelSelector } from '../api/v1alpha1/types.js';
import type { ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import type { GitRepository } from '../flux/types.js';
import type { ProjectMatcher } from '../gitlab/project-patterns.js';
import { type Instance, projectPathFor } from '../gitlab/project-url.js';
import { selectorMatches } from './selector.js';

/**
 * Which link manages which GitRepository. Pure: the same links and repositories always give the same answer,
 * in every replica and every link's reconcile, so two links never fight over a repository: the oldest link
 * that matches it keeps it (ties broken by name), the others report a conflict.
 */
export interface LinkMatcher {
  name: string;
  createdAt: string;
  instance: Instance;
  projects: ProjectMatcher;
  /** spec.trust.namespaceProjects compiled, in spec order; absent when the spec has none. */
  namespaceProjects?: readonly NamespaceProjectsMatcher[];
  spec: ValidatedLinkSpec;
}

/** One rule of spec.trust.namespaceProjects: the namespaces it selects may link the projects it matches. */
export interface NamespaceProjectsMatcher {
  namespaceSelector: LabelSelector;
  projects: ProjectMatcher;
}

/**
 * How a link sees a repository: not its concern (undefined: another instance, a namespace outside
 * namespaceSelector, a project outside trust.projects), linked, or refused by trust.namespaceProjects, with a
 * message for the link's status that names the rules involved, so the tenant can see why.
 */
export type RepositoryVerdict = { project: string; refusal?: undefined } | { project: string; refusal: string };

export function judgeRepository(
  link: LinkMatcher,
  repo: GitRepository,
  namespaceLabels: Record<string, string> | undefined,
): RepositoryVerdict | undefined {
  if (namespaceLabels === undefined) return undefined; // namespace unknown (being created or deleted)
  if (!selectorMatches(link.spec.trust?.namespaceSelector, namespaceLabels)) return undefined;
  const project = projectPathFor(repo.spec?.url ?? '', link.instance);
  if (project === undefined || !link.projects.matches(project)) return undefined;
  if (link.namespaceProjects === undefined) return { project };
  const refusal = namespaceProjectsRefusal(link.namespaceProjects, repo.metadata.namespace ?? '', namespaceLabels, project);
  return refusal === undefined ? { project } : { project, refusal };
}

/** The project path when the link would manage the repository, else undefined. */
export function matchRepository(
  link: LinkMatcher,
  repo: GitRepository,
  namespaceLabels: Record<string, string> | undefined,
): string | undefined {
  const v = judgeRepository(link, repo, namespaceLabels);
  return v === undefined || v.refusal !== undefined ? undefined : v.project;
}

const RULES_FIELD = 'spec.trust.namespaceProjects';
const MAX_PATTERNS_SHOWN = 200;

/** Why namespace `namespace` may not link `project` under these rules, or undefined when some rule allows it. */
export function namespaceProjectsRefusal(
  rules: readonly NamespaceProjectsMatcher[],
  namespace: string,
  namespaceLabels: Record<string, string>,
  project: string,
): string | undefined {
  const selecting = rules.flatMap((r, i) => (selectorMatches(r.namespaceSelector, namespaceLabels) ? [{ rule: r, i }] : []));
  if (selecting.some(({ rule }) => rule.projects.matches(project))) return undefined;
  if (selecting.length === 0) return `not linked: no rule of ${RULES_FIELD} selects namespace ${namespace}`;
  let allowed = selecting.map(({ rule, i }) => `[${i}] ${rule.projects.patterns.join(', ')}`).join('; ');
  if (allowed.length > MAX_PATTERNS_SHOWN) allowed = `${allowed.slice(0, MAX_PATTERNS_SHOWN - 3)}...`;
  return `not linked: namespace ${namespace} may link only the projects of ${RULES_FIELD}${selecting.map(({ i }) => `[${i}]`).join('')} (${allowed})`;
}

function olderFirst(a: LinkMatcher, b: LinkMatcher): number {
  if (a.createdAt !== b.createdAt) return a.createdAt < b.createdAt ? -1 : 1;
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

export interface Claim {
  repo: GitRepository;
  project: string;
}

export interface Conflict {
  repo: GitRepository;
  project: string;
  owner: string;
}

export interface Refusal {
  repo: GitRepository;
  project: string;
  /** Names the rules of spec.trust.namespaceProjects that refuse it. */
  message: string;
}

export interface Claims {
  managed: Claim[];
  conflicts: Conflict[];
  /** Repositories the link would manage but for spec.trust.namespaceProjects, unless an older link manages them. */
  refused: Refusal[];
}

/**
 * The repositories `self` manages, those it matches but another (older) link manages, and those its
 * namespaceProjects rules refuse (a refused repository is not matched, so a rival may manage it).
 */
export function claimsOf(
  self: LinkMatcher,
  all: LinkMatcher[],
  repos: GitRepository[],
  namespaceLabels: (ns: string) => Record<string, string> | undefined,
): Claims {
  const rivals = all.filter((l) => l.name !== self.name).sort(olderFirst);
  const managed: Claim[] = [];
  const conflicts: Conflict[] = [];
  const refused: Refusal[] = [];
  for (const repo of repos) {
    if (repo.metadata.deletionTimestamp) continue;
    const labels = namespaceLabels(repo.metadata.namespace ?? '');
    const verdict = judgeRepository(self, repo, labels);
    if (verdict === undefined) continue;
    const { project, refusal } = verdict;
    const owner = rivals.find((r) => olderFirst(r, self) < 0 && matchRepository(r, repo, labels) !== undefined);
    if (refusal !== undefined) {
      if (!owner) refused.push({ repo, project, message: refusal });
    } else if (owner) conflicts.push({ repo, project, owner: owner.name });
    else managed.push({ repo, project });
  }
  return { managed, conflicts, refused };
}
