/** pino with the redaction every log line gets: no password, token, token_id or secret ever leaves. */
import { pino, type Logger, type DestinationStream } from 'pino';

export type { Logger };

export const REDACTED_KEYS = [
  'password',
  'extension_password',
  'webPassword',
  'token',
  'token_id',
  'tokenId',
  'secret',
  'authorization',
  'Authorization',
  'x-callback-secret',
  'apiKey',
  'adminApiKey',
  'sessionSecret',
  'credentialsKey',
  'cookie',
];

const REDACT_PATHS = [
  ...REDACTED_KEYS,
  ...REDACTED_KEYS.map((k) => `*.${k}`),
  ...REDACTED_KEYS.map((k) => `*.*.${k}`),
  'req.headers.authorization',
  'req.headers["x-callback-secret"]',
];

export function createLogger(level: string, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service: 'hodupbx-crm-bridge' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
