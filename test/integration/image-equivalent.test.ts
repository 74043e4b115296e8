/**
 * What the container image does, done outside Docker (there is no Docker engine on these machines):
 *
 * 1. the build context: the repository's files (`git ls-files`, tracked and new) minus `.dockerignore`;
 * 2. the Dockerfile, read and carried out stage by stage: every stage gets a directory of its own standing in
 *    for its filesystem; WORKDIR, COPY (also `--from=<stage>`), RUN and ENV are done as written, so a change to
 *    the Dockerfile changes what this test does. Two liberties, both about the npm cache and not the result:
 *    `npm ci` gets `--prefer-offline`, and `npm cache clean --force` is skipped (it would empty the cache of
 *    the machine running the test);
 * 3. the final stage's promises: a non-root USER, a HEALTHCHECK on /healthz, an exec-form CMD starting node
 *    (so SIGTERM reaches it), and no devDependencies installed;
 * 4. `docker compose --profile demo up`: the services' environment and commands are read from
 *    docker-compose.yml with its `${VAR:-default}` interpolation; service host names (`redis`, `simulator`,
 *    `bridge`) and their ports are mapped to loopback addresses and free ports. The simulator runs from the
 *    image's files as compose runs it, and Redis is the test suite's;
 * 5. checks: the image's HEALTHCHECK command passes, /healthz and /readyz answer 200, an agent signs in and
 *    a ringing call from the simulator reaches the agent's WebSocket, and SIGTERM ends the bridge with exit
 *    code 0 within 10 s.
 *
 * Slow (two `npm ci` runs), so it runs once, with a generous timeout.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { DEMO_EXTENSIONS } from '../../src/simulator/seed.js';
import { freePort } from '../helpers/redis-server.js';
import { eventuallyValue } from '../helpers/wait.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));

// ---- build context ------------------------------------------------------------------------------------

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** .dockerignore: a pattern excludes a path when it matches the path or one of its parent directories; `!` re-includes; last match wins. */
function dockerignoreFilter(text: string): (path: string) => boolean {
  const rules = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((l) => {
      const negate = l.startsWith('!');
      const pattern = posix.normalize((negate ? l.slice(1) : l).replace(/^\/+/, '')).replace(/\/+$/, '');
      return { negate, re: globToRegExp(pattern) };
    });
  return (path) => {
    const parts = path.split('/');
    let excluded = false;
    for (const rule of rules) {
      for (let n = 1; n <= parts.length; n++) {
        if (rule.re.test(parts.slice(0, n).join('/'))) {
          excluded = !rule.negate;
          break;
        }
      }
    }
    return !excluded;
  };
}

function repoFiles(): string[] {
  const git = spawnSync('git', ['ls-files', '-z', '--cached', '--others', '--exclude-standard'], { cwd: REPO, encoding: 'utf8' });
  if (git.status === 0) return git.stdout.split('\0').filter((p) => p !== '' && existsSync(join(REPO, p)));
  // Not a git checkout: every file but the usual generated folders.
  const out: string[] = [];
  const walk = (dir: string): void => {
    for (const name of readdirSync(join(REPO, dir))) {
      const rel = dir ? `${dir}/${name}` : name;
      if (['node_modules', 'dist', '.git', 'coverage'].includes(name)) continue;
      if (statSync(join(REPO, rel)).isDirectory()) walk(rel);
      else out.push(rel);
    }
  };
  walk('');
  return out;
}

function makeContext(into: string): string[] {
  const ignore = existsSync(join(REPO, '.dockerignore')) ? readFileSync(join(REPO, '.dockerignore'), 'utf8') : '';
  const keep = dockerignoreFilter(ignore);
  const files = repoFiles().filter(keep);
  for (const f of files) {
    mkdirSync(dirname(join(into, f)), { recursive: true });
    cpSync(join(REPO, f), join(into, f));
  }
  return files;
}

// ---- Dockerfile ---------------------------------------------------------------------------------------

interface Instruction {
  op: string;
  args: string;
}
interface Stage {
  name: string;
  from: string;
  steps: Instruction[];
}

