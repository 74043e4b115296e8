/**
 * Lua scripts, each registered once per connection with ioredis `defineCommand` (as BullMQ's script loader
 * does). ioredis then sends EVAL the first time a socket runs the script and EVALSHA after that, and falls
 * back to EVAL on NOSCRIPT (a restarted server, a failover, a SCRIPT FLUSH), so no caller handles it.
 *
 * That fallback is one resend, and the resend can itself answer NOSCRIPT: ioredis marks a socket "script
 * loaded" when any call writes an EVAL on it, so a resend written after another call's EVAL goes out as EVALSHA
 * again, and a second flush (or a SCRIPT FLUSH from another client landing between the two) leaves it unknown.
 * `run` therefore answers a NOSCRIPT that got through by sending the body itself with EVAL, which no server can
 * answer NOSCRIPT. A NOSCRIPT reply means the script did not run, so the EVAL never runs it twice.
 *
 * Auto-pipelining: each auto-pipeline copies the client's defined commands when it is made (once per tick), so
 * a script defined while one is pending is missing from it and breaks that batch. A client with
 * `enableAutoPipelining` therefore gets every declared script when it is created (createRedisClient calls
 * defineLuaScriptsOn), and a script declared later is sent outside the auto-pipeline.
 */
import type { Redis } from 'ioredis';

/** What a script's KEYS and ARGV may hold. */
export type ScriptArg = string | number;

type ScriptCommand = (...args: ScriptArg[]) => Promise<unknown>;

/** Per connection, the commands this module defined on it (a connection is shared by many stores). */
const definedOn = new WeakMap<Redis, Map<string, ScriptCommand>>();
/** Every script by name: one name, one body, across the process. */
const registry = new Map<string, LuaScript>();

export class LuaScript {
  /**
   * @param name the command name ioredis adds to the client; it must not be a Redis command or client method.
   * @param numberOfKeys how many KEYS every call passes; omitted for a script whose key count varies per call.
   * @param batchesItself the caller already gathers a loop turn's work into one call (the event log's appends,
   *   the call store's claims): it is sent at once, outside the auto-pipeline, which would only add a Pipeline
   *   object (a copy of every defined command) per call.
   */
  constructor(
    readonly name: string,
    readonly lua: string,
    readonly numberOfKeys?: number,
    readonly batchesItself = false,
  ) {}

  /** Runs the script on `redis` (defining it there on first use) and answers its raw reply. */
  async run(redis: Redis, keys: readonly string[], args: readonly ScriptArg[]): Promise<unknown> {
    if (this.numberOfKeys !== undefined && keys.length !== this.numberOfKeys) {
      throw new Error(`Lua script ${this.name} takes ${this.numberOfKeys} keys, got ${keys.length}`);
    }
    // Always defined without a fixed key count, so one form serves both kinds: numkeys goes first.
    return commandOn(redis, this)(keys.length, ...keys, ...args).then(undefined, (err: unknown) => {
      if (!isNoScript(err)) throw err;
      return redis.eval(this.lua, keys.length, ...keys, ...args);
    });
  }
}

/** The server did not know the script, so it did not run (ioredis's own ReplyError, matched as ioredis does). */
function isNoScript(err: unknown): boolean {
  return err instanceof Error && err.message.includes('NOSCRIPT');
}

/** Declares a script once, at module load; a second script under the same name is a programming error. */
export function defineLuaScript(name: string, lua: string, numberOfKeys?: number, opts: { batchesItself?: boolean } = {}): LuaScript {
  if (registry.has(name)) throw new Error(`a Lua script named ${name} is defined already`);
  const script = new LuaScript(name, lua, numberOfKeys, opts.batchesItself === true);
  registry.set(name, script);
  return script;
}

/** Defines every script declared so far on `redis`, a client no command was sent on yet; idempotent. */
export function defineLuaScriptsOn(redis: Redis): void {
  for (const script of registry.values()) commandOn(redis, script, true);
}

function commandOn(redis: Redis, script: LuaScript, unused = false): ScriptCommand {
  let commands = definedOn.get(redis);
  if (!commands) {
    commands = new Map();
    definedOn.set(redis, commands);
  }
  const known = commands.get(script.name);
  if (known) return known;
  // defineCommand would silently replace a client method (e.g. `get`); refuse instead.
  if (script.name in redis) throw new Error(`cannot define Lua script ${script.name}: the Redis client already has a method of that name`);
  if (redis.options.enableAutoPipelining && (!unused || script.batchesItself)) {
    // Perhaps in use already, with an auto-pipeline pending that lacks this script (see the header).
    redis.options.autoPipeliningIgnoredCommands = [...(redis.options.autoPipeliningIgnoredCommands ?? []), script.name];
  }
  redis.defineCommand(script.name, { lua: script.lua });
  const method: unknown = Reflect.get(redis, script.name);
  if (typeof method !== 'function') throw new Error(`ioredis did not define Lua script ${script.name}`);
  const command: ScriptCommand = (...args) => method.apply(redis, args) as Promise<unknown>;
  commands.set(script.name, command);
  return command;
}
