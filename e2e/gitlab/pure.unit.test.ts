// The emulator's decisions without I/O: auto-disabling, pagination, hook parameters and filters, routes, versions.
import { expect } from 'chai';
import { matchRoute } from './api-routes.js';
import { afterDelivery, alertStatus, backoffMs, executable, type FailureState, HEALTHY } from './auto-disable.js';
import { AdjustableClock } from './clock.js';
import { gitlabFeatures } from './gitlab-version.js';
import {
  applyHookParams,
  branchFilterMatches,
  hookWantsRef,
  isRejection,
  parseStatusFilter,
  type ProjectHook,
  type Rejection,
  recentLogs,
  renderHook,
  validBranchFilter,
} from './hooks-store.js';
import { paginate, parsePagination } from './pagination.js';
import { loopbackAddress } from './webhook.js';
import { matchesSearch, orderTags, type TagHead } from './repository.js';

const MIN = 60_000;
const DAY = 24 * 60 * MIN;
const v19 = gitlabFeatures('19.0');
const v18 = gitlabFeatures('18.6');
const v16 = gitlabFeatures('16.10');

function newHook(params: Record<string, unknown>, features = v19): ProjectHook {
  const h = applyHookParams(undefined, params, features, { id: 7, projectId: 3, now: 0 });
  if (isRejection(h)) throw new Error(JSON.stringify(h.body));
  return h;
}
function rejection(params: Record<string, unknown>, base?: ProjectHook): Rejection {
  const h = applyHookParams(base, params, v19, { id: 7, projectId: 3, now: 0 });
  if (!isRejection(h)) throw new Error('accepted');
  return h;
}

describe('e2e/gitlab auto-disabling (WebHooks::AutoDisabling, 17.11+)', () => {
  it('backs off from the 4th consecutive failure: 1 min, doubling, capped at a day; the 40th disables for good', () => {
    let s: FailureState = HEALTHY;
    let now = 1_000_000;
    const seen: { failures: number; status: string; backoff: number | null }[] = [];
    for (let i = 1; i <= 40; i++) {
      s = afterDelivery(s, 'error', now, true);
      seen.push({
        failures: s.recentFailures,
        status: alertStatus(s, now, true),
        backoff: s.disabledUntil === null ? null : s.disabledUntil - now,
      });
      if (s.disabledUntil !== null) now = s.disabledUntil + 1; // the next event comes after the backoff
    }
    expect(seen.slice(0, 3).map((x) => x.status)).to.deep.equal(['executable', 'executable', 'executable']);
    expect(seen.slice(0, 3).map((x) => x.backoff)).to.deep.equal([null, null, null]);
    expect(seen[3]).to.deep.equal({ failures: 4, status: 'temporarily_disabled', backoff: MIN });
    expect(seen.slice(4, 8).map((x) => x.backoff)).to.deep.equal([2 * MIN, 4 * MIN, 8 * MIN, 16 * MIN]);
    expect(seen[14]!.backoff).to.equal(DAY); // 2^11 min > a day
    expect(seen[38]).to.deep.equal({ failures: 39, status: 'temporarily_disabled', backoff: DAY });
    expect(seen[39]!.failures).to.equal(40);
    expect(seen[39]!.status).to.equal('disabled');
    // Permanently disabled: no time makes it executable; only a success (the test endpoint) does.
    expect(executable(s, now + 365 * DAY, true)).to.equal(false);
    expect(afterDelivery(s, 'error', now + 365 * DAY, true)).to.deep.equal(s);
    expect(afterDelivery(s, 'ok', now, true)).to.deep.equal(HEALTHY);
  });

  it('is executable again once disabled_until has passed, and a failure then doubles the backoff', () => {
    let s: FailureState = { recentFailures: 3, disabledUntil: null };
    s = afterDelivery(s, 'error', 0, true);
    expect(executable(s, MIN, true), 'at disabled_until itself').to.equal(false);
    expect(executable(s, MIN + 1, true)).to.equal(true);
    expect(alertStatus(s, MIN + 1, true)).to.equal('executable');
    // A failure while disabled (a forced test delivery) changes nothing: backoff! returns unless executable.
    expect(afterDelivery(s, 'error', 30_000, true)).to.deep.equal(s);
    const next = afterDelivery(s, 'error', MIN + 1, true);
    expect(next).to.deep.equal({ recentFailures: 5, disabledUntil: MIN + 1 + 2 * MIN });
    expect(afterDelivery(next, 'ok', MIN + 2, true)).to.deep.equal(HEALTHY);
  });

  it('does nothing where auto-disabling is off (older GitLab, or the flag off): always executable', () => {
    const s = { recentFailures: 45, disabledUntil: 10 * MIN };
    expect(alertStatus(s, 0, false)).to.equal('executable');
    expect(executable(s, 0, false)).to.equal(true);
    expect(afterDelivery(HEALTHY, 'error', 0, false)).to.deep.equal(HEALTHY);
    expect(backoffMs(3)).to.equal(MIN);
    expect(backoffMs(100)).to.equal(DAY);
  });

  it('an adjustable clock only moves forward', () => {
    const c = new AdjustableClock();
    const before = c.now();
    c.advance(DAY);
    expect(c.now() - before).to.be.within(DAY, DAY + 1000);
    expect(() => c.advance(-1)).to.throw(/only moves forward/);
    expect(() => c.advance(NaN)).to.throw(/only moves forward/);
  });
});

