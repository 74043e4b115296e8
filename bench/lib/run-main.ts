/**
 * Runs a benchmark's main and ends the process: keep-alive pools and timers would hold it open for a while
 * after the run. It exits with `process.exitCode` (0 unless main set one), or 1 after printing a failure.
 */
export function runMain(main: () => Promise<void>, label?: string): void {
  main().then(
    () => process.exit(process.exitCode ?? 0),
    (err: unknown) => {
      if (label === undefined) console.error(err);
      else console.error(`${label}: ERROR`, err);
      process.exit(1);
    },
  );
}
