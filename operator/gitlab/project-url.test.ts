import { expect } from 'chai';
import fc from 'fast-check';
import { normalizeProject, parseInstance, projectPathFor } from './project-url.js';

const plain = parseInstance('https://gitlab.example.com', ['ssh.gitlab.example.com']);
const rooted = parseInstance('https://example.com/gitlab/', ['git.example.com:2222']);
const v6 = parseInstance('http://[2001:db8::1]:8080');

describe('gitlab-url: parseInstance', () => {
  const good: Array<[string, string, string[], string, string[], string]> = [
    [
      'a plain https instance keeps only its host',
      'https://gitlab.example.com',
      [],
      'https://gitlab.example.com',
      ['gitlab.example.com'],
      '',
    ],
    [
      'host names are lower-cased and the trailing slash dropped',
      'https://GitLab.Example.COM/',
      [],
      'https://gitlab.example.com',
      ['gitlab.example.com'],
      '',
    ],
    [
      'a relative root is kept without its trailing slash',
      'https://example.com/gitlab/',
      [],
      'https://example.com/gitlab',
      ['example.com'],
      '/gitlab',
    ],
    ['the port stays in the URL but not in the host set', 'http://gitlab.local:8080', [], 'http://gitlab.local:8080', ['gitlab.local'], ''],
    [
      'SSH hosts join the host set without their ports',
      'https://gitlab.example.com',
      ['SSH.example.com:2222', 'ssh2.example.com'],
      'https://gitlab.example.com',
      ['gitlab.example.com', 'ssh.example.com', 'ssh2.example.com'],
      '',
    ],
    [
      'an IPv6 instance is stored in bracketed canonical form',
      'https://[2001:DB8:0::1]:8443',
      [],
      'https://[2001:db8::1]:8443',
      ['[2001:db8::1]'],
      '',
    ],
  ];
  for (const [story, url, ssh, wantURL, wantHosts, wantRoot] of good) {
    it(story, () => {
      const inst = parseInstance(url, ssh);
      expect(inst.url).to.equal(wantURL);
      expect([...inst.hosts].sort()).to.deep.equal([...wantHosts].sort());
      expect(inst.rootPath).to.equal(wantRoot);
    });
  }

  const bad: Array<[string, string, string[], RegExp]> = [
    ['rejects a host without a scheme', 'gitlab.example.com', [], /not an absolute URL/],
    ['rejects a relative path', '/gitlab', [], /not an absolute URL/],
    ['rejects an ssh instance URL', 'ssh://git@gitlab.example.com', [], /must use http or https, not ssh/],
    ['rejects an ftp instance URL', 'ftp://gitlab.example.com', [], /must use http or https/],
    ['rejects a URL without a host', 'https:///gitlab', [], /has no host/],
    ['rejects a query string', 'https://gitlab.example.com/?x=1', [], /query string or fragment/],
    ['rejects a fragment', 'https://gitlab.example.com/#top', [], /query string or fragment/],
    ['rejects credentials in the URL', 'https://root:secret@gitlab.example.com', [], /user info/],
    ['rejects a non-numeric port', 'https://gitlab.example.com:https', [], /invalid host or port/],
    ['rejects a dot segment in the root path', 'https://example.com/a/../gitlab', [], /invalid path/],
    ['rejects an empty segment in the root path', 'https://example.com//gitlab', [], /invalid path/],
    ['rejects a space in the URL', 'https://gitlab.example.com/git lab', [], /spaces/],
    [
      'rejects an SSH host given as a URL',
      'https://gitlab.example.com',
      ['ssh://git@ssh.example.com'],
      /SSH host "ssh:\/\/git@ssh.example.com" is not a host name/,
    ],
    ['rejects an empty SSH host', 'https://gitlab.example.com', [''], /SSH host "" is not a host name/],
  ];
  for (const [story, url, ssh, message] of bad) {
    it(story, () => {
      expect(() => parseInstance(url, ssh)).to.throw(Error, message);
    });
  }
});

