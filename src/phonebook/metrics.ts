/** The phonebook's metrics and its /readyz field, registered by the phonebook's own module. */
import { Counter, type Registry } from 'prom-client';
import type { CallerDirectory } from '../core/call-events.js';
import { addGauge } from '../metrics.js';
import { readinessDetail, type ReadinessPart } from '../ops/readiness.js';
import type { PhonebookService } from './service.js';

/** Registers the phonebook's gauges; answers the directory the callback path looks callers up in, counting hits and misses. */
export function registerPhonebookMetrics(registry: Registry, phonebook: PhonebookService): CallerDirectory {
  addGauge(registry, 'bridge_phonebook_contacts', 'Contacts in the phonebook index', () => phonebook.status().contacts);
  addGauge(registry, 'bridge_phonebook_age_seconds', 'Age of the phonebook snapshot', () => phonebook.status().ageSeconds ?? -1);
  const lookups = new Counter({
    name: 'bridge_phonebook_lookups_total',
    help: 'Caller lookups in the phonebook index on the callback path, by result (hit, miss)',
    labelNames: ['result'],
    registers: [registry],
  });
  return {
    lookup: (raw: string) => {
      const match = phonebook.lookup(raw);
      lookups.inc({ result: match.contact ? 'hit' : 'miss' });
      return match;
    },
    isExtension: (number: string) => phonebook.isExtension(number),
  };
}

export function phonebookReadiness(phonebook: PhonebookService): ReadinessPart {
  return readinessDetail('phonebook', () => phonebook.status());
}
