/** Every command the project ships answers --help with its options and exits 0, before starting anything. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = join(import.meta.dirname, '../..');

/** [command, the script, words its help must contain] */
const COMMANDS: Array<[string, string, string[]]> = [
  ['npm start (the bridge)', 'src/main.ts', ['usage: npm start', 'PBX_BASE_URL', 'REDIS_URL', '--help']],
  ['npm run simulator', 'src/simulator/standalone.ts', ['usage: simulator', '--port', '--callback-url', '--contacts', '--help']],
  ['npm run doctor', 'src/ops/doctor-cli.ts', ['usage: npm run doctor', '--public-url', '--timeout-ms']],
  ['npm run bench', 'bench/run.ts', ['usage: npm run bench', '--quick']],
  ['bench/soak.ts', 'bench/soak.ts', ['--seconds', '--instances', '--rate']],
  ['bench/webhooks.ts', 'bench/webhooks.ts', ['BENCH_EVENTS']],
  ['bench/profile.ts', 'bench/profile.ts', ['--summarize']],
  ['bench/inproc.ts', 'bench/inproc.ts', ['SIM_API_URL']],
  ['bench/baseline-relay.ts', 'bench/baseline-relay.ts', ['PORT']],
  ['the pretest check', 'scripts/check-test-deps.mjs', ['REDIS_SERVER', 'CHROMIUM_PATH', 'TEST_DEPS_INSTALL']],
];

describe('--help', () => {
  it.each(COMMANDS)('%s answers --help and exits 0', (_name, script, words) => {
    const args = script.endsWith('.mjs') ? [script, '--help'] : ['--import', 'tsx', script, '--help'];
    // PBX_BASE_URL without its companions would stop the bridge with exit 2 if --help were not handled first.
    const r = spawnSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8', timeout: 15_000, env: { ...process.env, PBX_BASE_URL: 'http://127.0.0.1:9/' } });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    for (const word of words) expect(r.stdout).toContain(word);
  });
});
