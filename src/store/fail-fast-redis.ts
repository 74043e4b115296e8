/**
 * A Redis connection that refuses a command at once (STORE_ERR_UNAVAILABLE, docs/api-errors.md) instead of
 * letting it wait while Redis is known not to answer, so that an HTTP route answers 503 at once rather than
 * after seconds, or never:
 * - unreachable: a reconnect attempt failed and it has not been ready since. ioredis would queue the command
 *   until its next flush, after up to two backoffs (about 4 s), for each command of a request in turn. A drop
 *   the first reconnect survives still queues, as before.
 * - hung: connected, but the oldest command sent has had no answer for COMMAND_HANG_MS (a stopped or cut-off
 *   server keeps the socket open). Commands already sent are left alone (one may still run when Redis
 *   answers, and the event log waits for its late appends); only new ones are refused, until the next answer.
 *   Commands queued behind a running auto-pipeline before the hang was seen wait with it.
 */
import { Command, Redis, type RedisOptions } from 'ioredis';
import { BridgeError } from '../errors.js';
import { COMMAND_HANG_MS } from '../events/redis-timeouts.js';

/** Not 'connect': while connected and shaking hands, the handshake's own commands go through sendCommand. */
const WAITING = new Set(['reconnecting', 'connecting', 'close']);

export class FailFastRedis extends Redis {
  private reconnects = 0;
  private hung = false;
  /** The oldest command awaiting its answer when last looked at, and since when. */
  private front: Command | null = null;
  private frontSince = 0;
  private readonly hangWatch: NodeJS.Timeout;

  constructor(url: string, options: RedisOptions) {
    super(url, options);
    this.on('reconnecting', () => this.reconnects++);
    this.on('ready', () => (this.reconnects = 0));
    this.on('end', () => clearInterval(this.hangWatch));
    // Sampled rather than timed per command: nothing is added to each command's path.
    this.hangWatch = setInterval(() => this.watchFront(), Math.max(50, Math.floor(COMMAND_HANG_MS / 4)));
    this.hangWatch.unref();
  }

  /** Whether new commands are refused now (Redis known unreachable, or hung): nothing sent would be answered soon. */
  get refusing(): boolean {
    return (this.reconnects > 1 && WAITING.has(this.status)) || (this.hung && this.status === 'ready');
  }

  override sendCommand(command: Command, stream?: Parameters<Redis['sendCommand']>[1]): unknown {
    if (this.refusing) {
      command.reject(new BridgeError('STORE_ERR_UNAVAILABLE'));
      return command.promise;
    }
    return super.sendCommand(command, stream);
  }

  private watchFront(): void {
    const oldest = this.commandQueue.peekFront()?.command;
    const front = oldest instanceof Command ? oldest : null;
    if (front !== this.front) {
      this.front = front;
      this.frontSince = Date.now();
      return;
    }
    if (!front || this.hung || Date.now() - this.frontSince < COMMAND_HANG_MS) return;
    this.hung = true;
    // Auto-pipelined commands wait behind the running pipeline and reach sendCommand only once it is answered:
    // while hung, new commands go straight to sendCommand, to be refused there.
    const autoPipelining = this.options.enableAutoPipelining;
    this.options.enableAutoPipelining = false;
    // The first answer (or the connection's end, which fails it) ends the hang.
    const over = () => {
      this.hung = false;
      this.options.enableAutoPipelining = autoPipelining;
    };
    front.promise.then(over, over);
  }
}
