/**
 * What an operator sees of the extensions (GET /api/extensions): one record with its presence, turned into a
 * view that never carries a password; every known extension in numeric order.
 */
import { agentActive } from './desire.js';
import type { ExtensionRecord, SubscriptionState, SubscriptionStore } from './store.js';

export type DesireSource = 'admin' | 'agent';

/** What GET /api/extensions shows for one extension. Never a password. */
export interface ExtensionView {
  extension: string;
  desired: boolean;
  sources: DesireSource[];
  state: SubscriptionState;
  lastError: string | null;
  /** When the leader retries after a transient failure, or null. */
  nextRetryAt: string | null;
  updatedAt: string;
}

export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function compareExtensions(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

function toView(rec: ExtensionRecord, present: boolean, now: number): ExtensionView {
  const sources: DesireSource[] = [];
  if (rec.admin) sources.push('admin');
  if (agentActive(rec, present, now)) sources.push('agent');
  return {
    extension: rec.extension,
    desired: sources.length > 0,
    sources,
    state: rec.state,
    lastError: rec.lastError,
    nextRetryAt: rec.nextRetryAt === null ? null : iso(rec.nextRetryAt),
    updatedAt: iso(rec.updatedAt),
  };
}

export class ExtensionViews {
  constructor(
    private readonly store: SubscriptionStore,
    private readonly now: () => number,
  ) {}

  async view(extension: string): Promise<ExtensionView | null> {
    const rec = await this.store.get(extension);
    if (!rec) return null;
    const now = this.now();
    const { present } = await this.store.readPresence(extension, now);
    return toView(rec, present, now);
  }

  /** Every known extension, in numeric order. */
  async list(): Promise<ExtensionView[]> {
    const extensions = (await this.store.list()).sort(compareExtensions);
    const views = await Promise.all(extensions.map((e) => this.view(e)));
    return views.filter((v): v is ExtensionView => v !== null);
  }
}
