/**
 * One real redis-server for the whole run (tests isolate themselves with key prefixes). Tests read its URL
 * with `inject('redisUrl')`. Set TEST_REDIS_URL to use an already running server instead.
 */
import type {} from 'vitest';
import type { TestProject } from 'vitest/node';
import { startRedisServer, type RedisServerHandle } from './redis-server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

let server: RedisServerHandle | undefined;

export async function setup(project: TestProject): Promise<void> {
  const external = process.env.TEST_REDIS_URL;
  if (external) {
    project.provide('redisUrl', external);
    return;
  }
  server = await startRedisServer();
  project.provide('redisUrl', server.url);
}

export async function teardown(): Promise<void> {
  await server?.stop();
}
