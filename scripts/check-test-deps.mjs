#!/usr/bin/env node
/**
 * `npm test`'s pretest: makes sure redis-server and a Chromium are there before 30 tests fail for want of
 * them. When one is missing and this machine can install it (Debian or Ubuntu, as root or with passwordless
 * sudo), installs it with apt-get and says so in one line; otherwise stops at once with the exact command.
 * TEST_DEPS_INSTALL=no never installs (only print the command). Plain Node: it runs before the build.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { findChromium, findRedisServer, onPath } from './test-deps.mjs';

const env = process.env;

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(`usage: node scripts/check-test-deps.mjs     (run by npm test as its pretest)

Checks for redis-server and a Chromium; installs what is missing with apt-get on Debian or Ubuntu when it
runs as root or with passwordless sudo, else prints the command and exits 1.

options:
  -h, --help   this text
environment:
  REDIS_SERVER          path of redis-server (default: redis-server on the PATH)
  CHROMIUM_PATH         path of Chromium (default: /usr/bin/chromium, chromium or chromium-browser on the PATH)
  TEST_DEPS_INSTALL=no  never install, only print the command`);
  process.exit(0);
}

/** Debian or Ubuntu from /etc/os-release (ID, or ID_LIKE for derivatives); undefined for anything else. */
function aptDistro() {
  let text;
  try {
    text = readFileSync('/etc/os-release', 'utf8');
  } catch {
    return undefined;
  }
  const field = (name) => (new RegExp(`^${name}=("?)([^"\\n]*)\\1$`, 'm').exec(text)?.[2] ?? '').toLowerCase().split(/\s+/);
  const ids = [...field('ID'), ...field('ID_LIKE')];
  if (ids.includes('ubuntu')) return 'ubuntu';
  if (ids.includes('debian')) return 'debian';
  return undefined;
}

/** Debian ships Chromium as `chromium`; Ubuntu as `chromium-browser`. */
function aptPackage(missing, distro) {
  return missing === 'chromium' && distro === 'ubuntu' ? 'chromium-browser' : missing;
}

function isRoot() {
  return typeof process.getuid === 'function' && process.getuid() === 0;
}

function hasPasswordlessSudo() {
  if (!onPath('sudo', env)) return false;
  return spawnSync('sudo', ['-n', 'true'], { stdio: 'ignore', timeout: 5000 }).status === 0;
}

function aptCommand(packages, sudo) {
  const s = sudo ? 'sudo ' : '';
  return `${s}apt-get update && ${s}apt-get install -y --no-install-recommends ${packages.join(' ')}`;
}

function fail(lines) {
  for (const line of lines) console.error(line);
  process.exit(1);
}

const lookups = [findRedisServer(env), findChromium(env)];
const missing = lookups.filter((l) => l.missing);
if (missing.length === 0) process.exit(0);

// A variable that points nowhere is a mistake to fix, not a package to install.
const badOverrides = missing.filter((l) => l.override);
if (badOverrides.length > 0) {
  fail(badOverrides.map((l) => `check-test-deps: ${l.override}=${env[l.override]} is not an executable file; fix or unset it.`));
}

const distro = aptDistro();
const names = missing.map((l) => l.missing);
const packages = names.map((n) => aptPackage(n, distro ?? 'debian'));
const root = isRoot();
const hint = 'or set REDIS_SERVER / CHROMIUM_PATH to where they are';
const canInstall =
  env.TEST_DEPS_INSTALL !== 'no' && distro !== undefined && onPath('apt-get', env) !== undefined && (root || hasPasswordlessSudo());

if (!canInstall) {
  const command = aptCommand(packages, !root);
  fail(
    distro
      ? [`check-test-deps: npm test needs ${names.join(' and ')}, not found. Install with:`, `  ${command}`, `(${hint})`]
      : [
          `check-test-deps: npm test needs ${names.join(' and ')}, not found. Install them with your package manager`,
          `  (on Debian/Ubuntu: ${command}), ${hint}.`,
        ],
  );
}

const command = aptCommand(packages, !root);
console.log(`check-test-deps: ${names.join(' and ')} missing; installing: ${command}`);
const run = spawnSync('sh', ['-c', command], {
  env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
  stdio: ['ignore', 'pipe', 'pipe'],
  encoding: 'utf8',
  maxBuffer: 64 * 1024 * 1024,
});
if (run.status !== 0) {
  const tail = `${run.stdout ?? ''}${run.stderr ?? ''}`.trim().split('\n').slice(-15);
  fail([...tail, `check-test-deps: the install failed (exit ${run.status ?? run.signal}); run it yourself:`, `  ${command}`]);
}
const still = [findRedisServer(env), findChromium(env)].filter((l) => l.missing).map((l) => l.missing);
if (still.length > 0) fail([`check-test-deps: installed, but ${still.join(' and ')} still not found on the PATH (${hint}).`]);
