/**
 * Desire as operators and agents state it, recorded by whichever instance serves the request: operator
 * registration (verified with crmSubscribe, because the answer decides the HTTP response) and removal, agent
 * sign-in and sign-out. The leader does the PBX work that follows; this module only writes the store and says
 * which extension changed.
 */
import type { AgentClaims } from '../core/agent.js';
import type { PbxApi } from '../core/ports.js';
import { PbxError } from '../errors.js';
import type { Logger } from '../logger.js';
import type { CredentialCipher } from './credential-cipher.js';
import { isCredentialRefusal, isUnreachable } from '../pbx/refusals.js';
import type { SubscriptionStore } from './store.js';
import type { ExtensionView, ExtensionViews } from './views.js';

export type RegisterResult =
  | { ok: true; extension: ExtensionView }
  /** refused: the PBX said no to these credentials (422); unavailable: no answer (503); pbx_error: odd answer (502). */
  | { ok: false; reason: 'refused' | 'unavailable' | 'pbx_error'; message: string };

export interface IntentOptions {
  pbx: PbxApi;
  store: SubscriptionStore;
  cipher: CredentialCipher;
  views: ExtensionViews;
  logger: Logger;
  graceMs: number;
  now: () => number;
  /** The extension's desire changed; `reset` when its credentials are new (a retry may start at once). */
  changed: (extension: string, reset: boolean) => Promise<void>;
}

export class Intent {
  constructor(private readonly o: IntentOptions) {}

  /** PUT /api/extensions/:number: verifies the password with crmSubscribe, then keeps it subscribed for good. */
  async register(extension: string, password: string): Promise<RegisterResult> {
    const log = this.o.logger;
    try {
      await this.o.pbx.crmSubscribe(extension, password);
    } catch (err) {
      if (!(err instanceof PbxError)) throw err;
      if (isCredentialRefusal(err)) {
        log.info({ extension, pbxStatus: err.pbxStatus }, 'extension registration refused by the PBX');
        return { ok: false, reason: 'refused', message: err.pbxMessage ?? `The PBX refused the credentials (status ${err.pbxStatus ?? 'unknown'}).` };
      }
      log.warn({ extension, code: err.code, pbxStatus: err.pbxStatus, err: err.message }, 'extension registration: PBX call failed');
      return isUnreachable(err)
        ? { ok: false, reason: 'unavailable', message: 'The PBX cannot be reached right now; nothing was stored. Try again shortly.' }
        : { ok: false, reason: 'pbx_error', message: `The PBX gave an unexpected answer; nothing was stored. (${err.message})` };
    }
    const now = this.o.now();
    await this.o.store.update(
      extension,
      { admin: true, secret: this.o.cipher.seal(password, extension), state: 'subscribed', lastError: null, nextRetryAt: null, updatedAt: now },
      {},
      true,
    );
    log.info({ extension }, 'extension registered by an operator');
    await this.o.changed(extension, true);
    const view = await this.o.views.view(extension);
    if (!view) throw new Error(`extension ${extension} vanished right after registration`);
    return { ok: true, extension: view };
  }

  /** DELETE /api/extensions/:number: stops the operator's desire. Null when it was not registered. */
  async unregister(extension: string): Promise<ExtensionView | null> {
    const rec = await this.o.store.get(extension);
    if (!rec?.admin) return null;
    await this.o.store.update(extension, { admin: false, updatedAt: this.o.now() }, {}, false);
    this.o.logger.info({ extension }, 'extension unregistered by an operator');
    await this.o.changed(extension, false);
    return this.o.views.view(extension);
  }

  /** After the PBX accepted an agent's sign-in (which subscribed the extension): record it and keep the password. */
  async agentSignedIn(claims: AgentClaims, password: string): Promise<void> {
    if (claims.role !== 'agent') return;
    const now = this.o.now();
    await this.o.store.update(
      claims.extension,
      { secret: this.o.cipher.seal(password, claims.extension), state: 'subscribed', lastError: null, nextRetryAt: null, updatedAt: now },
      { agentTokenExp: claims.exp * 1000, agentUntil: now + this.o.graceMs },
      true,
    );
    await this.o.changed(claims.extension, true);
  }

  /** Sign-out: the grace period starts now (sockets still open keep the extension desired). */
  async agentSignedOut(claims: AgentClaims): Promise<void> {
    if (claims.role !== 'agent') return;
    const now = this.o.now();
    await this.o.store.update(claims.extension, { updatedAt: now }, { agentUntil: now + this.o.graceMs }, false);
    await this.o.changed(claims.extension, false);
  }
}
