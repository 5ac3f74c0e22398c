import { expect } from 'chai';
import { Metrics } from './metrics.js';

describe('Metrics', () => {
  it('has every reconcile series of a controller at 0 from its start, like controller-runtime', async () => {
    const m = new Metrics();
    m.initController('gitlabfluxlink');
    const text = await m.registry.metrics();
    expect(text).to.include('controller_runtime_reconcile_errors_total{controller="gitlabfluxlink"} 0\n');
    for (const result of ['success', 'error', 'requeue', 'requeue_after']) {
      expect(text).to.include(`controller_runtime_reconcile_total{controller="gitlabfluxlink",result="${result}"} 0\n`);
    }
    expect(text).to.include('workqueue_depth{name="gitlabfluxlink"} 0\n');
  });

  it('counts on from 0 after the start', async () => {
    const m = new Metrics();
    m.initController('gitlabfluxlink');
    m.reconcileErrors.inc({ controller: 'gitlabfluxlink' });
    expect(await m.registry.metrics()).to.include('controller_runtime_reconcile_errors_total{controller="gitlabfluxlink"} 1\n');
  });
});