describe('gitlab-url: projectPathFor', () => {
  type Inst = ReturnType<typeof parseInstance>;
  const cases: Array<[string, string, Inst, string | undefined]> = [
    // The forms people actually write.
    ['https URL with .git names the project', 'https://gitlab.example.com/group/project.git', plain, 'group/project'],
    ['https URL without .git names the project', 'https://gitlab.example.com/group/project', plain, 'group/project'],
    ['http is accepted like https', 'http://gitlab.example.com/group/project.git', plain, 'group/project'],
    ['subgroups of any depth are kept', 'https://gitlab.example.com/a/b/c/d/project.git', plain, 'a/b/c/d/project'],
    ['the case of the path is kept as written', 'https://gitlab.example.com/Group/My.Project.git', plain, 'Group/My.Project'],
    ['the host is compared case-insensitively', 'https://GITLAB.Example.com/group/project.git', plain, 'group/project'],
    ['a trailing slash is stripped', 'https://gitlab.example.com/group/project/', plain, 'group/project'],
    ['a trailing slash after .git is stripped too', 'https://gitlab.example.com/group/project.git/', plain, 'group/project'],
    [
      'only one .git suffix is stripped, leaving a name GitLab forbids',
      'https://gitlab.example.com/group/project.git.git',
      plain,
      undefined,
    ],
    ['.GIT in upper case is part of the name, as in GitLab', 'https://gitlab.example.com/group/project.GIT', plain, 'group/project.GIT'],
    ['any https port is accepted', 'https://gitlab.example.com:8443/group/project.git', plain, 'group/project'],
    ['user-info in https is ignored', 'https://oauth2:token@gitlab.example.com/group/project.git', plain, 'group/project'],
    ['ssh URL with git user names the project', 'ssh://git@gitlab.example.com/group/project.git', plain, 'group/project'],
    [
      'ssh URL on a listed SSH host and a custom port',
      'ssh://git@ssh.gitlab.example.com:2222/group/sub/project.git',
      plain,
      'group/sub/project',
    ],
    [
      'ssh URL on a listed SSH host is matched case-insensitively',
      'ssh://git@SSH.GitLab.Example.com/group/project.git',
      plain,
      'group/project',
    ],
    // Relative URL root.
    ['https URL under the relative root names the project', 'https://example.com/gitlab/group/project.git', rooted, 'group/project'],
    ['https URL missing the relative root does not match', 'https://example.com/group/project.git', rooted, undefined],
    ['the relative root is case-sensitive like any URL path', 'https://example.com/GitLab/group/project.git', rooted, undefined],
    [
      'a root that is only a prefix of the first segment does not match',
      'https://example.com/gitlabx/group/project.git',
      rooted,
      undefined,
    ],
    ['ssh URL without the relative root names the project', 'ssh://git@git.example.com:2222/group/project.git', rooted, 'group/project'],
    ['ssh URL with the relative root is tolerated', 'ssh://git@example.com/gitlab/group/project.git', rooted, 'group/project'],
    [
      'ssh URL whose first group is named like the root but too short to strip keeps it',
      'ssh://git@example.com/gitlab/project.git',
      rooted,
      'gitlab/project',
    ],
    // IPv6 and ports.
    ['IPv6 instance matches the same address with another port', 'http://[2001:db8::1]:8080/group/project.git', v6, 'group/project'],
    [
      'IPv6 literal written in long form matches its canonical form',
      'https://[2001:0db8:0:0:0:0:0:1]/group/project.git',
      v6,
      'group/project',
    ],
    ['IPv6 literal over ssh matches too', 'ssh://git@[2001:db8::1]:22/group/project.git', v6, 'group/project'],
    ['another IPv6 address does not match', 'http://[2001:db8::2]:8080/group/project.git', v6, undefined],
    ['an unclosed IPv6 bracket does not match', 'http://[2001:db8::1/group/project.git', v6, undefined],
    // Shapes that name no project.
    ['a single segment is a namespace, not a project', 'https://gitlab.example.com/project.git', plain, undefined],
    ['no path at all does not match', 'https://gitlab.example.com', plain, undefined],
    ['an empty segment does not match', 'https://gitlab.example.com/group//project.git', plain, undefined],
    ['a dot segment does not match', 'https://gitlab.example.com/group/./project.git', plain, undefined],
    ['a dot-dot segment does not match', 'https://gitlab.example.com/other/../group/project.git', plain, undefined],
    ['a percent-encoded slash does not match', 'https://gitlab.example.com/group%2Fproject.git', plain, undefined],
    ['a percent-encoded dot segment does not match', 'https://gitlab.example.com/group/%2e%2e/project.git', plain, undefined],
    ['a query string does not match', 'https://gitlab.example.com/group/project.git?ref=main', plain, undefined],
    ['an empty query string does not match', 'https://gitlab.example.com/group/project.git?', plain, undefined],
    ['a fragment does not match', 'https://gitlab.example.com/group/project.git#main', plain, undefined],
    ['the /-/ route separator does not match', 'https://gitlab.example.com/group/project/-/tree/main', plain, undefined],
    ['a backslash does not match', 'https://gitlab.example.com/group\\project.git', plain, undefined],
    ['scp-like syntax (rejected by Flux) does not match', 'git@gitlab.example.com:group/project.git', plain, undefined],
    ['git:// scheme does not match', 'git://gitlab.example.com/group/project.git', plain, undefined],
    ['a non-numeric port does not match', 'https://gitlab.example.com:x/group/project.git', plain, undefined],
    // Look-alike hosts.
    ['a host with the instance as a prefix does not match', 'https://gitlab.example.com.evil.net/group/project.git', plain, undefined],
    ['a host with the instance as a suffix does not match', 'https://evilgitlab.example.com/group/project.git', plain, undefined],
    ['a host that is a prefix of the instance does not match', 'https://gitlab.example.co/group/project.git', plain, undefined],
    [
      'the instance as user-info in front of another host does not match',
      'https://gitlab.example.com@evil.net/group/project.git',
      plain,
      undefined,
    ],
    [
      'the instance with a backslash before another host does not match',
      'https://evil.net\\@gitlab.example.com/group/project.git',
      plain,
      undefined,
    ],
    ['an ssh host that is not listed does not match', 'ssh://git@ssh.other.example.com/group/project.git', plain, undefined],
    ['a trailing-dot host is not treated as the instance', 'https://gitlab.example.com./group/project.git', plain, undefined],
  ];
  for (const [story, url, inst, want] of cases) {
    it(story, () => {
      expect(projectPathFor(url, inst)).to.equal(want);
    });
  }

  it('normalizeProject lower-cases so that comparisons ignore case', () => {
    expect(normalizeProject('Group/Sub/My.Project')).to.equal('group/sub/my.project');
  });

  it('property: any valid project path round-trips through the https and ssh forms', () => {
    // Segments as GitLab allows them; last segments ending in .git/.atom are names GitLab refuses.
    const segment = fc.stringMatching(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,12}$/).filter((s) => !s.endsWith('.git') && !s.endsWith('.atom'));
    // A first group named exactly like the root is the documented ssh ambiguity; leave it out.
    const projectPath = fc
      .array(segment, { minLength: 2, maxLength: 6 })
      .filter((segs) => segs[0] !== 'gitlab')
      .map((segs) => segs.join('/'));
    fc.assert(
      fc.property(projectPath, fc.boolean(), (p, slash) => {
        const tail = slash ? '/' : '';
        expect(projectPathFor(`https://example.com/gitlab/${p}.git${tail}`, rooted)).to.equal(p);
        expect(projectPathFor(`https://example.com/gitlab/${p}${tail}`, rooted)).to.equal(p);
        expect(projectPathFor(`ssh://git@git.example.com/${p}.git`, rooted)).to.equal(p);
        expect(projectPathFor(`ssh://git@git.example.com:2222/${p}.git`, rooted)).to.equal(p);
        expect(projectPathFor(`https://example.com/${p}.git`, rooted)).to.equal(undefined);
      }),
    );
  });
});
