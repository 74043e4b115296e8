/**
 * Smoke run of the benchmark harness (`bench/run.ts --quick`): every piece runs for about a second against a
 * tiny phonebook. Only checks that it completes and prints its table; no timing is asserted (figures from a
 * quick run on a shared machine mean nothing).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const root = new URL('../../', import.meta.url).pathname;
const resultsDir = mkdtempSync(join(os.tmpdir(), 'bench-smoke-'));
afterAll(() => rmSync(resultsDir, { recursive: true, force: true }));

function runQuick(): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bench/run.ts', '--quick'], {
      cwd: root,
      env: { ...process.env, BENCH_RESULTS_DIR: resultsDir },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr.setEncoding('utf8').on('data', (c: string) => (stderr = (stderr + c).slice(-20_000)));
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('bench harness, quick mode', () => {
  it('when run with --quick, then it completes, prints the table and writes its results', async () => {
    const { code, stdout, stderr } = await runQuick();
    expect(code, stderr).toBe(0);
    for (const row of ['max sustained callbacks/s', 'p99 ms @1000/s', 'callbacks accepted/s', 'phonebook lookup median', 'KB per idle agent']) {
      expect(stdout).toContain(row);
    }
    expect(stderr).not.toMatch(/could not (start|prepare|run)|ERROR/);
    expect(readdirSync(resultsDir)).toContain('quick-latest.json');
  }, 120_000);
});
