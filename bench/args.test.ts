import { expect } from 'chai';
import { parseArgs } from './args.js';
import { FULL, QUICK } from './config.js';

describe('bench/args', () => {
  it('defaults to the full sizes and every part', () => {
    const a = parseArgs([]);
    expect(a).to.deep.include({ quick: false, only: ['push', 'load', 'scale', 'catchup', 'outbound'], profile: true, help: false });
    expect(parseArgs(['--no-profile']).profile).to.equal(false);
    expect(parseArgs(['--operator-env', 'NODE_OPTIONS=--max-old-space-size=192']).operatorEnv).to.deep.equal({
      NODE_OPTIONS: '--max-old-space-size=192',
    });
    expect(() => parseArgs(['--operator-env', 'no-equals'])).to.throw(/NAME=value/);
    expect(a.config).to.deep.equal(FULL);
  });

  it('--quick takes the quick sizes; --only picks parts', () => {
    const a = parseArgs(['--quick', '--only', 'push,scale']);
    expect(a.config).to.deep.equal(QUICK);
    expect(a.only).to.deep.equal(['push', 'scale']);
  });

  it('--set overrides numbers and scale sizes without touching the defaults', () => {
    const a = parseArgs(['--quick', '--set', 'push.pushes=3', '--set', 'scale.sizes=300x30,1000x100']);
    expect(a.config.push.pushes).to.equal(3);
    expect(a.config.scale.sizes).to.deep.equal([
      { repositories: 300, namespaces: 30 },
      { repositories: 1000, namespaces: 100 },
    ]);
    expect(QUICK.push.pushes).to.equal(40);
    expect(parseArgs(['--quick', '--set', 'profile.load=true']).config.profile.load).to.equal(true);
    expect(() => parseArgs(['--set', 'profile.load=yes'])).to.throw(/true or false/);
  });

  it('--set takes the catch-up sizes as a list of repository counts and the GitLab parts by name', () => {
    const a = parseArgs(['--only', 'catchup,outbound', '--set', 'catchup.sizes=200,1000', '--set', 'outbound.sweepSeconds=5']);
    expect(a.only).to.deep.equal(['catchup', 'outbound']);
    expect(a.config.catchup.sizes).to.deep.equal([200, 1000]);
    expect(a.config.outbound.sweepSeconds).to.equal(5);
    expect(parseArgs(['--set', 'catchup.sweepInterval=2m']).config.catchup.sweepInterval).to.equal('2m');
    for (const bad of ['catchup.sizes=0', 'catchup.sizes=200,x', 'catchup.sizes=1e3'])
      expect(() => parseArgs(['--set', bad]), bad).to.throw(/catchup.sizes wants/);
  });

  it('--charts-only takes the folder whose results.json is drawn again', () => {
    expect(parseArgs(['--charts-only', 'bench/results/2026-11-24']).chartsOnly).to.equal('bench/results/2026-11-24');
    expect(parseArgs([]).chartsOnly).to.equal(undefined);
    expect(() => parseArgs(['--charts-only'])).to.throw(/--charts-only needs a value/);
  });

  it('refuses unknown parts, keys and arguments', () => {
    expect(() => parseArgs(['--only', 'push,nope'])).to.throw(/--only/);
    expect(() => parseArgs(['--set', 'push.nope=1'])).to.throw(/no setting nope/);
    expect(() => parseArgs(['--set', 'push.pushes=-1'])).to.throw(/positive/);
    expect(() => parseArgs(['--fast'])).to.throw(/unknown argument/);
  });

  it('full sizes are the ones the performance targets are set at: ≥ 50 pushes, 200/s for 30 s over 1,000 projects and 5,000 repositories, 1k/5k/10k', () => {
    expect(FULL.push.pushes).to.be.at.least(50);
    expect(FULL.load).to.deep.include({ rate: 200, seconds: 30, projects: 1000 });
    expect(FULL.load.projects * FULL.load.reposPerProject).to.equal(5000);
    expect(FULL.scale.sizes.map((s) => [s.repositories, s.namespaces])).to.deep.equal([
      [1000, 100],
      [5000, 500],
      [10000, 1000],
    ]);
    expect(FULL.scale.steadySeconds).to.equal(300);
  });

  it('the full catch-up reaches 1,000 repositories; sweeps are watched over at least 3 intervals of the spec minimum (1m)', () => {
    expect(Math.max(...FULL.catchup.sizes)).to.equal(1000);
    expect(FULL.catchup.sweepInterval).to.equal('1m');
    expect(FULL.catchup.sweepObserveSeconds).to.be.at.least(180);
    expect(FULL.catchup.gitlabRateLimit, 'GitLab limits below the per-sweep share, so the 429 path is taken').to.be.below(
      FULL.catchup.sweepRequestsPerMinute / 2,
    );
  });
});
