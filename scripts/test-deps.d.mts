/** Types for test-deps.mjs (plain JavaScript so the pretest check runs before the TypeScript build). */
export type Lookup = { path: string; missing?: undefined; override?: undefined } | { path?: undefined; missing: string; override?: string };
export function onPath(name: string, env?: NodeJS.ProcessEnv): string | undefined;
export function findRedisServer(env?: NodeJS.ProcessEnv): Lookup;
export function findChromium(env?: NodeJS.ProcessEnv): Lookup;