describe('e2e/gitlab pagination (offset pagination headers)', () => {
  const url = new URL('http://127.0.0.1:1/api/v4/projects/g%2Fp/hooks?foo=1');
  const items = Array.from({ length: 45 }, (_, i) => i + 1);

  it('defaults to page 1 of 20 and writes every header GitLab writes', () => {
    const req = parsePagination(new URLSearchParams(''));
    expect(req).to.deep.equal({ page: 1, perPage: 20 });
    const p = paginate(items, req as { page: number; perPage: number }, url);
    expect(p.items).to.deep.equal(items.slice(0, 20));
    expect(p.headers).to.include({
      'X-Page': '1',
      'X-Per-Page': '20',
      'X-Next-Page': '2',
      'X-Prev-Page': '',
      'X-Total': '45',
      'X-Total-Pages': '3',
    });
    expect(p.headers.Link).to.equal(
      '<http://127.0.0.1:1/api/v4/projects/g%2Fp/hooks?foo=1&page=2&per_page=20>; rel="next", ' +
        '<http://127.0.0.1:1/api/v4/projects/g%2Fp/hooks?foo=1&page=1&per_page=20>; rel="first", ' +
        '<http://127.0.0.1:1/api/v4/projects/g%2Fp/hooks?foo=1&page=3&per_page=20>; rel="last"',
    );
  });

  it('last page, beyond the last page, per_page capped at 100, bad values', () => {
    const last = paginate(items, { page: 3, perPage: 20 }, url);
    expect(last.items).to.deep.equal([41, 42, 43, 44, 45]);
    expect(last.headers).to.include({ 'X-Next-Page': '', 'X-Prev-Page': '2' });
    expect(last.headers.Link)
      .to.match(/rel="prev"/)
      .and.not.match(/rel="next"/);
    expect(paginate(items, { page: 9, perPage: 20 }, url).items).to.deep.equal([]);
    expect(paginate([], { page: 1, perPage: 20 }, url).headers).to.include({ 'X-Total': '0', 'X-Total-Pages': '1' });
    expect(parsePagination(new URLSearchParams('per_page=500&page=0'))).to.deep.equal({ page: 1, perPage: 100 });
    expect(parsePagination(new URLSearchParams('per_page=abc'))).to.deep.equal({ error: 'per_page is invalid' });
    expect(parsePagination(new URLSearchParams('per_page=21'), { strictMaxPerPage: 20 })).to.deep.equal({
      error: 'per_page does not have a valid value',
    });
  });
});

