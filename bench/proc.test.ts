import { expect } from 'chai';
import { cpuBetween, parseMachineTicks, parseStartTicks, parseStatTicks, parseStatus, processStartedAtMs, readProcStats } from './proc.js';

describe('bench/proc', () => {
  it('reads VmHWM and VmRSS in bytes', () => {
    const text = 'Name:\tnode\nVmPeak:\t 1000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  102400 kB\n';
    expect(parseStatus(text)).to.deep.equal({ peakRssBytes: 200 * 1024 * 1024, rssBytes: 100 * 1024 * 1024 });
    expect(() => parseStatus('Name: x')).to.throw(/VmHWM/);
  });

  it('adds utime and stime, also when the command name holds spaces and parentheses', () => {
    // pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime ...
    const line = '1234 (node (a b)) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 11 0 100 0 0';
    expect(parseStatTicks(line)).to.equal(325);
  });

  it('reads the start time (field 22) and dates this process within its own lifetime', () => {
    const line = '1234 (node (a b)) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 11 0 98765 0 0';
    expect(parseStartTicks(line)).to.equal(98765);
    const started = processStartedAtMs(process.pid);
    expect(started).to.be.at.most(Date.now());
    expect(started).to.be.at.least(Date.now() - process.uptime() * 1000 - 2000);
  });

  it('reads this very process', () => {
    const s = readProcStats(process.pid);
    expect(s.peakRssBytes).to.be.at.least(s.rssBytes);
    expect(s.cpuSeconds).to.be.greaterThan(0);
  });

  it("reads the machine's busy and total ticks from /proc/stat (idle and iowait are not busy)", () => {
    expect(parseMachineTicks('cpu  100 5 50 800 20 3 2 0 0 0\ncpu0 1 2 3')).to.deep.equal({ busy: 160, total: 980 });
  });

  it("cpuBetween subtracts per process and gives the machine's busy share", () => {
    const d = cpuBetween(
      { perProcess: { op: 1, gone: 5 }, machineBusyTicks: 100, machineTotalTicks: 1000 },
      { perProcess: { op: 3.5, late: 9 }, machineBusyTicks: 250, machineTotalTicks: 1200 },
    );
    expect(d).to.deep.equal({ perProcess: { op: 2.5 }, machineBusy: 0.75 });
  });
});
