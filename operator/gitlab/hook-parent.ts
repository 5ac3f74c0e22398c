// Where a GitLab hook lives: on a project (`/projects/:id/hooks`) or on a group (`/groups/:id/hooks`, GitLab Premium
// and Ultimate; docs: api/project_webhooks.md, api/group_webhooks.md). The operator names both with one string, so
// the hooks controller and status.hooks.registered treat them alike: a project is its path (`platform/apps/web`), a
// group is `group:` and its full path (`group:platform/apps`). GitLab paths never contain ":" (letters, digits, "_",
// "-", "." and "/"), so the two cannot be confused, and the project form is what status held before groups.

export const GROUP_PREFIX = 'group:';

export interface HookParent {
  kind: 'project' | 'group';
  /** The project's or group's full path, as GitLab's `:id` takes it (URL-encoded by the client). */
  path: string;
}

/** The key of a group's hooks. */
export function groupKey(groupPath: string): string {
  return `${GROUP_PREFIX}${groupPath}`;
}

export function hookParent(key: string): HookParent {
  return key.startsWith(GROUP_PREFIX) ? { kind: 'group', path: key.slice(GROUP_PREFIX.length) } : { kind: 'project', path: key };
}

export function isGroupKey(key: string): boolean {
  return key.startsWith(GROUP_PREFIX);
}

/** Whether `group` is `project`'s namespace or one of its ancestors (GitLab paths compare without case). */
export function groupContains(group: string, path: string): boolean {
  const g = group.toLowerCase();
  const p = path.toLowerCase();
  return p.length > g.length && p.startsWith(g) && p[g.length] === '/';
}
