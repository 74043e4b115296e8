/**
 * What a person sees when they run the demo: the sign-in details framed on a terminal (pretty log lines),
 * one JSON object per line when stdout is not a terminal, and an icon at /favicon.ico (no 404 per page load).
 */
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort } from '../helpers/redis-server.js';
import { eventually } from '../helpers/wait.js';

const ROOT = join(import.meta.dirname, '../..');
const running: Array<ReturnType<typeof spawn>> = [];
afterEach(() => {
  for (const child of running.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
});

/** The demo as `npm start` runs it (from source), with a stdout of the test's choosing. */
async function demo(env: Record<string, string>, command?: string[]) {
  const port = await freePort();
  const argv = command ?? [process.execPath, '--import', 'tsx', 'src/main.ts'];
  const [bin = '', ...args] = argv;
  const child = spawn(bin, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? '', PORT: String(port), HOST: '127.0.0.1', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let out = '';
  child.stdout?.on('data', (c: Buffer) => (out += String(c)));
  child.stderr?.on('data', (c: Buffer) => (out += String(c)));
  // The exit code, or the signal's name when it was killed by one (a crash or an unhandled SIGTERM).
  const exited = new Promise<number | string | null>((r) => child.once('exit', (code, signal) => r(code ?? signal)));
  return { port, child, exited, output: () => out };
}

describe('the demo on a terminal and off it', () => {
  it('with pretty output, frames the sign-in details; SIGTERM still exits 0', async () => {
    const d = await demo({ LOG_FORMAT: 'pretty' });
    await eventually(() => d.output().includes('└'), 15_000, 'the sign-in box');
    const text = d.output();
    expect(text).toContain(`1. open       http://localhost:${d.port}/`);
    expect(text).toContain('2. sign in    extension 101, password demo101pass');
    expect(text).toContain('Simulate a call');
    expect(text).toMatch(/admin API key for this run: \S{16,}/);
    expect(text).toMatch(/^\[\d\d:\d\d:\d\d\] INFO: bridge listening/m);
    expect(text).not.toMatch(/^\{"level"/m);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  it('when stdout is not a terminal (the default, auto), every line is one JSON object and there is no box', async () => {
    const d = await demo({});
    await eventually(() => d.output().includes('demo mode: open'), 15_000, 'the demo log line');
    const lines = d.output().trim().split('\n');
    for (const line of lines) expect(() => JSON.parse(line) as unknown, line).not.toThrow();
    expect(d.output()).not.toContain('┌');
    const res = await fetch(`http://127.0.0.1:${d.port}/favicon.ico`);
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/icon/);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(0);
    d.child.kill('SIGTERM');
    expect(await d.exited).toBe(0);
  });

  // util-linux `script` gives the bridge a real pseudo-terminal: auto must pick the pretty output there.
  const hasScript = spawnSync('script', ['--version'], { stdio: 'ignore' }).status === 0;
  it.skipIf(!hasScript)('on a real terminal, auto picks the pretty output', async () => {
    const d = await demo({}, ['script', '-qfec', `${process.execPath} --import tsx src/main.ts`, '/dev/null']);
    await eventually(() => d.output().includes('└'), 15_000, 'the sign-in box');
    expect(d.output()).toContain('extension 101, password demo101pass');
    d.child.kill('SIGTERM');
    await d.exited;
  });
});
