/** The phonebook's metrics and its /readyz field, registered by the phonebook's own module. */
import type { Registry } from 'prom-client';
import type { CallerDirectory } from '../core/call-events.js';
import { addGauge, addLabelledCounter, byLabel } from '../metrics.js';
import { readinessDetail, type ReadinessPart } from '../ops/readiness.js';
import type { PhonebookService } from './service.js';

/** Registers the phonebook's gauges; answers the directory the callback path looks callers up in, counting hits and misses. */
export function registerPhonebookMetrics(registry: Registry, phonebook: PhonebookService): CallerDirectory {
  addGauge(registry, 'bridge_phonebook_contacts', 'Contacts in the phonebook index', () => phonebook.status().contacts);
  addGauge(registry, 'bridge_phonebook_age_seconds', 'Age of the phonebook snapshot', () => phonebook.status().ageSeconds ?? -1);
  // Running totals read at scrape time: a labelled inc() hashes its labels object on every callback.
  const totals: Record<'hit' | 'miss', number> = { hit: 0, miss: 0 };
  addLabelledCounter(registry, 'bridge_phonebook_lookups_total', 'Caller lookups in the phonebook index on the callback path, by result (hit, miss)', ['result'], () =>
    byLabel('result', totals).filter((t) => t.value > 0),
  );
  return {
    lookup: (raw: string) => {
      const match = phonebook.lookup(raw);
      if (match.contact) totals.hit++;
      else totals.miss++;
      return match;
    },
    isExtension: (number: string) => phonebook.isExtension(number),
  };
}

export function phonebookReadiness(phonebook: PhonebookService): ReadinessPart {
  return readinessDetail('phonebook', () => phonebook.status());
}
