import { expect } from 'chai';
import { type ParsedEvent, parseEvent, ZERO_SHA } from './webhook-event.js';

const SHA = 'da1560886d4f094c3e6c9ef40349f7d38b5d27d7';
const SHA256 = 'a'.repeat(64);

/** A push payload as GitLab sends it (project hook), trimmed to what matters. */
function pushBody(over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    object_kind: 'push',
    event_name: 'push',
    before: '95790bf891e76fee5e1747ab589903a6a1f80f22',
    after: SHA,
    ref: 'refs/heads/main',
    checkout_sha: SHA,
    project_id: 15,
    project: { id: 15, path_with_namespace: 'group/sub/project', web_url: 'https://gitlab.example.com/group/sub/project' },
    commits: [],
    total_commits_count: 0,
    ...over,
  };
}

function without(body: Record<string, unknown>, key: string): Record<string, unknown> {
  const copy = { ...body };
  delete copy[key];
  return copy;
}

describe('gitlab-event: parseEvent', () => {
  describe('pushes', () => {
    const cases: Array<[string, string, unknown, Partial<Extract<ParsedEvent, { kind: 'push' }>>]> = [
      [
        'a project Push Hook is a branch push',
        'Push Hook',
        pushBody(),
        { event: 'Push Hook', project: 'group/sub/project', ref: 'refs/heads/main', after: SHA, deleted: false },
      ],
      [
        'a Tag Push Hook is a tag push',
        'Tag Push Hook',
        pushBody({ object_kind: 'tag_push', event_name: 'tag_push', ref: 'refs/tags/v1.2.0' }),
        { event: 'Tag Push Hook', ref: 'refs/tags/v1.2.0', deleted: false },
      ],
      [
        'a System Hook with event_name push is a branch push',
        'System Hook',
        pushBody({ object_kind: undefined, event_name: 'push' }),
        { event: 'Push Hook', project: 'group/sub/project' },
      ],
      [
        'a System Hook with event_name tag_push is a tag push',
        'System Hook',
        pushBody({ object_kind: undefined, event_name: 'tag_push', ref: 'refs/tags/v2' }),
        { event: 'Tag Push Hook', ref: 'refs/tags/v2' },
      ],
      [
        'a System Hook without event_name falls back to object_kind',
        'System Hook',
        without(pushBody(), 'event_name'),
        { event: 'Push Hook' },
      ],
      [
        'deleting a branch (after = 40 zeros) is a deletion',
        'Push Hook',
        pushBody({ after: ZERO_SHA }),
        { deleted: true, after: ZERO_SHA },
      ],
      [
        'deleting a tag is a deletion',
        'Tag Push Hook',
        pushBody({ object_kind: 'tag_push', ref: 'refs/tags/v1', after: ZERO_SHA }),
        { deleted: true, event: 'Tag Push Hook' },
      ],
      ['a SHA-256 repository (64 hex digits) is accepted', 'Push Hook', pushBody({ after: SHA256 }), { after: SHA256, deleted: false }],
      ['a SHA-256 deletion (64 zeros) is a deletion', 'Push Hook', pushBody({ after: '0'.repeat(64) }), { deleted: true }],
      [
        'the project path is kept as sent (case included)',
        'Push Hook',
        pushBody({ project: { path_with_namespace: 'Group/Project' } }),
        { project: 'Group/Project' },
      ],
    ];
    for (const [name, header, body, want] of cases) {
      it(name, () => {
        const got = parseEvent(header, body);
        expect(got.kind, JSON.stringify(got)).to.equal('push');
        for (const [k, v] of Object.entries(want)) expect((got as unknown as Record<string, unknown>)[k], k).to.deep.equal(v);
      });
    }

    it('returns exactly the Push fields and nothing copied from the body', () => {
      expect(parseEvent('Push Hook', pushBody())).to.deep.equal({
        kind: 'push',
        project: 'group/sub/project',
        ref: 'refs/heads/main',
        after: SHA,
        deleted: false,
        event: 'Push Hook',
      });
    });
  });

  describe('well-formed events that are not pushes are ignored', () => {
    const cases: Array<[string, string, unknown]> = [
      ['Merge Request Hook', 'Merge Request Hook', { object_kind: 'merge_request', project: { path_with_namespace: 'a/b' } }],
      ['Issue Hook', 'Issue Hook', { object_kind: 'issue' }],
      ['Pipeline Hook even with a push-like body', 'Pipeline Hook', pushBody()],
      ['System Hook project_create', 'System Hook', { event_name: 'project_create', path_with_namespace: 'a/b', project_id: 3 }],
      ['System Hook repository_update', 'System Hook', { event_name: 'repository_update', project_id: 3 }],
      ['System Hook merge_request (object_kind only)', 'System Hook', { object_kind: 'merge_request' }],
      ['Push Hook whose object_kind is not a push', 'Push Hook', pushBody({ object_kind: 'note' })],
    ];
    for (const [name, header, body] of cases) {
      it(name, () => {
        const got = parseEvent(header, body);
        expect(got.kind, JSON.stringify(got)).to.equal('ignored');
      });
    }

    it('bounds the reason for a huge event header', () => {
      const got = parseEvent('X'.repeat(100_000), {});
      expect(got.kind).to.equal('ignored');
      expect((got as { reason: string }).reason.length).to.be.below(200);
    });
  });

  describe('object_kind and event_name are looked up as data, never as properties of an object', () => {
    // A plain-object table answered `constructor`, `toString` or `__proto__` with Object's own members: such a
    // request became a "push" whose X-Gitlab-Event was `function Object() { [native code] }`.
    const names = ['constructor', 'toString', '__proto__', 'hasOwnProperty', 'valueOf', '__defineGetter__', 'isPrototypeOf'];
    for (const name of names) {
      it(`object_kind ${name} on a Push Hook is ignored, not a push`, () => {
        const got = parseEvent('Push Hook', pushBody({ object_kind: name }));
        expect(got.kind, JSON.stringify(got)).to.equal('ignored');
      });
      it(`event_name ${name} on a System Hook is ignored, not a push`, () => {
        const got = parseEvent('System Hook', pushBody({ object_kind: undefined, event_name: name }));
        expect(got.kind, JSON.stringify(got)).to.equal('ignored');
      });
    }

    it('a body whose fields come only from an own "__proto__" key is not a push', () => {
      const body: unknown = JSON.parse(`{"__proto__": ${JSON.stringify(pushBody())}}`);
      expect(parseEvent('Push Hook', body).kind).to.equal('invalid');
    });
  });

  describe('malformed events are invalid with a message naming the field', () => {
    const cases: Array<[string, string | undefined, unknown, RegExp]> = [
      ['missing X-Gitlab-Event header', undefined, pushBody(), /X-Gitlab-Event/],
      ['empty X-Gitlab-Event header', '', pushBody(), /X-Gitlab-Event/],
      ['body is null', 'Push Hook', null, /body/],
      ['body is an array', 'Push Hook', [pushBody()], /body/],
      ['body is a string', 'Push Hook', 'push', /body/],
      ['body is a number', 'Push Hook', 42, /body/],
      ['object_kind missing on a Push Hook', 'Push Hook', without(pushBody(), 'object_kind'), /object_kind/],
      ['object_kind not a string', 'Push Hook', pushBody({ object_kind: 1 }), /object_kind/],
      ['System Hook with neither event_name nor object_kind', 'System Hook', { project: { path_with_namespace: 'a/b' } }, /object_kind/],
      ['project missing', 'Push Hook', without(pushBody(), 'project'), /project\.path_with_namespace/],
      ['project is null', 'Push Hook', pushBody({ project: null }), /project\.path_with_namespace/],
      ['project.path_with_namespace missing', 'Push Hook', pushBody({ project: { id: 1 } }), /project\.path_with_namespace/],
      [
        'project.path_with_namespace empty',
        'Push Hook',
        pushBody({ project: { path_with_namespace: '' } }),
        /project\.path_with_namespace/,
      ],
      [
        'project.path_with_namespace not a string',
        'Push Hook',
        pushBody({ project: { path_with_namespace: ['a', 'b'] } }),
        /project\.path_with_namespace/,
      ],
      [
        'project.path_with_namespace absurdly long',
        'Push Hook',
        pushBody({ project: { path_with_namespace: 'a/'.repeat(1000) } }),
        /project\.path_with_namespace/,
      ],
      ['ref missing', 'Push Hook', without(pushBody(), 'ref'), /\bref\b/],
      ['ref empty', 'Push Hook', pushBody({ ref: '' }), /\bref\b/],
      ['ref not a string', 'Push Hook', pushBody({ ref: 5 }), /\bref\b/],
      ['after missing', 'Push Hook', without(pushBody(), 'after'), /\bafter\b/],
      ['after not hex', 'Push Hook', pushBody({ after: 'z'.repeat(40) }), /\bafter\b/],
      ['after too short', 'Push Hook', pushBody({ after: SHA.slice(0, 39) }), /\bafter\b/],
      ['after of 41 hex digits', 'Push Hook', pushBody({ after: SHA + 'a' }), /\bafter\b/],
      ['after in upper case', 'Push Hook', pushBody({ after: SHA.toUpperCase() }), /\bafter\b/],
      ['after a number', 'Push Hook', pushBody({ after: 0 }), /\bafter\b/],
    ];
    for (const [name, header, body, message] of cases) {
      it(name, () => {
        const got = parseEvent(header, body);
        expect(got.kind, JSON.stringify(got)).to.equal('invalid');
        expect((got as { message: string }).message).to.match(message);
      });
    }
  });
});
