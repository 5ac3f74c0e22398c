import { expect } from 'chai';
import type { ProjectHook } from '../gitlab/project-hooks.js';
import {
  boundHookEntries,
  desiredHook,
  describeHookError,
  hookHealth,
  hooksUpdate,
  hookWrite,
  isOwnHook,
  newTrouble,
  noHooksUpdate,
  ownedHookURL,
  planProjectHooks,
  type ProjectOutcome,
  RETEST_AFTER_MS,
  shouldTestHook,
} from './hooks.js';
import { nextStatus } from './status.js';

const UID = '5f1c9c0e-0000-4000-8000-000000000001';
const OTHER_UID = '5f1c9c0e-0000-4000-8000-000000000002';
const BASE = 'https://hooks.example.com/hooks/prod';
const desired = desiredHook('prod', UID, BASE, false);

/** This link's hook exactly as wanted, as GitLab 17.11+ lists it. */
function ours(id: number, over: Partial<ProjectHook> = {}): ProjectHook {
  return {
    id,
    url: ownedHookURL(BASE, UID),
    created_at: `2026-01-01T00:00:0${id}Z`,
    push_events: true,
    tag_push_events: true,
    enable_ssl_verification: true,
    push_events_branch_filter: '',
    merge_requests_events: false,
    name: desired.name,
    description: desired.description,
    alert_status: 'executable',
    disabled_until: null,
    ...over,
  };
}

