// The REST routes the emulator answers under /api/v4, each with the GitLab version that introduced it and
// the page that documents it. Matching is pure: a path whose segments are URL-encoded as GitLab requires
// (`group%2Fsub%2Fproject`, `feature%2Fx`) matches; an unencoded slash in a parameter does not (GitLab's
// NAMESPACE_OR_PROJECT_REQUIREMENTS and branch/tag requirements), and is a 404.
import type { GitLabFeatures } from './gitlab-version.js';

export type RouteName =
  | 'project'
  | 'hooks.list'
  | 'hooks.create'
  | 'hooks.get'
  | 'hooks.update'
  | 'hooks.delete'
  | 'hooks.test'
  | 'hooks.events'
  | 'hooks.resend'
  | 'group-hooks.list'
  | 'group-hooks.create'
  | 'group-hooks.get'
  | 'group-hooks.update'
  | 'group-hooks.delete'
  | 'group-hooks.test'
  | 'group-hooks.events'
  | 'group-hooks.resend'
  | 'branches.list'
  | 'branches.get'
  | 'tags.list'
  | 'tags.get';

export interface RouteSpec {
  name: RouteName;
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  /** The template as GitLab's docs write it; what the request log records. */
  template: string;
  /** GitLab version that introduced it; where the doc / source is. */
  since: string;
  doc: string;
  available?: (f: GitLabFeatures) => boolean;
}

const GROUP_DOC = 'doc/api/group_webhooks.md; ee/lib/api/group_hooks.rb';

export const ROUTES: readonly RouteSpec[] = [
  { name: 'project', method: 'GET', template: '/projects/:id', since: '8.0', doc: 'doc/api/projects.md; lib/api/projects.rb' },
  {
    name: 'hooks.list',
    method: 'GET',
    template: '/projects/:id/hooks',
    since: '8.0',
    doc: 'doc/api/project_webhooks.md; lib/api/project_hooks.rb',
  },
  {
    name: 'hooks.create',
    method: 'POST',
    template: '/projects/:id/hooks',
    since: '8.0',
    doc: 'doc/api/project_webhooks.md; lib/api/project_hooks.rb',
  },
  { name: 'hooks.get', method: 'GET', template: '/projects/:id/hooks/:hook_id', since: '8.0', doc: 'doc/api/project_webhooks.md' },
  { name: 'hooks.update', method: 'PUT', template: '/projects/:id/hooks/:hook_id', since: '8.0', doc: 'doc/api/project_webhooks.md' },
  { name: 'hooks.delete', method: 'DELETE', template: '/projects/:id/hooks/:hook_id', since: '8.0', doc: 'doc/api/project_webhooks.md' },
  {
    name: 'hooks.test',
    method: 'POST',
    template: '/projects/:id/hooks/:hook_id/test/:trigger',
    since: '16.11',
    doc: 'doc/api/project_webhooks.md; lib/api/hooks/trigger_test.rb',
    available: (f) => f.testEndpoint,
  },
  {
    name: 'hooks.events',
    method: 'GET',
    template: '/projects/:id/hooks/:hook_id/events',
    since: '17.3',
    doc: 'doc/api/project_webhooks.md; lib/api/hooks/events.rb',
    available: (f) => f.hookEvents,
  },
  {
    name: 'hooks.resend',
    method: 'POST',
    template: '/projects/:id/hooks/:hook_id/events/:hook_log_id/resend',
    since: '17.4',
    doc: 'doc/api/project_webhooks.md; lib/api/hooks/resend_hook.rb',
    available: (f) => f.resendEvent,
  },
  // Group hooks (GitLab Premium and Ultimate): ee/lib/api/group_hooks.rb mounts the same hook helpers, test, events
  // and resend endpoints as lib/api/project_hooks.rb, under /groups/:id/hooks (doc/api/group_webhooks.md).
  { name: 'group-hooks.list', method: 'GET', template: '/groups/:id/hooks', since: '10.5', doc: GROUP_DOC },
  { name: 'group-hooks.create', method: 'POST', template: '/groups/:id/hooks', since: '10.5', doc: GROUP_DOC },
  { name: 'group-hooks.get', method: 'GET', template: '/groups/:id/hooks/:hook_id', since: '10.5', doc: GROUP_DOC },
  { name: 'group-hooks.update', method: 'PUT', template: '/groups/:id/hooks/:hook_id', since: '10.5', doc: GROUP_DOC },
  { name: 'group-hooks.delete', method: 'DELETE', template: '/groups/:id/hooks/:hook_id', since: '10.5', doc: GROUP_DOC },
  {
    name: 'group-hooks.test',
    method: 'POST',
    template: '/groups/:id/hooks/:hook_id/test/:trigger',
    since: '17.1',
    doc: GROUP_DOC,
    available: (f) => f.groupHookTest,
  },
  {
    name: 'group-hooks.events',
    method: 'GET',
    template: '/groups/:id/hooks/:hook_id/events',
    since: '17.3',
    doc: GROUP_DOC,
    available: (f) => f.hookEvents,
  },
  {
    name: 'group-hooks.resend',
    method: 'POST',
    template: '/groups/:id/hooks/:hook_id/events/:hook_log_id/resend',
    since: '17.4',
    doc: GROUP_DOC,
    available: (f) => f.resendEvent,
  },
  {
    name: 'branches.list',
    method: 'GET',
    template: '/projects/:id/repository/branches',
    since: '8.0',
    doc: 'doc/api/branches.md; lib/api/branches.rb',
  },
  { name: 'branches.get', method: 'GET', template: '/projects/:id/repository/branches/:branch', since: '8.0', doc: 'doc/api/branches.md' },
  { name: 'tags.list', method: 'GET', template: '/projects/:id/repository/tags', since: '8.0', doc: 'doc/api/tags.md; lib/api/tags.rb' },
  { name: 'tags.get', method: 'GET', template: '/projects/:id/repository/tags/:tag', since: '8.0', doc: 'doc/api/tags.md' },
];

export type RouteMatch =
  | { kind: 'route'; route: RouteSpec; params: Record<string, string> }
  | { kind: 'method-not-allowed'; template: string }
  | { kind: 'not-found' };

/** Matches a path below /api/v4 (e.g. `/projects/group%2Fapp/hooks`) against the routes this version has. */
export function matchRoute(method: string, apiPath: string, features: GitLabFeatures): RouteMatch {
  const raw = apiPath.split('/').slice(1);
  let segments: string[];
  try {
    segments = raw.map((s) => decodeURIComponent(s));
  } catch {
    return { kind: 'not-found' };
  }
  let wrongMethod: string | undefined;
  for (const route of ROUTES) {
    if (route.available && !route.available(features)) continue;
    const parts = route.template.split('/').slice(1);
    if (parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < parts.length && ok; i++) {
      const part = parts[i]!;
      if (part.startsWith(':')) {
        if (segments[i] === '') ok = false;
        else params[part.slice(1)] = segments[i]!;
      } else if (raw[i] !== part) ok = false;
    }
    if (!ok) continue;
    if (route.method !== method) {
      wrongMethod = route.template;
      continue;
    }
    return { kind: 'route', route, params };
  }
  return wrongMethod ? { kind: 'method-not-allowed', template: wrongMethod } : { kind: 'not-found' };
}
