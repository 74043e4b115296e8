/**
 * The pretest check (scripts/check-test-deps.mjs) run as `npm test` runs it: a child process with a PATH of
 * the test's choosing. Installing is never real here: either TEST_DEPS_INSTALL=no, or a fake apt-get.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const SCRIPT = join(import.meta.dirname, '../../scripts/check-test-deps.mjs');
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** A bin folder holding only `sh` (the check runs apt-get through it) and the given scripts. */
function binDir(scripts: Record<string, string> = {}): string {
  const dir = mkdtempSync(join(tmpdir(), 'check-test-deps-'));
  dirs.push(dir);
  symlinkSync('/bin/sh', join(dir, 'sh'));
  for (const [name, body] of Object.entries(scripts)) writeFileSync(join(dir, name), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

function runCheck(env: Record<string, string>) {
  // A timeout, not a timing assertion: a check that hangs (waiting on apt or sudo) fails here.
  return spawnSync(process.execPath, [SCRIPT], { env, encoding: 'utf8', timeout: 10_000 });
}

function isAptDistro(): boolean {
  try {
    return /^(ID|ID_LIKE)="?[^"\n]*\b(debian|ubuntu)\b/m.test(readFileSync('/etc/os-release', 'utf8'));
  } catch {
    return false;
  }
}

describe('the pretest check', () => {
  it('passes silently when redis-server and Chromium are where the tests look', () => {
    const r = runCheck({ PATH: process.env.PATH ?? '' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('without redis-server on the PATH and no way to install, prints the install command and exits non-zero', () => {
    const r = runCheck({ PATH: binDir(), TEST_DEPS_INSTALL: 'no', CHROMIUM_PATH: process.execPath });
    expect(r.error).toBeUndefined();
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('npm test needs redis-server, not found');
    expect(r.stderr).toMatch(/apt-get update && (sudo )?apt-get install -y --no-install-recommends redis-server\n/);
    expect(r.stdout).toBe('');
  });

  it('names both when both are missing', () => {
    const r = runCheck({ PATH: binDir(), TEST_DEPS_INSTALL: 'no', CHROMIUM_PATH: '' });
    // /usr/bin/chromium is found by absolute path on a machine that has it; only check redis-server then.
    expect(r.status).toBe(1);
    if (!existsSync('/usr/bin/chromium')) expect(r.stderr).toMatch(/redis-server chromium(-browser)?\n/);
  });

  it('refuses an override that points nowhere instead of installing a package', () => {
    const r = runCheck({ PATH: process.env.PATH ?? '', REDIS_SERVER: '/nonexistent/redis-server' });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('REDIS_SERVER=/nonexistent/redis-server is not an executable file');
  });

  it.skipIf(!isAptDistro())('installs with apt-get when it can, says so in one line, and passes', () => {
    // A fake apt-get (a Node script: only sh is on this PATH) that "installs" redis-server into its own
    // folder, and a passwordless sudo.
    const dir = binDir({ sudo: '[ "$1" = "-n" ] && shift; exec "$@"' });
    const fakeApt = [
      `#!${process.execPath}`,
      "const fs = require('node:fs'); const dir = require('node:path').dirname(process.argv[1]);",
      "fs.appendFileSync(dir + '/apt.log', 'apt-get ' + process.argv.slice(2).join(' ') + '\\n');",
      "if (process.argv[2] === 'install') { fs.writeFileSync(dir + '/redis-server', '#!/bin/sh\\n'); fs.chmodSync(dir + '/redis-server', 0o755); }",
    ].join('\n');
    writeFileSync(join(dir, 'apt-get'), fakeApt, { mode: 0o755 });
    const r = runCheck({ PATH: dir, CHROMIUM_PATH: process.execPath });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    expect(r.stdout).toContain('redis-server missing; installing:');
    expect(readFileSync(join(dir, 'apt.log'), 'utf8')).toBe('apt-get update\napt-get install -y --no-install-recommends redis-server\n');
  });
});
