import { expect } from 'chai';
import { histogram, parseMetrics, requestCounts, sum } from './prom.js';

const TEXT = `# HELP rest_client_requests_total Requests
# TYPE rest_client_requests_total counter
rest_client_requests_total{verb="list",resource="secrets",code="200"} 3
rest_client_requests_total{verb="watch",resource="secrets",code="200"} 1
rest_client_requests_total{verb="create",resource="secrets",code="201"} 10
rest_client_requests_total{verb="create",resource="receivers.notification.toolkit.fluxcd.io",code="201"} 10
rest_client_requests_total{verb="update-status",resource="gitlabfluxlinks.fluxlink.dev",code="200"} 2
fluxlink_triggers_total{result="delivered"} 7
fluxlink_triggers_total{result="failed"} 1
fluxlink_trigger_dispatch_seconds_bucket{le="0.001"} 5
fluxlink_trigger_dispatch_seconds_bucket{le="0.005"} 9
fluxlink_trigger_dispatch_seconds_bucket{le="+Inf"} 10
fluxlink_trigger_dispatch_seconds_sum 0.02
fluxlink_trigger_dispatch_seconds_count 10
weird_label{msg="a \\"quoted\\" value"} 1
`;

describe('bench/prom', () => {
  const samples = parseMetrics(TEXT);

  it('parses names, labels (with escaped quotes) and values, skipping comments', () => {
    expect(samples).to.have.length(13);
    expect(samples.find((s) => s.name === 'weird_label')!.labels.msg).to.equal('a "quoted" value');
    expect(sum(samples, 'fluxlink_trigger_dispatch_seconds_count')).to.equal(10);
  });

  it('sums a counter over matching label sets', () => {
    expect(sum(samples, 'fluxlink_triggers_total')).to.equal(8);
    expect(sum(samples, 'fluxlink_triggers_total', { result: 'delivered' })).to.equal(7);
    expect(sum(samples, 'no_such_metric')).to.equal(0);
  });

  it('reads histogram buckets with +Inf as Infinity, sorted', () => {
    expect(histogram(samples, 'fluxlink_trigger_dispatch_seconds')).to.deep.equal([{ le: 0.001, count: 5 }, { le: 0.005, count: 9 }, { le: Infinity, count: 10 }]);
  });

  it('counts the leader-election Lease apart: its renewals are no writes of state', () => {
    const lease = parseMetrics('rest_client_requests_total{verb="get",resource="leases.coordination.k8s.io",code="200"} 15\nrest_client_requests_total{verb="update",resource="leases.coordination.k8s.io",code="200"} 15\nrest_client_requests_total{verb="list",resource="secrets",code="200"} 2');
    expect(requestCounts(lease)).to.deep.include({ reads: 2, writes: 0, lease: 30 });
  });

  it('counts API requests as reads and writes, between two scrapes', () => {
    const all = requestCounts(samples);
    expect(all).to.deep.include({ reads: 4, writes: 22 });
    const before = parseMetrics('rest_client_requests_total{verb="create",resource="secrets",code="201"} 4\nrest_client_requests_total{verb="list",resource="secrets",code="200"} 3');
    const delta = requestCounts(samples, before);
    expect(delta.writes).to.equal(18);
    expect(delta.reads).to.equal(1);
    expect(delta.byVerbResource).to.deep.equal({ 'watch secrets': 1, 'create secrets': 6, 'create receivers.notification.toolkit.fluxcd.io': 10, 'update-status gitlabfluxlinks.fluxlink.dev': 2 });
  });
});
