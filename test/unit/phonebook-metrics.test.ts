/** The phonebook's lookup counter: totals kept on the callback path and read at scrape time. */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import type { Contact } from '../../src/core/event.js';
import { registerPhonebookMetrics } from '../../src/phonebook/metrics.js';
import type { PhonebookService } from '../../src/phonebook/service.js';

const contact = { phonebookId: '1', displayName: 'A' } as Contact;

function fakePhonebook(): PhonebookService {
  const fake = {
    status: () => ({ contacts: 1, ageSeconds: 0 }),
    lookup: (raw: string) => ({ from: raw, contact: raw === 'known' ? contact : null, otherContacts: [] }),
    isExtension: () => false,
  };
  return fake as unknown as PhonebookService;
}

describe('phonebook lookup metrics', () => {
  it('when callers are looked up, then the scrape counts hits and misses, and shows no result before its first', async () => {
    const registry = new Registry();
    const directory = registerPhonebookMetrics(registry, fakePhonebook());
    expect(await registry.getSingleMetricAsString('bridge_phonebook_lookups_total')).not.toContain('result=');
    directory.lookup('known');
    directory.lookup('unknown');
    directory.lookup('known');
    const text = await registry.getSingleMetricAsString('bridge_phonebook_lookups_total');
    expect(text).toContain('bridge_phonebook_lookups_total{result="hit"} 2');
    expect(text).toContain('bridge_phonebook_lookups_total{result="miss"} 1');
    expect(text).toContain('# TYPE bridge_phonebook_lookups_total counter');
  });
});
