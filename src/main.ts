/** The process: reads the environment, starts one bridge (src/bridge.ts wires it), and owns signals and the exit code. */
import { loadConfig } from './config.js';
import { createLogger, logDestination } from './logger.js';
import { demoBanner } from './demo-banner.js';
import { startBridge, type Bridge } from './bridge.js';
import { bridgeHelp, wantsHelp } from './help.js';

const SHUTDOWN_DEADLINE_MS = 10_000;

async function main(): Promise<void> {
  if (wantsHelp(process.argv.slice(2))) {
    console.log(bridgeHelp());
    return;
  }
  const result = loadConfig(process.env);
  if (!result.ok) {
    for (const line of result.problems) console.error(`config: ${line}`);
    process.exit(2);
  }
  const config = result.config;
  const destination = logDestination(config.logFormat);
  const logger = createLogger(config.logLevel, destination);

  process.on('unhandledRejection', (reason) => logger.error({ err: reason }, 'unhandled promise rejection'));

  // Signals are taken from before the bridge starts: one that comes while it starts closes it once it is up.
  let bridge: Bridge | null = null;
  let stopping = false;
  const shutdown = (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const deadline = setTimeout(() => {
      logger.error('shutdown took too long; exiting');
      process.exit(1);
    }, SHUTDOWN_DEADLINE_MS);
    deadline.unref();
    if (bridge) closeAndExit(bridge);
  };
  const closeAndExit = (started: Bridge) => {
    started
      .close()
      .then(() => {
        logger.info('shut down cleanly');
        logger.flush();
        process.exit(0);
      })
      .catch((err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      });
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));

  bridge = await startBridge(config, logger);
  if (stopping) return closeAndExit(bridge);
  logger.info(
    { url: bridge.url, mode: config.demo ? 'demo' : 'pbx', state: config.redisUrl ? 'redis' : 'memory', instanceId: bridge.instanceId },
    `bridge listening on ${config.host}:${bridge.port}`,
  );
  if (bridge.demo) {
    // The contract asks for the demo credentials in the log: they are per-run demo values, not real secrets.
    const ext = bridge.demo.agentCredentials;
    logger.info(
      `demo mode: open http://localhost:${bridge.port}/ and sign in with extension ${ext.extension}, password ${ext.password}` +
        ` (other demo extensions: ${bridge.demo.otherExtensions}); admin API key for this run: ${bridge.generated.adminApiKey ?? 'from ADMIN_API_KEY'}`,
    );
    // For a person (pretty output): the same details framed, so they are not lost among the log lines.
    // JSON output stays one object per line for machines.
    if (destination) {
      console.log(
        demoBanner({
          url: `http://localhost:${bridge.port}/`,
          extension: ext.extension,
          password: ext.password,
          otherExtensions: bridge.demo.otherExtensions,
          adminApiKey: bridge.generated.adminApiKey ?? null,
        }),
      );
    }
  }
}

main().catch((err: unknown) => {
  console.error('bridge failed to start:', err instanceof Error ? err.message : err);
  process.exit(1);
});