function parseDockerfile(text: string): Stage[] {
  const lines: string[] = [];
  let current = '';
  for (const raw of text.split('\n')) {
    const line = raw.trimEnd();
    if (current === '' && (line.trim() === '' || line.trim().startsWith('#'))) continue;
    if (current !== '' && line.trim().startsWith('#')) continue;
    if (line.endsWith('\\')) current += line.slice(0, -1) + ' ';
    else {
      lines.push(current + line);
      current = '';
    }
  }
  const stages: Stage[] = [];
  for (const line of lines) {
    const m = /^\s*([A-Za-z]+)\s+([\s\S]*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile: cannot read "${line}"`);
    const op = (m[1] as string).toUpperCase();
    const args = (m[2] as string).trim();
    if (op === 'FROM') {
      const f = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(args);
      stages.push({ from: f?.[1] ?? args, name: f?.[2] ?? String(stages.length), steps: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile: ${op} before FROM`);
      stage.steps.push({ op, args });
    }
  }
  return stages;
}

/** `KEY=value KEY2="v 2"` (ENV's modern form). */
function parseEnvArgs(args: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of args.matchAll(/([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)/g)) {
    const v = m[2] as string;
    out[m[1] as string] = v.startsWith('"') ? (JSON.parse(v) as string) : v;
  }
  if (Object.keys(out).length === 0) throw new Error(`ENV: only KEY=value is supported, got "${args}"`);
  return out;
}

function execForm(args: string): string[] | null {
  if (!args.startsWith('[')) return null;
  const parsed: unknown = JSON.parse(args);
  return Array.isArray(parsed) && parsed.every((a) => typeof a === 'string') ? (parsed as string[]) : null;
}

interface BuiltStage {
  root: string;
  workdir: string;
  env: Record<string, string>;
  user: string | null;
  healthcheck: string | null;
  cmd: string[] | null;
  exposed: string[];
}

function inStage(root: string, workdir: string, p: string): string {
  return join(root, posix.isAbsolute(p) ? p : posix.join(workdir, p));
}

/** Copies like COPY: a directory's contents go into dest; files go into dest/ when dest ends in / or there are several. */
function copyLike(sources: string[], dest: string, destIsDir: boolean): void {
  for (const src of sources) {
    if (!existsSync(src)) throw new Error(`COPY: ${src} does not exist`);
    if (statSync(src).isDirectory()) {
      mkdirSync(dest, { recursive: true });
      cpSync(src, dest, { recursive: true });
    } else {
      const target = destIsDir ? join(dest, src.split('/').at(-1) as string) : dest;
      mkdirSync(dirname(target), { recursive: true });
      cpSync(src, target);
    }
  }
}

function run(command: string, cwd: string, env: Record<string, string>): void {
  const adapted = command
    .replace(/\s*&&\s*npm cache clean --force/g, '')
    .replace(/\bnpm ci\b/g, 'npm ci --prefer-offline');
  const result = spawnSync('sh', ['-c', adapted], {
    cwd,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 150_000,
  });
  if (result.status !== 0) {
    throw new Error(`RUN ${adapted} (in ${cwd}) failed with ${result.status ?? result.signal}:\n${result.stdout}\n${result.stderr}`);
  }
}

