/**
 * GitLab push webhooks (project, group and system hooks) reduced to what the operator acts on. Pure.
 * A push of a branch or tag gives a `Push`; any other well-formed event is `Ignored` (answered 2xx, nothing
 * done, as GitLab disables hooks that keep failing); a malformed one is an `Invalid` naming the field.
 */
export const ZERO_SHA = '0000000000000000000000000000000000000000';

export interface Push {
  kind: 'push';
  project: string; // path_with_namespace as sent
  ref: string; // refs/heads/main, refs/tags/v1
  after: string;
  deleted: boolean;
  event: 'Push Hook' | 'Tag Push Hook';
}

export type ParsedEvent = Push | { kind: 'ignored'; reason: string } | { kind: 'invalid'; message: string };

/**
 * A Map, never a plain object: `object_kind` is the sender's, and a plain object would answer `constructor`,
 * `toString` or `__proto__` with Object's own members (such a request was taken for a push).
 */
const PUSH_KINDS: ReadonlyMap<string, Push['event']> = new Map([
  ['push', 'Push Hook'],
  ['tag_push', 'Tag Push Hook'],
]);

/** A field of a JSON object, read only if the object itself has it (never from its prototype). */
function own(o: Record<string, unknown>, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

export function parseEvent(eventHeader: string | undefined, body: unknown): ParsedEvent {
  if (!eventHeader) return { kind: 'invalid', message: 'missing X-Gitlab-Event header' };
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return { kind: 'invalid', message: 'body: expected a JSON object' };
  const b = body as Record<string, unknown>;
  // Project and group hooks name the event in the header; system hooks say "System Hook" and put the
  // kind in event_name (object_kind is absent on some system events).
  const kind = eventHeader === 'System Hook' ? (own(b, 'event_name') ?? own(b, 'object_kind')) : own(b, 'object_kind');
  if (eventHeader !== 'System Hook' && eventHeader !== 'Push Hook' && eventHeader !== 'Tag Push Hook') {
    return { kind: 'ignored', reason: `event ${eventHeader.slice(0, 64)} is not a push` };
  }
  if (typeof kind !== 'string') return { kind: 'invalid', message: 'object_kind: expected a string' };
  const event = PUSH_KINDS.get(kind);
  if (!event) return { kind: 'ignored', reason: `object_kind ${kind.slice(0, 64)} is not a push` };

  const project = own(b, 'project');
  const path = typeof project === 'object' && project !== null ? own(project as Record<string, unknown>, 'path_with_namespace') : undefined;
  if (typeof path !== 'string' || path === '' || path.length > 1024)
    return { kind: 'invalid', message: 'project.path_with_namespace: expected a non-empty string' };
  const ref = own(b, 'ref');
  if (typeof ref !== 'string' || ref === '' || ref.length > 1024) return { kind: 'invalid', message: 'ref: expected a non-empty string' };
  const after = own(b, 'after');
  if (typeof after !== 'string' || !/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(after))
    return { kind: 'invalid', message: 'after: expected a commit SHA' };
  return { kind: 'push', project: path, ref, after, deleted: /^0+$/.test(after), event };
}