describe('e2e/gitlab project hooks (parameters, filters, JSON)', () => {
  it('creates with GitLab defaults and never shows the token or signing token', () => {
    const h = newHook({ url: 'https://hooks.example/x', token: 'tok-secret', signing_token: 'whsec_c2lnbg==', name: 'n' });
    expect(h.events.push_events).to.equal(true);
    expect(h.events.tag_push_events).to.equal(false);
    const json = renderHook(h, v19, 0, true);
    expect(JSON.stringify(json)).not.to.include('tok-secret').and.not.to.include('whsec_');
    expect(json).to.include({
      id: 7,
      project_id: 3,
      url: 'https://hooks.example/x',
      name: 'n',
      description: null,
      alert_status: 'executable',
    });
    expect(json).to.include({
      token_present: true,
      signing_token_present: true,
      branch_filter_strategy: 'wildcard',
      push_events_branch_filter: null,
    });
    expect(json).not.to.have.any.keys('token', 'signing_token');
  });

  it('follows the version: no name/description before 17.1, no signing token before 19.0 (ignored, as Grape ignores undeclared params)', () => {
    const old = newHook({ url: 'https://h.example/', name: 'n', signing_token: 's' }, v16);
    expect(old.name).to.equal(null);
    expect(old.signingToken).to.equal(null);
    const json = renderHook(old, v16, 0, v16.autoDisabling);
    expect(json).not.to.have.any.keys('name', 'description', 'signing_token_present', 'token_present', 'custom_headers');
    expect(renderHook(newHook({ url: 'https://h.example/', signing_token: 's' }, v18), v18, 0, true)).not.to.have.key(
      'signing_token_present',
    );
    expect(newHook({ url: 'https://h.example/', signing_token: 's' }, v18).signingToken).to.equal(null);
  });

  it('answers 400 for a missing url or a bad type, 422 for an invalid url, branch filter or token', () => {
    expect(rejection({})).to.deep.equal({ status: 400, body: { error: 'url is missing' } });
    expect(rejection({ url: 'https://a.example/', push_events: 'maybe' })).to.deep.equal({
      status: 400,
      body: { error: 'push_events is invalid' },
    });
    expect(rejection({ url: 'https://a.example/', branch_filter_strategy: 'glob' })).to.deep.equal({
      status: 400,
      body: { error: 'branch_filter_strategy does not have a valid value' },
    });
    for (const url of ['ftp://a.example/', 'not a url', '', 'http://']) {
      expect(rejection({ url }), url).to.deep.equal({ status: 422, body: { message: 'Invalid url given' } });
    }
    expect(rejection({ url: 'https://a.example/', push_events_branch_filter: 'a..b' })).to.deep.equal({
      status: 422,
      body: { message: 'Invalid branch filter given' },
    });
    expect(rejection({ url: 'https://a.example/', push_events_branch_filter: '(?=x)', branch_filter_strategy: 'regex' }).status).to.equal(
      422,
    );
    expect(rejection({ url: 'https://a.example/', token: 'a\nb' })).to.deep.equal({
      status: 422,
      body: { message: { token: ['is invalid'] } },
    });
  });

  it('resets the token (and signing token) when the URL changes without one, keeps them otherwise', () => {
    const h = newHook({ url: 'https://a.example/1', token: 't1', signing_token: 's1' });
    const same = applyHookParams(h, { url: 'https://a.example/1', push_events: false }, v19, {
      id: 0,
      projectId: 0,
      now: 0,
    }) as ProjectHook;
    expect([same.token, same.signingToken, same.events.push_events]).to.deep.equal(['t1', 's1', false]);
    const moved = applyHookParams(h, { url: 'https://a.example/2' }, v19, { id: 0, projectId: 0, now: 0 }) as ProjectHook;
    expect([moved.token, moved.signingToken]).to.deep.equal([null, null]);
    const movedWithToken = applyHookParams(h, { url: 'https://a.example/2', token: 't2' }, v19, {
      id: 0,
      projectId: 0,
      now: 0,
    }) as ProjectHook;
    expect(movedWithToken.token).to.equal('t2');
    expect(h.token, 'the stored hook is untouched').to.equal('t1');
  });

  it('matches branches as RefMatcher (wildcard), an unanchored RE2 match (regex), or all; tags ignore the filter', () => {
    expect(branchFilterMatches('main', 'wildcard', 'main')).to.equal(true);
    expect(branchFilterMatches('main', 'wildcard', 'main2')).to.equal(false);
    expect(branchFilterMatches('release/*', 'wildcard', 'release/1.2')).to.equal(true);
    expect(branchFilterMatches('release/*', 'wildcard', 'xrelease/1')).to.equal(false);
    expect(branchFilterMatches('fe.ture', 'wildcard', 'feature'), 'a dot is literal').to.equal(false);
    expect(branchFilterMatches('^prod-\\d+$', 'regex', 'prod-12')).to.equal(true);
    expect(branchFilterMatches('prod', 'regex', 'preprod-x'), 'unanchored').to.equal(true);
    expect(branchFilterMatches('^prod', 'regex', 'preprod-x')).to.equal(false);
    expect(branchFilterMatches('', 'wildcard', 'anything')).to.equal(true);
    expect(validBranchFilter('feature/*', 'wildcard')).to.equal(true);
    const all = newHook({
      url: 'https://a.example/',
      push_events_branch_filter: 'x',
      branch_filter_strategy: 'all_branches',
      tag_push_events: true,
    });
    expect(all.pushEventsBranchFilter, 'all_branches drops the filter').to.equal(null);
    const onlyMain = newHook({ url: 'https://a.example/', push_events_branch_filter: 'main', tag_push_events: true });
    expect(hookWantsRef(onlyMain, 'refs/heads/main')).to.equal(true);
    expect(hookWantsRef(onlyMain, 'refs/heads/dev')).to.equal(false);
    expect(hookWantsRef(onlyMain, 'refs/tags/v1')).to.equal(true);
    expect(hookWantsRef(newHook({ url: 'https://a.example/' }), 'refs/tags/v1'), 'tag_push_events defaults to false').to.equal(false);
    expect(hookWantsRef(onlyMain, 'refs/notes/x')).to.equal(false);
  });

  it('filters the events log by status code or category, newest first, within 7 days', () => {
    const h = newHook({ url: 'https://a.example/' });
    const log = (id: number, status: string, createdAt: number) =>
      h.logs.push({
        id,
        hookId: 7,
        url: h.url,
        trigger: 'push_hooks',
        requestHeaders: {},
        requestData: {},
        responseHeaders: {},
        responseBody: '',
        executionDuration: 0,
        responseStatus: status,
        createdAt,
      });
    log(1, '200', 0);
    log(2, '500', 8 * DAY);
    log(3, '404', 9 * DAY);
    log(4, 'internal error', 9 * DAY);
    log(5, '201', 9 * DAY + 1);
    const now = 9 * DAY + 2;
    expect(recentLogs(h, now).map((l) => l.id)).to.deep.equal([5, 4, 3, 2]);
    const ids = (raw: string) => recentLogs(h, now, parseStatusFilter(raw) as (s: string) => boolean).map((l) => l.id);
    expect(ids('successful')).to.deep.equal([5]);
    expect(ids('client_failure,server_failure')).to.deep.equal([3, 2]);
    expect(ids('404')).to.deep.equal([3]);
    expect(parseStatusFilter('teapot')).to.deep.equal({ status: 400, body: { error: 'status does not have a valid value' } });
    expect(parseStatusFilter(null)).to.equal(undefined);
  });
});

