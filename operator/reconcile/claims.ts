import type { ValidatedLinkSpec } from '../api/v1alpha1/validation.js';
import { projectPathFor, type Instance } from '../gitlab/project-url.js';
import type { GitRepository } from '../flux/types.js';
import type { ProjectMatcher } from '../gitlab/project-patterns.js';
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
  spec: ValidatedLinkSpec;
}

/** The project path when the link would manage the repository, else undefined. */
export function matchRepository(link: LinkMatcher, repo: GitRepository, namespaceLabels: Record<string, string> | undefined): string | undefined {
  if (namespaceLabels === undefined) return undefined; // namespace unknown (being created or deleted)
  if (!selectorMatches(link.spec.trust?.namespaceSelector, namespaceLabels)) return undefined;
  const project = projectPathFor(repo.spec?.url ?? '', link.instance);
  if (project === undefined || !link.projects.matches(project)) return undefined;
  return project;
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

export interface Claims {
  managed: Claim[];
  conflicts: Conflict[];
}

/** The repositories `self` manages and those it matches but another (older) link manages. */
export function claimsOf(self: LinkMatcher, all: LinkMatcher[], repos: GitRepository[], namespaceLabels: (ns: string) => Record<string, string> | undefined): Claims {
  const rivals = all.filter((l) => l.name !== self.name).sort(olderFirst);
  const managed: Claim[] = [];
  const conflicts: Conflict[] = [];
  for (const repo of repos) {
    if (repo.metadata.deletionTimestamp) continue;
    const labels = namespaceLabels(repo.metadata.namespace ?? '');
    const project = matchRepository(self, repo, labels);
    if (project === undefined) continue;
    const owner = rivals.find((r) => olderFirst(r, self) < 0 && matchRepository(r, repo, labels) !== undefined);
    if (owner) conflicts.push({ repo, project, owner: owner.name });
    else managed.push({ repo, project });
  }
  return { managed, conflicts };
}
