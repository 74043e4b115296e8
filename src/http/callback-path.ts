/**
 * The callback route's hot path as the bridge runs it (docs/performance.md): the lean handler before Express,
 * refused with 503 past the bridge's limit by the overload guard, with its metrics.
 */
import type { Registry } from 'prom-client';
import type { Config } from '../config.js';
import type { Logger } from '../logger.js';
import { countedAccept, type AcceptCallback } from './callback-metrics.js';
import { createCallbackHandler, type CallbackHandler } from './callback-route.js';
import { OverloadGuard } from './overload-guard.js';
import { registerOverloadMetrics } from './overload-metrics.js';
import type { RecentCallbacks } from './recent-callbacks.js';

type CallbackLimits = Pick<Config, 'callbackFields' | 'callbackMaxInFlight' | 'callbackMaxEventLoopDelayMs' | 'callbackMaxEventLoopUtilization' | 'callbackMaxAnswerMs' | 'callbackMaxConnectionsBusy' | 'callbackMaxOpenCalls'>;

export interface CallbackPath {
  handler: CallbackHandler;
  /** Logs the handler's last counts and stops its timers and the guard's sampling. */
  close(): void;
}

export function createCallbackPath(o: {
  config: CallbackLimits;
  secret: string;
  accept: AcceptCallback;
  /** Open calls (all instances' in Redis mode): ringing callbacks past CALLBACK_MAX_OPEN_CALLS are refused. */
  openCalls: () => number;
  recent: RecentCallbacks;
  logger: Logger;
  registry: Registry;
}): CallbackPath {
  const overload = new OverloadGuard({
    maxInFlight: o.config.callbackMaxInFlight,
    maxDelayMs: o.config.callbackMaxEventLoopDelayMs,
    maxUtilization: o.config.callbackMaxEventLoopUtilization,
    maxAnswerMs: o.config.callbackMaxAnswerMs,
    maxConnectionsBusy: o.config.callbackMaxConnectionsBusy,
    maxOpenCalls: o.config.callbackMaxOpenCalls,
    openCalls: o.openCalls,
  });
  registerOverloadMetrics(o.registry, overload);
  const handler = createCallbackHandler({
    secret: o.secret,
    fieldNames: o.config.callbackFields,
    accept: countedAccept(o.registry, o.accept),
    recent: o.recent,
    logger: o.logger,
    overload,
  });
  return {
    handler,
    close() {
      handler.close();
      overload.close();
    },
  };
}
