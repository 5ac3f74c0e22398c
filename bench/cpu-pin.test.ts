import { expect } from 'chai';
import { affinityOf, cpuList, cpuPlan, parseCpuList } from './cpu-pin.js';

describe('bench/cpu-pin', () => {
  it('gives the operator the last CPU and the others the rest; nothing to separate on one CPU', () => {
    expect(cpuPlan([0, 1])).to.deep.equal({ operator: '1', others: '0' });
    expect(cpuPlan([3, 0, 1, 2])).to.deep.equal({ operator: '3', others: '0-2' });
    expect(cpuPlan([0, 2, 5])).to.deep.equal({ operator: '5', others: '0,2' });
    expect(cpuPlan([0])).to.equal(undefined);
  });

  it("reads and writes taskset's CPU lists", () => {
    expect(parseCpuList('0-2,5')).to.deep.equal([0, 1, 2, 5]);
    expect(parseCpuList('1')).to.deep.equal([1]);
    expect(cpuList([5, 0, 1, 2, 2])).to.equal('0-2,5');
    expect(cpuList([0, 2, 4])).to.equal('0,2,4');
    expect(() => parseCpuList('0-a')).to.throw(/not a CPU list/);
  });

  it('reads the CPU list of this process with taskset', () => {
    expect(parseCpuList(affinityOf(process.pid)).length).to.be.at.least(1);
  });
});
