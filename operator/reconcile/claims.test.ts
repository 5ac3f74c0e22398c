import { expect } from 'chai';
import fc from 'fast-check';
import type { GitLabFluxLink, GitLabFluxLinkSpec } from '../api/v1alpha1/types.js';
import type { GitRepository } from '../flux/types.js';
import { claimsOf, judgeRepository, type LinkMatcher, matchRepository } from './claims.js';
import { LinkCompiler } from './compile.js';

const compileLink = (l: GitLabFluxLink) => new LinkCompiler().matcher(l);

const BASE_SPEC: GitLabFluxLinkSpec = {
  gitlab: { url: 'https://gitlab.example.com' },
  webhook: { secretRef: { namespace: 'flux-system', name: 'gitlab-webhook' } },
};

function link(
  name: string,
  createdAt: string,
  spec: Partial<GitLabFluxLinkSpec> = {},
  meta: Partial<GitLabFluxLink['metadata']> = {},
): GitLabFluxLink {
  return {
    apiVersion: 'fluxlink.dev/v1alpha1',
    kind: 'GitLabFluxLink',
    metadata: { name, creationTimestamp: createdAt, ...meta },
    spec: { ...BASE_SPEC, ...spec },
  };
}

function repo(namespace: string, name: string, url: string, meta: Partial<GitRepository['metadata']> = {}): GitRepository {
  return {
    apiVersion: 'source.toolkit.fluxcd.io/v1',
    kind: 'GitRepository',
    metadata: { name, namespace, uid: `uid-${name}`, ...meta },
    spec: { url },
  };
}

function compiled(l: GitLabFluxLink): LinkMatcher {
  const m = compileLink(l);
  if (!m) throw new Error(`link ${l.metadata.name} does not compile`);
  return m;
}

const NAMESPACES: Record<string, Record<string, string>> = {
  apps: { team: 'a' },
  other: { team: 'b' },
  bare: {},
};
const nsLabels = (ns: string) => NAMESPACES[ns];

const names = (rs: Array<{ repo: GitRepository }>) => rs.map((r) => `${r.repo.metadata.namespace}/${r.repo.metadata.name}`);