describe('e2e/gitlab routes and versions', () => {
  it('matches URL-encoded project paths and branch names; an unencoded slash is a 404', () => {
    const m = matchRoute('GET', '/projects/group%2Fsub%2Fapp/repository/branches/feature%2Fx', v19);
    expect(m).to.deep.include({ kind: 'route' });
    expect(m.kind === 'route' && m.params).to.deep.equal({ id: 'group/sub/app', branch: 'feature/x' });
    expect(matchRoute('GET', '/projects/group/sub/app/hooks', v19).kind).to.equal('not-found');
    expect(matchRoute('GET', '/projects/group%2Fapp/repository/branches/feature/x', v19).kind).to.equal('not-found');
    expect(matchRoute('PATCH', '/projects/1/hooks', v19)).to.deep.equal({ kind: 'method-not-allowed', template: '/projects/:id/hooks' });
  });

  it('has the endpoints of the version: test 16.11, events 17.3, resend 17.4', () => {
    const kinds = (version: string) =>
      [
        ['POST', '/projects/1/hooks/2/test/push_events'],
        ['GET', '/projects/1/hooks/2/events'],
        ['POST', '/projects/1/hooks/2/events/3/resend'],
      ].map(([method, p]) => matchRoute(method!, p!, gitlabFeatures(version)).kind);
    expect(kinds('16.10')).to.deep.equal(['not-found', 'not-found', 'not-found']);
    expect(kinds('16.11')).to.deep.equal(['route', 'not-found', 'not-found']);
    expect(kinds('17.3')).to.deep.equal(['route', 'route', 'not-found']);
    expect(kinds('17.4')).to.deep.equal(['route', 'route', 'route']);
  });

  it('knows which version has which feature', () => {
    expect(gitlabFeatures('17.0').testRateLimit).to.deep.equal({ limit: 3, scope: 'hook' });
    expect(gitlabFeatures('17.1').testRateLimit).to.deep.equal({ limit: 5, scope: 'project-user' });
    expect(gitlabFeatures('16.11').testRateLimit).to.equal(undefined);
    expect([gitlabFeatures('17.10').autoDisabling, gitlabFeatures('17.11').autoDisabling]).to.deep.equal([false, true]);
    expect([gitlabFeatures('18.11').signingToken, gitlabFeatures('19.0').signingToken]).to.deep.equal([false, true]);
    expect([gitlabFeatures('17.0').hookNameDescription, gitlabFeatures('17.1').hookNameDescription]).to.deep.equal([false, true]);
    expect(gitlabFeatures().version).to.equal('19.0');
    expect(() => gitlabFeatures('15.11')).to.throw(/16.0 or later/);
    expect(() => gitlabFeatures('latest')).to.throw(/must look like/);
  });

  it('orders and searches tags as the tags API does', () => {
    const tag = (name: string, date: string) => ({ name, commit: { committedDate: date } }) as unknown as TagHead;
    const tags = [tag('v1.10', '2026-01-03T00:00:00Z'), tag('v1.9', '2026-01-02T00:00:00Z'), tag('v1.2', '2026-01-04T00:00:00Z')];
    const names = (t: TagHead[] | { error: string }) => (t as TagHead[]).map((x) => x.name);
    expect(names(orderTags(tags, null, null)), 'updated desc by default').to.deep.equal(['v1.2', 'v1.10', 'v1.9']);
    expect(names(orderTags(tags, 'name', 'asc'))).to.deep.equal(['v1.10', 'v1.2', 'v1.9']);
    expect(names(orderTags(tags, 'version', 'desc'))).to.deep.equal(['v1.10', 'v1.9', 'v1.2']);
    expect(orderTags(tags, 'size', null)).to.deep.equal({ error: 'order_by does not have a valid value' });
    expect(['^v1', '9$', '1.1', '^v1.9$'].map((s) => tags.filter((t) => matchesSearch(t.name, s)).length)).to.deep.equal([3, 1, 1, 1]);
  });
});

describe('e2e/gitlab deliveries go to loopback only', () => {
  it('connects to 127.0.0.0/8, ::1 and localhost (pinned to 127.0.0.1); nothing else', () => {
    const of = (url: string) => loopbackAddress(new URL(url).hostname);
    expect(of('http://127.0.0.1:8080/hooks/x')).to.equal('127.0.0.1');
    expect(of('http://127.1.2.3/')).to.equal('127.1.2.3');
    expect(of('http://2130706433/')).to.equal('127.0.0.1'); // URL normalizes the integer form
    expect(of('http://[::1]:9/')).to.equal('::1');
    expect(of('http://[0:0:0:0:0:0:0:1]/')).to.equal('::1');
    expect(of('http://LocalHost/')).to.equal('127.0.0.1');
    for (const url of [
      'http://10.0.0.1/',
      'http://0.0.0.0/',
      'http://169.254.169.254/',
      'http://[::ffff:127.0.0.1]/', // mapped: refused rather than reasoned about
      'http://[2001:db8::1]/',
      'https://gitlab.example.com/',
      'http://127.0.0.1.nip.io/',
      'http://localhost.example.com/',
    ])
      expect(of(url), url).to.equal(undefined);
  });
});
