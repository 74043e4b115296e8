/** Cleanups a test registers as it starts things, run after each test, newest first. */
import { afterEach } from 'vitest';

export type Cleanup = () => Promise<void> | void;

export interface Cleanups {
  push(cleanup: Cleanup): void;
}

export function cleanupsAfterEach(): Cleanups {
  let pending: Cleanup[] = [];
  afterEach(async () => {
    const run = pending.reverse();
    pending = [];
    for (const c of run) await c();
  });
  return { push: (cleanup) => void pending.push(cleanup) };
}
