/**
 * Where the test suite finds its two outside programs, shared by the pretest check (plain Node, runs before
 * any build) and the test helpers, so both honour the same overrides:
 * - redis-server: REDIS_SERVER (a path), else `redis-server` on the PATH;
 * - Chromium: CHROMIUM_PATH, else /usr/bin/chromium, else `chromium` or `chromium-browser` on the PATH.
 */
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

function isExecutable(path) {
  try {
    if (!statSync(path).isFile()) return false;
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** The first executable called `name` in the PATH of `env`, or undefined. */
export function onPath(name, env = process.env) {
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir === '') continue;
    const candidate = join(dir, name);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

/**
 * { path } when found; { missing, override } when not: `override` names the variable that pointed
 * somewhere empty (installing a package would not help then).
 */
export function findRedisServer(env = process.env) {
  const override = env.REDIS_SERVER;
  if (override) return isExecutable(override) ? { path: override } : { missing: 'redis-server', override: 'REDIS_SERVER' };
  const path = onPath('redis-server', env);
  return path ? { path } : { missing: 'redis-server' };
}

export function findChromium(env = process.env) {
  const override = env.CHROMIUM_PATH;
  if (override) return isExecutable(override) ? { path: override } : { missing: 'chromium', override: 'CHROMIUM_PATH' };
  if (isExecutable('/usr/bin/chromium')) return { path: '/usr/bin/chromium' };
  const path = onPath('chromium', env) ?? onPath('chromium-browser', env);
  return path ? { path } : { missing: 'chromium' };
}
