import { expect } from 'chai';
import { type CpuProfile, packageOf, shortUrl, summarizeProfile } from './cpuprofile.js';

const ROOT = 'file:///work/x/dist/operator';
/** root → reconcile (operator) → claimsOf (operator) → JSON.parse (native); plus idle and GC. */
const PROFILE: CpuProfile = {
  nodes: [
    { id: 1, callFrame: { functionName: '(root)', url: '', lineNumber: -1, columnNumber: -1 }, children: [2, 5, 6] },
    {
      id: 2,
      callFrame: { functionName: 'reconcile', url: `${ROOT}/controllers/link-controller.js`, lineNumber: 9, columnNumber: 0 },
      children: [3],
    },
    { id: 3, callFrame: { functionName: 'claimsOf', url: `${ROOT}/reconcile/claims.js`, lineNumber: 19, columnNumber: 0 }, children: [4] },
    { id: 4, callFrame: { functionName: 'parse', url: '', lineNumber: -1, columnNumber: -1 }, children: [] },
    { id: 5, callFrame: { functionName: '(idle)', url: '', lineNumber: -1, columnNumber: -1 }, children: [] },
    { id: 6, callFrame: { functionName: '(garbage collector)', url: '', lineNumber: -1, columnNumber: -1 }, children: [] },
  ],
  startTime: 1_000_000,
  // Samples at 1_001_000, 1_002_000, ... each lasting 1 ms; the last until endTime.
  samples: [3, 3, 4, 2, 5, 5, 6, 3],
  timeDeltas: [1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000],
  endTime: 1_009_000,
};

describe('bench/cpuprofile', () => {
  it('shortens URLs to repository paths and names packages', () => {
    expect(shortUrl('file:///work/x/dist/operator/kube/informer.js')).to.equal('operator/kube/informer.js');
    expect(shortUrl('file:///work/x/node_modules/@kubernetes/client-node/dist/config.js')).to.equal(
      'node_modules/@kubernetes/client-node/dist/config.js',
    );
    expect(shortUrl('node:internal/streams/readable')).to.equal('node:internal/streams/readable');
    expect(shortUrl('')).to.equal('(native)');
    expect(packageOf('node_modules/@kubernetes/client-node/dist/config.js')).to.equal('@kubernetes/client-node');
    expect(packageOf('node_modules/winston/lib/x.js')).to.equal('winston');
    expect(packageOf('operator/kube/informer.js')).to.equal('operator');
    expect(packageOf('node:internal/x')).to.equal('node (internals)');
  });

  it('splits the time into idle, GC and busy, and ranks self time by function', () => {
    const s = summarizeProfile(PROFILE);
    expect(s.windowMs).to.equal(8);
    expect(s.idleMs).to.equal(2);
    expect(s.gcMs).to.equal(1);
    expect(s.busyMs).to.equal(6);
    expect(s.topSelf[0]).to.deep.equal({ name: 'claimsOf operator/reconcile/claims.js:20', ms: 3, share: 0.5 });
    expect(s.topSelf.map((e) => e.name)).to.have.members([
      'claimsOf operator/reconcile/claims.js:20',
      'parse (native)',
      'reconcile operator/controllers/link-controller.js:10',
      '(garbage collector)',
    ]);
  });

  it('inclusive time counts an operator function for every sample below it', () => {
    const s = summarizeProfile(PROFILE);
    const incl = Object.fromEntries(s.topInclusiveOperator.map((e) => [e.name, e.ms]));
    expect(incl).to.deep.equal({
      'reconcile operator/controllers/link-controller.js:10': 5,
      'claimsOf operator/reconcile/claims.js:20': 4,
    });
  });

  it('sums by file and by package', () => {
    const s = summarizeProfile(PROFILE);
    expect(Object.fromEntries(s.byPackage.map((e) => [e.name, e.ms]))).to.deep.equal({
      operator: 4,
      'V8 / native': 1,
      '(garbage collector)': 1,
    });
  });

  it('keeps only the samples inside a window', () => {
    const s = summarizeProfile(PROFILE, { fromUs: 1_002_500, toUs: 1_004_500 });
    expect(s.windowMs).to.equal(2); // the samples at 1_003_000 and 1_004_000
    expect(s.topSelf.map((e) => e.name)).to.deep.equal(['parse (native)', 'reconcile operator/controllers/link-controller.js:10']);
  });
});
