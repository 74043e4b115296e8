/**
 * /readyz is composed of parts: each module that has something to say about readiness gives a part, which
 * adds its fields to the answer and, when it makes the instance unready, a reason (docs/operations.md).
 */

export interface ReadinessReport {
  /** Fields this part adds to the /readyz body. */
  fields: Record<string, unknown>;
  /** Why the instance is not ready; empty or absent when this part has nothing against it. */
  reasons?: string[];
}

export interface ReadinessPart {
  readiness(): ReadinessReport | Promise<ReadinessReport>;
}

export interface Readiness {
  ready: boolean;
  reasons: string[];
  [detail: string]: unknown;
}

/** A part that only reports a figure under `name` and never makes the instance unready. */
export function readinessDetail(name: string, read: () => unknown): ReadinessPart {
  return { readiness: () => ({ fields: { [name]: read() } }) };
}

/** Asks every part, in order: ready when none gives a reason; fields in the parts' order. */
export async function composeReadiness(parts: readonly ReadinessPart[]): Promise<Readiness> {
  const reports = await Promise.all(parts.map((part) => part.readiness()));
  const reasons = reports.flatMap((r) => r.reasons ?? []);
  return Object.assign({ ready: reasons.length === 0, reasons }, ...reports.map((r) => r.fields)) as Readiness;
}