function buildImage(stages: Stage[], context: string, workRoot: string): BuiltStage {
  const built = new Map<string, BuiltStage>();
  let last: BuiltStage | null = null;
  for (const stage of stages) {
    const root = join(workRoot, `stage-${stage.name}`);
    mkdirSync(root, { recursive: true });
    const s: BuiltStage = { root, workdir: '/', env: {}, user: null, healthcheck: null, cmd: null, exposed: [] };
    for (const { op, args } of stage.steps) {
      switch (op) {
        case 'WORKDIR':
          s.workdir = posix.resolve(s.workdir, args);
          mkdirSync(inStage(root, s.workdir, '.'), { recursive: true });
          break;
        case 'ENV':
          Object.assign(s.env, parseEnvArgs(args));
          break;
        case 'COPY': {
          const words = args.split(/\s+/);
          let from: BuiltStage | null = null;
          while (words[0]?.startsWith('--')) {
            const flag = words.shift() as string;
            const m = /^--from=(.+)$/.exec(flag);
            if (m) {
              from = built.get(m[1] as string) ?? null;
              if (!from) throw new Error(`COPY ${flag}: no such stage`);
            } else if (!/^--(chown|chmod|link)/.test(flag)) throw new Error(`COPY ${flag}: not supported here`);
          }
          const dest = words.pop() as string;
          const sources = words.map((w) => (from ? inStage(from.root, '/', w) : join(context, w)));
          copyLike(sources, inStage(root, s.workdir, dest), dest.endsWith('/') || dest === '.' || sources.length > 1);
          break;
        }
        case 'RUN':
          run(args, inStage(root, s.workdir, '.'), s.env);
          break;
        case 'USER':
          s.user = args;
          break;
        case 'EXPOSE':
          s.exposed.push(...args.split(/\s+/));
          break;
        case 'HEALTHCHECK':
          s.healthcheck = args;
          break;
        case 'CMD':
          s.cmd = execForm(args);
          if (!s.cmd) throw new Error('CMD must be in exec form so that SIGTERM reaches node');
          break;
        case 'STOPSIGNAL':
        case 'LABEL':
        case 'ARG':
          break;
        default:
          throw new Error(`Dockerfile instruction ${op} is not carried out by this test: teach it`);
      }
    }
    built.set(stage.name, s);
    last = s;
  }
  if (!last) throw new Error('Dockerfile has no stage');
  return last;
}

// ---- docker-compose.yml (the small YAML subset it uses) -------------------------------------------------

type Yaml = string | Yaml[] | { [key: string]: Yaml };

function stripComment(line: string): string {
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (quote) {
      if (c === quote) quote = null;
    } else if (c === '"' || c === "'") quote = c;
    else if (c === '#' && (i === 0 || /\s/.test(line[i - 1] as string))) return line.slice(0, i).trimEnd();
  }
  return line.trimEnd();
}

function scalar(text: string): Yaml {
  const t = text.trim();
  if (t.startsWith('[')) return JSON.parse(t) as Yaml;
  if (t.startsWith('"')) return JSON.parse(t) as string;
  if (t.startsWith("'")) return t.slice(1, -1).replace(/''/g, "'");
  return t;
}

function parseYaml(text: string): Yaml {
  const lines = text
    .split('\n')
    .map(stripComment)
    .filter((l) => l.trim() !== '')
    .map((l) => ({ indent: l.length - l.trimStart().length, text: l.trim() }));
  let i = 0;
  const block = (indent: number): Yaml => {
    if (lines[i]?.text.startsWith('- ')) {
      const list: Yaml[] = [];
      while (i < lines.length && (lines[i] as { indent: number }).indent === indent && lines[i]?.text.startsWith('- ')) {
        list.push(scalar((lines[i] as { text: string }).text.slice(2)));
        i++;
      }
      return list;
    }
    const map: Record<string, Yaml> = {};
    while (i < lines.length && (lines[i] as { indent: number }).indent === indent) {
      const { text: t } = lines[i] as { text: string };
      const m = /^("[^"]*"|[^:]+):(?:\s+(.*))?$/.exec(t);
      if (!m) throw new Error(`compose: cannot read "${t}"`);
      const key = (m[1] as string).replace(/^"|"$/g, '');
      i++;
      if (m[2] !== undefined && m[2] !== '') map[key] = scalar(m[2]);
      else if (i < lines.length && (lines[i] as { indent: number }).indent > indent) map[key] = block((lines[i] as { indent: number }).indent);
      else map[key] = '';
    }
    return map;
  };
  return block(0);
}

const asMap = (y: Yaml | undefined): Record<string, Yaml> => (y && typeof y === 'object' && !Array.isArray(y) ? y : {});

/** Compose interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}, $$. */
function interpolate(value: string, env: Record<string, string | undefined>): string {
  return value.replace(/\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?)([-?])([^}]*))?\}/g, (all, name?: string, colon?: string, kind?: string, rest?: string) => {
    if (all === '$$') return '$';
    const v = env[name as string];
    const unset = v === undefined || (colon === ':' && v === '');
    if (kind === '-') return unset ? (rest ?? '') : (v as string);
    if (kind === '?') {
      if (unset) throw new Error(`compose: ${name} is required: ${rest}`);
      return v as string;
    }
    return v ?? '';
  });
}

// ---- processes ----------------------------------------------------------------------------------------

interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startProcess(argv: string[], cwd: string, env: Record<string, string>): Proc {
  const [cmd, ...args] = argv as [string, ...string[]];
  const child = spawn(cmd, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

async function waitForHttp(url: string, proc: Proc, timeoutMs: number): Promise<Response> {
  const answer = async (): Promise<Response | null> => {
    if (proc.child.exitCode !== null) throw new Error(`process exited (${proc.child.exitCode}) before ${url} answered:\n${proc.output()}`);
    // null: not listening yet, or not ready.
    const res = await fetch(url, { signal: AbortSignal.timeout(2000) }).catch(() => null);
    return res?.ok ? res : null;
  };
  try {
    return (await eventuallyValue(answer, (res) => res !== null, timeoutMs)) as Response;
  } catch (err) {
    if (proc.child.exitCode !== null) throw err;
    throw new Error(`${url} did not answer 200 in ${timeoutMs} ms:\n${proc.output()}`);
  }
}

// ---- the test -----------------------------------------------------------------------------------------

describe('the container image, carried out without Docker', () => {
  const work = mkdtempSync(join(tmpdir(), 'bridge-image-'));
  const procs: Proc[] = [];

  afterAll(async () => {
    for (const p of procs) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await p.exited;
      }
    }
    // Two node_modules trees: slow to delete on a busy machine.
    await rm(work, { recursive: true, force: true, maxRetries: 3 });
  }, 180_000);

  it('builds like the Dockerfile, starts like docker-compose.yml, is healthy and ready, and stops on SIGTERM', async () => {
    // 1. Build context.
    const context = join(work, 'context');
    const files = makeContext(context);
    expect(files).toContain('package-lock.json');
    expect(files.some((f) => f.startsWith('test/') || f.startsWith('node_modules/') || f.startsWith('.git/'))).toBe(false);

    // 2. The Dockerfile, stage by stage.
    const stages = parseDockerfile(readFileSync(join(REPO, 'Dockerfile'), 'utf8')) // docker build reads it even when .dockerignore lists it;
    expect(stages.length).toBeGreaterThanOrEqual(2); // multi-stage
    const image = buildImage(stages, context, join(work, 'stages'));
    const appDir = inStage(image.root, image.workdir, '.');

    // 3. The final stage's promises.
    expect(image.user).not.toBeNull();
    expect(['root', '0', '0:0']).not.toContain(image.user);
    expect(image.healthcheck).toMatch(/\/healthz/);
    expect(image.cmd?.[0]).toBe('node');
    expect(existsSync(join(appDir, image.cmd?.[1] ?? 'missing'))).toBe(true);
    expect(existsSync(join(appDir, 'public', 'index.html'))).toBe(true);
    expect(existsSync(join(appDir, 'public', 'client.js'))).toBe(true);
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
      dependencies: Record<string, string>;
      devDependencies: Record<string, string>;
    };
    for (const dep of Object.keys(pkg.dependencies)) expect(existsSync(join(appDir, 'node_modules', dep)), dep).toBe(true);
    for (const dev of Object.keys(pkg.devDependencies)) expect(existsSync(join(appDir, 'node_modules', dev)), dev).toBe(false);
    expect(existsSync(join(appDir, 'src'))).toBe(false); // compiled code only

    // 4. docker compose --profile demo up, with service names mapped to loopback addresses.
    const compose = asMap(parseYaml(readFileSync(join(REPO, 'docker-compose.yml'), 'utf8')));
    const services = asMap(compose.services);
    const bridgeService = asMap(services.bridge);
    const simService = asMap(services.simulator);
    const redisService = asMap(services.redis);
    expect((redisService.command as string[]).join(' ')).toMatch(/--appendonly yes/); // persistence on
    expect(redisService.volumes).toEqual(['redis-data:/data']);
    expect(simService.profiles).toEqual(['demo']);

    const redisUrl = new URL(inject('redisUrl'));
    const bridgePort = await freePort();
    const simPort = await freePort();
    const hostMap: Record<string, string> = {
      'redis:6379': redisUrl.host,
      'simulator:8090': `127.0.0.1:${simPort}`,
      'bridge:3000': `127.0.0.1:${bridgePort}`,
    };
    const mapHosts = (v: string): string => v.replace(/\/\/(redis:6379|simulator:8090|bridge:3000)/g, (_m, h: string) => `//${hostMap[h]}`);
    const shellEnv = {
      PBX_CALLBACK_SECRET: 'image-test-callback-secret',
      SESSION_SECRET: 'image-test-session-secret-0123456789abcdef',
      CREDENTIALS_KEY: Buffer.alloc(32, 3).toString('base64'),
      ADMIN_API_KEY: 'image-test-admin-api-key-0001',
    };
    const baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: work };

    // The simulator service: the image's files, compose's command.
    const simCommand = (simService.command as string[]).map((a) => mapHosts(interpolate(a, shellEnv)));
    const portFlag = simCommand.indexOf('--port');
    simCommand[portFlag + 1] = String(simPort);
    const hostFlag = simCommand.indexOf('--host');
    simCommand[hostFlag + 1] = '127.0.0.1';
    const sim = startProcess(simCommand, appDir, { ...baseEnv, ...image.env });
    procs.push(sim);
    await waitForHttp(`http://127.0.0.1:${simPort}/_sim/subscriptions`, sim, 15_000);

    // The bridge service: the image's ENV, then compose's environment; PORT/HOST stand for the port mapping.
    const composeEnv: Record<string, string> = {};
    for (const [k, v] of Object.entries(asMap(bridgeService.environment))) composeEnv[k] = mapHosts(interpolate(String(v), shellEnv));
    expect(composeEnv.REDIS_URL).toMatch(/^redis:\/\//);
    const env = { ...baseEnv, ...image.env, ...composeEnv, PORT: String(bridgePort), HOST: '127.0.0.1' };
    const bridge = startProcess(image.cmd as string[], appDir, env);
    procs.push(bridge);
    const base = `http://127.0.0.1:${bridgePort}`;

    // 5. Health, readiness, the image's own health check, and a call end to end.
    const health = await waitForHttp(`${base}/healthz`, bridge, 20_000);
    expect(health.status).toBe(200);
    const ready = await fetch(`${base}/readyz`);
    const readyBody = (await ready.json()) as { redis?: string; demo?: boolean };
    expect(ready.status, JSON.stringify(readyBody)).toBe(200);
    expect(readyBody.redis).toBe('ok');
    expect(readyBody.demo).toBe(false);

    const check = execForm((image.healthcheck ?? '').replace(/^(--\S+\s+)*CMD\s+/, ''));
    expect(check).not.toBeNull();
    const checked = spawnSync((check as string[])[0] as string, (check as string[]).slice(1), { cwd: appDir, env, timeout: 10_000 });
    expect(checked.status).toBe(0);

    const login = await fetch(`${base}/api/agents/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ extension: '101', password: DEMO_EXTENSIONS['101'] }),
    });
    expect(login.status, bridge.output()).toBe(200);
    const { token } = (await login.json()) as { token: string };
    const ws = new WebSocket(`ws://127.0.0.1:${bridgePort}/ws?token=${encodeURIComponent(token)}`);
    const frames: Array<{ type: string; data?: { contact?: { displayName?: string } | null } }> = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString()) as (typeof frames)[number]));
    await expect.poll(() => frames.map((f) => f.type), { timeout: 5000 }).toContain('ready');
    const rang = await fetch(`http://127.0.0.1:${simPort}/_sim/ring`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ extension: '101', from: '(415) 555-0132' }),
    });
    expect(rang.status).toBe(200);
    await expect.poll(() => frames.find((f) => f.type === 'call.ringing')?.data?.contact?.displayName, { timeout: 5000 }).toBe('Emily Carter');

    // SIGTERM straight to node: the socket gets 1001, the process exits 0 within 10 s.
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    const started = Date.now();
    bridge.child.kill('SIGTERM');
    const exit = await Promise.race([
      bridge.exited,
      new Promise<never>((_r, reject) => setTimeout(() => reject(new Error(`no exit within 10 s:\n${bridge.output()}`)), 10_000)),
    ]);
    expect(exit, bridge.output()).toEqual({ code: 0, signal: null });
    expect(Date.now() - started).toBeLessThan(10_000);
    expect(await closed).toBe(1001);
    expect(bridge.output()).toContain('shut down cleanly');

    sim.child.kill('SIGTERM');
    await sim.exited;
  }, 300_000);
});
