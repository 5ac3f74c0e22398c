import { expect } from 'chai';
import { parseSamples } from '../e2e/support/prometheus.js';
import { requestCounts } from './prom.js';

const TEXT = `# HELP rest_client_requests_total Requests
# TYPE rest_client_requests_total counter
rest_client_requests_total{verb="list",resource="secrets",code="200"} 3
rest_client_requests_total{verb="watch",resource="secrets",code="200"} 1
rest_client_requests_total{verb="create",resource="secrets",code="201"} 10
rest_client_requests_total{verb="create",resource="receivers.notification.toolkit.fluxcd.io",code="201"} 10
rest_client_requests_total{verb="update-status",resource="gitlabfluxlinks.fluxlink.dev",code="200"} 2
fluxlink_triggers_total{result="delivered"} 7
`;

describe('bench/prom: API requests from a scrape (parsing and sums: e2e/support/prometheus.unit.test.ts)', () => {
  const samples = parseSamples(TEXT);

  it('counts the leader-election Lease apart: its renewals are no writes of state', () => {
    const lease = parseSamples(
      'rest_client_requests_total{verb="get",resource="leases.coordination.k8s.io",code="200"} 15\nrest_client_requests_total{verb="update",resource="leases.coordination.k8s.io",code="200"} 15\nrest_client_requests_total{verb="list",resource="secrets",code="200"} 2',
    );
    expect(requestCounts(lease)).to.deep.include({ reads: 2, writes: 0, lease: 30 });
  });

  it('counts API requests as reads and writes, between two scrapes', () => {
    const all = requestCounts(samples);
    expect(all).to.deep.include({ reads: 4, writes: 22 });
    const before = parseSamples(
      'rest_client_requests_total{verb="create",resource="secrets",code="201"} 4\nrest_client_requests_total{verb="list",resource="secrets",code="200"} 3',
    );
    const delta = requestCounts(samples, before);
    expect(delta.writes).to.equal(18);
    expect(delta.reads).to.equal(1);
    expect(delta.byVerbResource).to.deep.equal({
      'watch secrets': 1,
      'create secrets': 6,
      'create receivers.notification.toolkit.fluxcd.io': 10,
      'update-status gitlabfluxlinks.fluxlink.dev': 2,
    });
  });
});