describe('claims', () => {
  describe('compiling a link (LinkCompiler.matcher)', () => {
    it('compiles a valid link', () => {
      const m = compiled(link('a', '2024-01-01T00:00:00Z'));
      expect(m.name).to.equal('a');
      expect(m.createdAt).to.equal('2024-01-01T00:00:00Z');
    });
    it('gives nothing for a link being deleted', () => {
      const l = link('a', '2024-01-01T00:00:00Z', {}, { deletionTimestamp: '2024-02-01T00:00:00Z' });
      expect(compileLink(l)).to.equal(undefined);
    });
    it('gives nothing for a link whose spec failed validation', () => {
      expect(compileLink({ ...link('a', '2024-01-01T00:00:00Z'), spec: undefined as unknown as GitLabFluxLinkSpec })).to.equal(undefined);
    });
    it('gives nothing for a URL that cannot be parsed', () => {
      const l = link('a', '2024-01-01T00:00:00Z', { gitlab: { url: 'ftp://x' } });
      expect(compileLink(l)).to.equal(undefined);
    });
    it('gives nothing for an invalid project pattern', () => {
      const l = link('a', '2024-01-01T00:00:00Z', { trust: { projects: ['a//b'] } });
      expect(compileLink(l)).to.equal(undefined);
    });
  });

  describe('matchRepository', () => {
    const m = compiled(
      link('a', '2024-01-01T00:00:00Z', { trust: { namespaceSelector: { matchLabels: { team: 'a' } }, projects: ['group/**'] } }),
    );
    const cases: Array<[string, GitRepository, Record<string, string> | undefined, string | undefined]> = [
      [
        'a repository on the instance in a selected namespace gives its project',
        repo('apps', 'r', 'https://gitlab.example.com/group/app.git'),
        { team: 'a' },
        'group/app',
      ],
      ['the host is compared case-insensitively', repo('apps', 'r', 'https://GitLab.Example.com/group/app'), { team: 'a' }, 'group/app'],
      ['another host is not matched', repo('apps', 'r', 'https://github.com/group/app.git'), { team: 'a' }, undefined],
      [
        'a namespace the selector refuses is not matched',
        repo('other', 'r', 'https://gitlab.example.com/group/app.git'),
        { team: 'b' },
        undefined,
      ],
      [
        'an unknown namespace (labels unknown) is not matched',
        repo('ghost', 'r', 'https://gitlab.example.com/group/app.git'),
        undefined,
        undefined,
      ],
      [
        'a project the patterns refuse is not matched',
        repo('apps', 'r', 'https://gitlab.example.com/elsewhere/app.git'),
        { team: 'a' },
        undefined,
      ],
      [
        'a repository without spec.url is not matched',
        { ...repo('apps', 'r', ''), spec: undefined as unknown as GitRepository['spec'] },
        { team: 'a' },
        undefined,
      ],
    ];
    for (const [story, r, labels, want] of cases) {
      it(story, () => expect(matchRepository(m, r, labels)).to.equal(want));
    }
  });

  describe('spec.trust.namespaceProjects: which namespaces may link which projects', () => {
    const TENANTS: Record<string, Record<string, string>> = {
      'team-a': { tenant: 'a', 'fluxlink.dev/gitlab': 'enabled' },
      'team-b': { tenant: 'b', 'fluxlink.dev/gitlab': 'enabled' },
      shared: { tenant: 'a-and-b', 'fluxlink.dev/gitlab': 'enabled' },
      stray: { 'fluxlink.dev/gitlab': 'enabled' },
      off: {},
    };
    const rules = [
      { namespaceSelector: { matchLabels: { tenant: 'a' } }, projects: ['team-a/**'] },
      { namespaceSelector: { matchLabels: { tenant: 'b' } }, projects: ['team-b/**', 'shared/docs'] },
      {
        namespaceSelector: { matchExpressions: [{ key: 'tenant', operator: 'In' as const, values: ['a-and-b'] }] },
        projects: ['team-a/*'],
      },
      { namespaceSelector: { matchLabels: { tenant: 'a-and-b' } }, projects: ['team-b/*'] },
    ];
    const bound = compiled(
      link('bound', '2024-01-01T00:00:00Z', {
        trust: {
          namespaceSelector: { matchLabels: { 'fluxlink.dev/gitlab': 'enabled' } },
          projects: ['team-a/**', 'team-b/**', 'shared/**'],
          namespaceProjects: rules,
        },
      }),
    );
    const unbound = compiled(link('unbound', '2024-01-01T00:00:00Z', { trust: { projects: ['team-a/**', 'team-b/**'] } }));
    const url = (project: string) => `https://gitlab.example.com/${project}.git`;
    const judge = (m: LinkMatcher, ns: string, project: string) => judgeRepository(m, repo(ns, 'r', url(project)), TENANTS[ns]);

    const cases: Array<[string, LinkMatcher, string, string, { project: string; refusal?: string } | undefined]> = [
      ["team A's namespace links team A's project", bound, 'team-a', 'team-a/app', { project: 'team-a/app' }],
      ["team A's namespace links a project deep inside team A's group", bound, 'team-a', 'team-a/sub/app', { project: 'team-a/sub/app' }],
      ['projects are compared case-insensitively, as GitLab resolves them', bound, 'team-a', 'Team-A/App', { project: 'Team-A/App' }],
      [
        "team A's namespace pointing at team B's project is refused, naming the rule",
        bound,
        'team-a',
        'team-b/app',
        {
          project: 'team-b/app',
          refusal: 'not linked: namespace team-a may link only the projects of spec.trust.namespaceProjects[0] ([0] team-a/**)',
        },
      ],
      ["team B's namespace links team B's project", bound, 'team-b', 'team-b/app', { project: 'team-b/app' }],
      ['a rule may list several patterns', bound, 'team-b', 'shared/docs', { project: 'shared/docs' }],
      [
        "team B's namespace pointing at team A's project is refused",
        bound,
        'team-b',
        'team-a/app',
        {
          project: 'team-a/app',
          refusal:
            'not linked: namespace team-b may link only the projects of spec.trust.namespaceProjects[1] ([1] team-b/**, shared/docs)',
        },
      ],
      [
        'a namespace two rules select may link the projects of either (one level of team A)',
        bound,
        'shared',
        'team-a/app',
        { project: 'team-a/app' },
      ],
      [
        'a namespace two rules select may link the projects of either (one level of team B)',
        bound,
        'shared',
        'team-b/app',
        { project: 'team-b/app' },
      ],
      [
        'a namespace two rules select, outside both: the message names both rules',
        bound,
        'shared',
        'team-a/deep/app',
        {
          project: 'team-a/deep/app',
          refusal:
            'not linked: namespace shared may link only the projects of spec.trust.namespaceProjects[2][3] ([2] team-a/*; [3] team-b/*)',
        },
      ],
      [
        'a selected namespace that no rule selects links nothing',
        bound,
        'stray',
        'team-a/app',
        { project: 'team-a/app', refusal: 'not linked: no rule of spec.trust.namespaceProjects selects namespace stray' },
      ],
      ["a namespace outside namespaceSelector is not the link's concern (no refusal shown to it)", bound, 'off', 'team-a/app', undefined],
      ["a project outside trust.projects is not the link's concern", bound, 'team-a', 'elsewhere/app', undefined],
      [
        'without namespaceProjects any selected namespace links any trusted project (as before)',
        unbound,
        'team-a',
        'team-b/app',
        { project: 'team-b/app' },
      ],
    ];
    for (const [story, m, ns, project, want] of cases) {
      it(story, () => {
        expect(judge(m, ns, project)).to.deep.equal(want);
        expect(matchRepository(m, repo(ns, 'r', url(project)), TENANTS[ns])).to.equal(
          want?.refusal === undefined ? want?.project : undefined,
        );
      });
    }

    it('an empty namespaceSelector in a rule selects every namespace the link selects', () => {
      const m = compiled(
        link('all', '2024-01-01T00:00:00Z', { trust: { namespaceProjects: [{ namespaceSelector: {}, projects: ['team-a/**'] }] } }),
      );
      expect(judge(m, 'off', 'team-a/app')).to.deep.equal({ project: 'team-a/app' });
      expect(judge(m, 'off', 'team-b/app')?.refusal).to.match(/spec\.trust\.namespaceProjects\[0\]/);
    });

    it('bounds the patterns shown in a refusal', () => {
      const many = Array.from({ length: 100 }, (_, i) => `group-${i}/**`);
      const m = compiled(
        link('many', '2024-01-01T00:00:00Z', { trust: { namespaceProjects: [{ namespaceSelector: {}, projects: many }] } }),
      );
      const refusal = judge(m, 'team-a', 'team-b/app')!.refusal!;
      expect(refusal.length).to.be.at.most(300);
      expect(refusal).to.match(
        /^not linked: namespace team-a may link only the projects of spec\.trust\.namespaceProjects\[0\] \(\[0\] group-0\/\*\*, .*\.\.\.\)$/,
      );
    });

    it('links exactly when some rule selecting the namespace has a pattern matching the project; a refusal is bounded (property)', () => {
      const segment = fc.constantFrom('a', 'b', 'team-a', 'Team-A', 'x.y', 'z_1');
      const pattern = fc
        .array(fc.oneof(segment, fc.constantFrom('*', '**', 'team-*')), { minLength: 1, maxLength: 3 })
        .map((p) => p.join('/'));
      const labels = fc.dictionary(fc.constantFrom('tenant', 'tier'), fc.constantFrom('a', 'b'), { maxKeys: 2 });
      const rule = fc.record({
        namespaceSelector: fc.record({ matchLabels: labels }),
        projects: fc.array(pattern, { minLength: 1, maxLength: 3 }),
      });
      fc.assert(
        fc.property(
          fc.array(rule, { minLength: 1, maxLength: 4 }),
          labels,
          fc.array(segment, { minLength: 2, maxLength: 4 }),
          (rules, nsLabels, parts) => {
            const m = compiled(link('p', '2024-01-01T00:00:00Z', { trust: { namespaceProjects: rules } }));
            const project = parts.join('/');
            const got = judgeRepository(m, repo('ns', 'r', url(project)), nsLabels);
            const allowed = rules.some(
              (r, i) =>
                Object.entries(r.namespaceSelector.matchLabels).every(([k, v]) => nsLabels[k] === v) &&
                m.namespaceProjects![i]!.projects.matches(project),
            );
            if (got === undefined) return false; // trust.projects is ["**"] and the namespace selector is absent
            if (allowed) return got.refusal === undefined;
            return got.refusal !== undefined && got.refusal.length <= 300 && got.refusal.startsWith('not linked: ');
          },
        ),
        { numRuns: 500 },
      );
    });

    const tenantLabels = (ns: string) => TENANTS[ns];
    const crossed = repo('team-a', 'crossed', url('team-b/app'));
    const own = repo('team-a', 'own', url('team-a/app'));
    const bLegit = repo('team-b', 'app', url('team-b/app'));

    it('claimsOf: refused repositories are listed apart, never managed, never conflicts', () => {
      const got = claimsOf(bound, [bound], [crossed, own, bLegit], tenantLabels);
      expect(names(got.managed)).to.deep.equal(['team-a/own', 'team-b/app']);
      expect(got.conflicts).to.deep.equal([]);
      expect(got.refused.map((r) => [`${r.repo.metadata.namespace}/${r.repo.metadata.name}`, r.project, r.message])).to.deep.equal([
        [
          'team-a/crossed',
          'team-b/app',
          'not linked: namespace team-a may link only the projects of spec.trust.namespaceProjects[0] ([0] team-a/**)',
        ],
      ]);
    });

    it('claimsOf: an older link whose rules refuse a repository is no rival', () => {
      const younger = compiled(link('younger', '2024-06-01T00:00:00Z'));
      const got = claimsOf(younger, [bound, younger], [crossed, own], tenantLabels);
      expect(names(got.managed)).to.deep.equal(['team-a/crossed']);
      expect(got.conflicts.map((c) => [c.repo.metadata.name, c.owner])).to.deep.equal([['own', 'bound']]);
    });

    it('claimsOf: a refusal is not shown when an older link manages the repository', () => {
      const older = compiled(link('older', '2023-01-01T00:00:00Z'));
      const got = claimsOf(bound, [older, bound], [crossed], tenantLabels);
      expect(got.refused).to.deep.equal([]);
      expect(got.managed).to.deep.equal([]);
    });
  });

  describe('claimsOf', () => {
    const appRepo = repo('apps', 'app', 'https://gitlab.example.com/group/app.git');
    const otherHost = repo('apps', 'mirror', 'https://github.com/group/app.git');
    const otherNs = repo('other', 'app', 'https://gitlab.example.com/group/app.git');

    interface Case {
      story: string;
      links: GitLabFluxLink[];
      self: string;
      repos: GitRepository[];
      managed: string[];
      conflicts: Array<[string, string]>; // [repo, owner]
    }
    const older = link('older', '2024-01-01T00:00:00Z');
    const younger = link('younger', '2024-03-01T00:00:00Z');
    const cases: Case[] = [
      {
        story: 'a lone link manages every matching repository',
        links: [older],
        self: 'older',
        repos: [appRepo, otherHost, otherNs],
        managed: ['apps/app', 'other/app'],
        conflicts: [],
      },
      {
        story: 'the oldest link wins a repository two links match',
        links: [younger, older],
        self: 'older',
        repos: [appRepo],
        managed: ['apps/app'],
        conflicts: [],
      },
      {
        story: 'the younger link lists the repository as a conflict owned by the older',
        links: [younger, older],
        self: 'younger',
        repos: [appRepo],
        managed: [],
        conflicts: [['apps/app', 'older']],
      },
      {
        story: 'a tie in creation time goes to the name that sorts first',
        links: [link('beta', '2024-01-01T00:00:00Z'), link('alpha', '2024-01-01T00:00:00Z')],
        self: 'beta',
        repos: [appRepo],
        managed: [],
        conflicts: [['apps/app', 'alpha']],
      },
      {
        story: 'the tie-break winner manages',
        links: [link('beta', '2024-01-01T00:00:00Z'), link('alpha', '2024-01-01T00:00:00Z')],
        self: 'alpha',
        repos: [appRepo],
        managed: ['apps/app'],
        conflicts: [],
      },
      {
        story: 'a link being deleted claims nothing, so the younger link takes over',
        links: [link('older', '2024-01-01T00:00:00Z', {}, { deletionTimestamp: '2024-04-01T00:00:00Z' }), younger],
        self: 'younger',
        repos: [appRepo],
        managed: ['apps/app'],
        conflicts: [],
      },
      {
        story: 'an older link that does not select the namespace is no rival',
        links: [link('older', '2024-01-01T00:00:00Z', { trust: { namespaceSelector: { matchLabels: { team: 'b' } } } }), younger],
        self: 'younger',
        repos: [appRepo, otherNs],
        managed: ['apps/app'],
        conflicts: [['other/app', 'older']],
      },
      {
        story: 'an older link whose project patterns refuse the project is no rival',
        links: [link('older', '2024-01-01T00:00:00Z', { trust: { projects: ['platform/*'] } }), younger],
        self: 'younger',
        repos: [appRepo],
        managed: ['apps/app'],
        conflicts: [],
      },
      {
        story: 'an older link on another instance is no rival',
        links: [link('older', '2024-01-01T00:00:00Z', { gitlab: { url: 'https://gitlab.other.org' } }), younger],
        self: 'younger',
        repos: [appRepo],
        managed: ['apps/app'],
        conflicts: [],
      },
      {
        story: 'a namespace not selected by the link is left alone',
        links: [link('a', '2024-01-01T00:00:00Z', { trust: { namespaceSelector: { matchLabels: { team: 'a' } } } })],
        self: 'a',
        repos: [appRepo, otherNs],
        managed: ['apps/app'],
        conflicts: [],
      },
      {
        story: 'project patterns refuse projects outside them',
        links: [link('a', '2024-01-01T00:00:00Z', { trust: { projects: ['platform/**'] } })],
        self: 'a',
        repos: [appRepo],
        managed: [],
        conflicts: [],
      },
      {
        story: 'a repository in a namespace not (yet) in the cache is not matched',
        links: [older],
        self: 'older',
        repos: [repo('ghost', 'app', 'https://gitlab.example.com/group/app.git')],
        managed: [],
        conflicts: [],
      },
      {
        story: 'a repository being deleted is not claimed',
        links: [older],
        self: 'older',
        repos: [repo('apps', 'app', 'https://gitlab.example.com/group/app.git', { deletionTimestamp: '2024-05-01T00:00:00Z' })],
        managed: [],
        conflicts: [],
      },
      {
        story: 'an empty namespace selector selects a namespace without labels',
        links: [link('a', '2024-01-01T00:00:00Z', { trust: { namespaceSelector: {} } })],
        self: 'a',
        repos: [repo('bare', 'app', 'https://gitlab.example.com/group/app.git')],
        managed: ['bare/app'],
        conflicts: [],
      },
    ];
    for (const c of cases) {
      it(c.story, () => {
        const all = c.links.map((l) => compileLink(l)).filter((m): m is LinkMatcher => m !== undefined);
        const self = all.find((m) => m.name === c.self)!;
        const got = claimsOf(self, all, c.repos, nsLabels);
        expect(names(got.managed)).to.deep.equal(c.managed);
        expect(got.conflicts.map((x) => [`${x.repo.metadata.namespace}/${x.repo.metadata.name}`, x.owner])).to.deep.equal(c.conflicts);
      });
    }

    it('gives every repository to exactly one link, whichever link asks (same answer in every reconcile)', () => {
      const links = [
        link('c', '2024-02-01T00:00:00Z'),
        link('a', '2024-02-01T00:00:00Z'),
        link('b', '2024-01-15T00:00:00Z', { trust: { projects: ['group/other'] } }),
      ];
      const all = links.map((l) => compiled(l));
      const repos = [appRepo, otherNs, repo('apps', 'o', 'https://gitlab.example.com/group/other')];
      const owners = new Map<string, string[]>();
      for (const self of all) {
        for (const m of claimsOf(self, all, repos, nsLabels).managed) {
          const k = `${m.repo.metadata.namespace}/${m.repo.metadata.name}`;
          owners.set(k, [...(owners.get(k) ?? []), self.name]);
        }
      }
      expect(Object.fromEntries(owners)).to.deep.equal({ 'apps/app': ['a'], 'other/app': ['a'], 'apps/o': ['b'] });
    });
  });
});
