import Mocha from 'mocha';

/**
 * Mocha's spec reporter plus one closing line in the plain form CI reads in any language:
 * `<suite>: N passed, N failed` (and `, N skipped` when tests were pending).
 */
const { Spec } = Mocha.reporters;
const { EVENT_RUN_END } = Mocha.Runner.constants;

export default class SummaryReporter extends Spec {
  constructor(runner: Mocha.Runner, options: Mocha.MochaOptions) {
    super(runner, options);
    const label = (options.reporterOptions as { label?: string } | undefined)?.label ?? 'tests';
    runner.once(EVENT_RUN_END, () => {
      const s = runner.stats!;
      const skipped = s.pending ? `, ${s.pending} skipped` : '';
      process.stdout.write(`\n${label}: ${s.passes} passed, ${s.failures} failed${skipped}\n`);
    });
  }
}