describe('reconcile/hooks: the GitLab side decided without I/O', () => {
  describe('ownership is the URL marker only', () => {
    it('the registered URL is webhook.url with ?fluxlink-link=<uid>', () => {
      expect(ownedHookURL(BASE, UID)).to.equal(`${BASE}?fluxlink-link=${UID}`);
      expect(isOwnHook({ url: ownedHookURL(BASE, UID) }, UID)).to.equal(true);
    });
    const stories: [string, string, boolean][] = [
      [
        'a hook edited to another path keeps the marker: still ours (and repaired)',
        `https://evil.example.com/x?fluxlink-link=${UID}`,
        true,
      ],
      ["a person's hook to the very same URL without the marker", BASE, false],
      ["another link's marker", ownedHookURL(BASE, OTHER_UID), false],
      ['the marker twice', `${ownedHookURL(BASE, UID)}&fluxlink-link=${UID}`, false],
      ['the uid in another parameter', `${BASE}?other=${UID}`, false],
      ['a URL that does not parse', `not a url ${UID}`, false],
    ];
    for (const [story, url, own] of stories) it(story, () => expect(isOwnHook({ url }, UID)).to.equal(own));
  });

  describe('planProjectHooks', () => {
    it('no hook of ours: create one, whatever else is there', () => {
      const plan = planProjectHooks(
        [
          { id: 1, url: BASE },
          { id: 2, url: ownedHookURL(BASE, OTHER_UID) },
        ],
        UID,
        desired,
        false,
      );
      expect(plan.actions).to.deep.equal([{ verb: 'create' }]);
    });

    it('ours as wanted: nothing to write (steady state costs one list)', () => {
      expect(planProjectHooks([ours(1), { id: 2, url: BASE }], UID, desired, false)).to.deep.equal({ actions: [], kept: ours(1) });
    });

    it('drift is repaired by one update naming what drifted: URL, events, SSL, filter, name', () => {
      const edited = ours(3, {
        url: `https://other.example.com/hooks/prod?fluxlink-link=${UID}`,
        tag_push_events: false,
        enable_ssl_verification: false,
        push_events_branch_filter: 'main',
        merge_requests_events: true,
        name: 'renamed',
      });
      expect(planProjectHooks([edited], UID, desired, false).actions).to.deep.equal([
        {
          verb: 'update',
          id: 3,
          why: ['url', 'tag_push_events', 'enable_ssl_verification', 'push_events_branch_filter', 'merge_requests_events', 'name'],
        },
      ]);
    });

    it('a rotated webhook Secret updates the hook even though it looks right (the token is write-only)', () => {
      expect(planProjectHooks([ours(1)], UID, desired, true).actions).to.deep.equal([
        { verb: 'update', id: 1, why: ['webhook Secret changed'] },
      ]);
    });

    it('duplicates of our marker: the oldest is kept, the others deleted; a hook without the marker never', () => {
      const listed = [ours(5), ours(2), { id: 3, url: BASE }, ours(4)];
      const plan = planProjectHooks(listed, UID, desired, false);
      expect(plan.kept?.id).to.equal(2);
      expect(plan.actions).to.deep.equal([
        { verb: 'delete', id: 4, why: 'duplicate' },
        { verb: 'delete', id: 5, why: 'duplicate' },
      ]);
    });

    it('not wanted (project left the link, link deleted, webhook.url removed): only our hooks are deleted', () => {
      const plan = planProjectHooks(
        [ours(1), { id: 2, url: BASE }, ours(3, { url: ownedHookURL(BASE, OTHER_UID) })],
        UID,
        undefined,
        false,
      );
      expect(plan.actions).to.deep.equal([{ verb: 'delete', id: 1, why: 'not wanted' }]);
    });

    it('older GitLab (no name, description, alert_status fields): those are not compared', () => {
      const old = ours(1);
      delete old.name;
      delete old.description;
      delete old.alert_status;
      delete old.disabled_until;
      expect(planProjectHooks([old], UID, desired, false).actions).to.deep.equal([]);
    });

    it('a hook whose secret token was cleared (GitLab 19.0+ shows token_present false) gets it back', () => {
      expect(planProjectHooks([ours(1, { token_present: false })], UID, desired, false).actions).to.deep.equal([
        { verb: 'update', id: 1, why: ['token'] },
      ]);
      expect(planProjectHooks([ours(1, { token_present: true })], UID, desired, false).actions).to.deep.equal([]);
    });

    it('a signing Secret: GitLab 19.0+ must show signing_token_present; older GitLab (no field) is not asked', () => {
      const signing = desiredHook('prod', UID, BASE, true);
      expect(planProjectHooks([ours(1, { signing_token_present: false })], UID, signing, false).actions).to.deep.equal([
        { verb: 'update', id: 1, why: ['signing_token'] },
      ]);
      expect(planProjectHooks([ours(1, { signing_token_present: true })], UID, signing, false).actions).to.deep.equal([]);
      expect(planProjectHooks([ours(1)], UID, signing, false).actions).to.deep.equal([]);
    });
  });

  it('hookWrite: the whole hook with the token every time; other events off; signing token only with a signing Secret', () => {
    const w = hookWrite(desired, 'tok-0123456789abcdef', 'whsec_key');
    expect(w).to.include({
      url: ownedHookURL(BASE, UID),
      token: 'tok-0123456789abcdef',
      push_events: true,
      tag_push_events: true,
      enable_ssl_verification: true,
    });
    expect(w).to.include({
      push_events_branch_filter: '',
      merge_requests_events: false,
      pipeline_events: false,
      name: 'gitlab-flux-link prod',
    });
    expect(w).not.to.have.property('signing_token');
    expect(w).not.to.have.property('custom_webhook_template');
    expect(hookWrite(desired, 't', undefined, true).custom_webhook_template).to.equal('');
    expect(hookWrite(desiredHook('prod', UID, BASE, true), 't', 'whsec_key').signing_token).to.equal('whsec_key');
  });

  describe('health', () => {
    it('alert_status first, then recent failures', () => {
      expect(hookHealth(ours(1), 0)).to.deep.equal({ state: 'active' });
      expect(hookHealth(ours(1), undefined)).to.deep.equal({ state: 'active' });
      expect(hookHealth(ours(1), 2)).to.deep.equal({ state: 'failing' });
      expect(hookHealth(ours(1, { alert_status: 'disabled' }), 0)).to.deep.equal({ state: 'disabled' });
      expect(hookHealth(ours(1, { alert_status: 'temporarily_disabled', disabled_until: '2026-01-01T01:00:00Z' }), 5)).to.deep.equal({
        state: 'temporarily_disabled',
        disabledUntil: '2026-01-01T01:00:00Z',
      });
    });
    it('a disabled hook is tested (re-enabled), a refused test waits before the next', () => {
      expect(shouldTestHook('active', undefined, 0)).to.equal(false);
      expect(shouldTestHook('failing', undefined, 0)).to.equal(false);
      expect(shouldTestHook('disabled', undefined, 0)).to.equal(true);
      expect(shouldTestHook('temporarily_disabled', 1000, 1000 + RETEST_AFTER_MS - 1)).to.equal(false);
      expect(shouldTestHook('temporarily_disabled', 1000, 1000 + RETEST_AFTER_MS)).to.equal(true);
    });
  });

  describe('hooksUpdate: HooksReady and status.hooks', () => {
    const ok = (project: string, hookId: number): ProjectOutcome => ({
      project,
      wanted: true,
      hookId,
      health: { state: 'active' },
      mayRemain: true,
    });

    it('all registered: True, counts, registered projects sorted, the Secret version recorded', () => {
      const u = hooksUpdate([ok('b/two', 2), ok('a/one', 1)], undefined, 'uid1/7', false);
      expect(u.set).to.deep.equal([
        { type: 'HooksReady', status: 'True', reason: 'Succeeded', message: "2 of 2 projects have this link's GitLab webhook" },
      ]);
      expect(u.hooks).to.deep.equal({
        projects: 2,
        active: 2,
        registered: ['a/one', 'b/two'],
        secretVersion: 'uid1/7',
        entries: [
          { project: 'a/one', state: 'active', hookId: 1 },
          { project: 'b/two', state: 'active', hookId: 2 },
        ],
      });
    });

    it('a token with too little access on one project: False naming the project and the reason; the Secret version not advanced', () => {
      const error = {
        status: 403,
        message: describeHookError('team/locked', 403, 'GitLab API GET /projects/:id/hooks: 403 403 Forbidden'),
      };
      const u = hooksUpdate(
        [ok('a/one', 1), { project: 'team/locked', wanted: true, error, mayRemain: false }],
        { projects: 1, active: 1, registered: ['a/one'], secretVersion: 'old', entries: [] },
        'new',
        false,
      );
      expect(u.set![0]).to.deep.include({ status: 'False', reason: 'HookRegistrationFailed' });
      expect(u.set![0]!.message).to.equal(
        '1 of 2 projects: team/locked: the API token has too little access (403): it needs the api scope and the Maintainer role on the project',
      );
      expect(u.hooks!.secretVersion).to.equal('old');
      expect(u.hooks!.entries[0]).to.deep.equal({ project: 'team/locked', state: 'error', message: error.message });
    });

    it('401 wins: the token is not accepted', () => {
      const error = { status: 401, message: describeHookError('a/one', 401, '') };
      const u = hooksUpdate([{ project: 'a/one', wanted: true, error, mayRemain: true }], undefined, 'v', false);
      expect(u.set![0]).to.deep.include({ status: 'False', reason: 'GitLabUnauthorized' });
      expect(u.hooks!.registered).to.deep.equal(['a/one']);
    });

    it('disabled hooks: False HooksDisabled with until-times; entries problems first', () => {
      const u = hooksUpdate(
        [
          ok('a/one', 1),
          {
            project: 'z/two',
            wanted: true,
            hookId: 2,
            health: { state: 'temporarily_disabled', disabledUntil: '2026-01-01T00:10:00Z' },
            mayRemain: true,
          },
        ],
        undefined,
        'v',
        false,
      );
      expect(u.set![0]).to.deep.include({
        status: 'False',
        reason: 'HooksDisabled',
        message:
          "GitLab disabled this link's webhook on 1 of 2 projects: z/two (until 2026-01-01T00:10:00Z); re-enabling through test deliveries",
      });
      expect(u.hooks!.entries.map((e) => e.project)).to.deep.equal(['z/two', 'a/one']);
      expect(u.hooks!.active).to.equal(1);
    });

    it('outbound-only: True OutboundOnly; a hook still to be removed stays registered', () => {
      const u = hooksUpdate([{ project: 'a/one', wanted: false, mayRemain: false }], undefined, 'v', true);
      expect(u.set![0]).to.deep.include({ status: 'True', reason: 'OutboundOnly' });
      expect(u.hooks).to.deep.equal({ projects: 0, active: 0, registered: [], entries: [] });
    });

    it("through nextStatus: HooksReady is one of Ready's owners; noHooksUpdate removes it and status.hooks", () => {
      const base = nextStatus(
        undefined,
        [{ set: [{ type: 'ReceiversReady', status: 'True', reason: 'Succeeded', message: 'r' }] }],
        1,
        't',
      );
      const failing = hooksUpdate(
        [{ project: 'a/one', wanted: true, error: { status: 404, message: 'a/one: gone' }, mayRemain: false }],
        undefined,
        'v',
        false,
      );
      const s = nextStatus(base, [failing], 1, 't');
      expect(s.conditions!.find((c) => c.type === 'Ready')).to.deep.include({ status: 'False', reason: 'HookRegistrationFailed' });
      const cleared = nextStatus(s, [noHooksUpdate()], 1, 't');
      expect(cleared.conditions!.map((c) => c.type)).to.deep.equal(['Ready', 'ReceiversReady']);
      expect(cleared).not.to.have.property('hooks');
      expect(cleared.conditions![0]).to.deep.include({ status: 'True' });
    });
  });

  it('newTrouble: a hook entering disabled, temporarily_disabled or failing, once per change', () => {
    const o = (project: string, state: 'active' | 'failing' | 'disabled', wanted = true): ProjectOutcome => ({
      project,
      wanted,
      health: { state },
      mayRemain: true,
    });
    const previous = new Map([
      ['a', 'active' as const],
      ['b', 'disabled' as const],
    ]);
    expect(
      newTrouble(previous, [o('a', 'disabled'), o('b', 'disabled'), o('c', 'failing'), o('d', 'active'), o('e', 'failing', false)]),
    ).to.deep.equal([
      { project: 'a', state: 'disabled' },
      { project: 'c', state: 'failing' },
    ]);
  });

  it('describeHookError says what to do for 401, 403, 404, 422 and 429', () => {
    expect(describeHookError('g/p', 404, 'x')).to.equal('g/p: project not found, or not visible to the API token (404)');
    expect(describeHookError('g/p', 422, 'GitLab API POST /projects/:id/hooks: 422 Invalid url given')).to.equal(
      'g/p: GitLab refused the hook (422: Invalid url given); check spec.webhook.url (GitLab refuses URLs in local networks unless its admin allows them)',
    );
    expect(describeHookError('g/p', 429, 'x')).to.match(/Retry-After/);
    expect(describeHookError('g/p', 401, 'x')).to.match(/tokenSecretRef/);
    expect(describeHookError('g/p', 0, 'GitLab API GET /projects/:id/hooks: no answer (ECONNREFUSED)')).to.equal(
      'g/p: GitLab API GET /projects/:id/hooks: no answer (ECONNREFUSED)',
    );
  });

  it('boundHookEntries keeps 50, problems first', () => {
    const many = Array.from({ length: 60 }, (_, i) => ({
      project: `p/${String(i).padStart(2, '0')}`,
      state: i === 59 ? ('error' as const) : ('active' as const),
    }));
    const bounded = boundHookEntries(many);
    expect(bounded).to.have.length(50);
    expect(bounded[0]!.project).to.equal('p/59');
  });
});
