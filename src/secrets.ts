/**
 * The secrets a bridge runs with: from the configuration, or, in demo mode (the only mode that may leave them
 * unset), made per run. The callback secret and admin key made are told in the startup log. With a per-run
 * CREDENTIALS_KEY, passwords stored by an earlier run read as undecryptable and show up as `failed` until the
 * extension is registered or signed in again.
 */
import { randomBytes } from 'node:crypto';
import type { Config } from './config.js';

export interface BridgeSecrets {
  callbackSecret: string;
  /** null: the admin API is off. */
  adminApiKey: string | null;
  sessionSecret: string;
  credentialsKey: Buffer;
  /** The ones made for this run that the operator needs to know (demo mode), for the startup log. */
  generated: { adminApiKey?: string; callbackSecret?: string };
}

export function bridgeSecrets(config: Config): BridgeSecrets {
  const generated: BridgeSecrets['generated'] = {};
  const callbackSecret = config.callbackSecret ?? (generated.callbackSecret = randomBytes(18).toString('base64url'));
  const adminApiKey = config.adminApiKey ?? (config.demo ? (generated.adminApiKey = randomBytes(24).toString('base64url')) : null);
  return {
    callbackSecret,
    adminApiKey,
    sessionSecret: config.sessionSecret ?? randomBytes(32).toString('base64url'),
    credentialsKey: config.credentialsKey ?? randomBytes(32),
    generated,
  };
}
