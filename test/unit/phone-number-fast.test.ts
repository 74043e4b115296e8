import { describe, expect, it } from 'vitest';
import examples from 'libphonenumber-js/examples.mobile.json';
import minMetadata from 'libphonenumber-js/min/metadata';
import { getCountryCallingCode } from 'libphonenumber-js/min';
import { extractDigits, readWritten, readWrittenByParse, type CountryCode } from '../../src/core/phone-number.js';
import { expectSameReading, rng } from './phone-number-readings.js';
import { generateContacts } from '../../src/simulator/seed.js';

describe('readWritten without a full parse', () => {
  it('reads every calling code, written with + and with 00, as the full parse does', () => {
    const r = rng(11);
    const codes = [...Object.keys(minMetadata.country_calling_codes), ...Object.keys(minMetadata.nonGeographic)];
    let checked = 0;
    for (const cc of codes) {
      for (let n = 0; n < 20; n++) {
        const len = 1 + Math.floor(r() * 18);
        // Leading digits 0-1 more often: where national prefixes and short codes live.
        let national = r() < 0.3 ? String(Math.floor(r() * 2)) : '';
        while (national.length < len) national += String(Math.floor(r() * 10));
        expectSameReading(true, cc + national);
        expectSameReading(false, `00${cc}${national}`);
        expectSameReading(false, `011${cc}${national}`);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(4_000);
  });

  it("reads every country's example mobile number, and it with digits changed, as the full parse does", () => {
    const r = rng(3);
    let valid = 0;
    for (const [country, national] of Object.entries(examples)) {
      const cc = getCountryCallingCode(country as CountryCode);
      if (readWrittenByParse(true, cc + national, 'IN').e164 !== null) valid++;
      expectSameReading(true, cc + national);
      expectSameReading(false, `00${cc}${national}`);
      expectSameReading(false, `${national}`);
      expectSameReading(false, `0${national}`);
      // Shared calling codes (+1, +44, +7 ...) pick the country from the number: more variations there.
      const shared = (minMetadata.country_calling_codes[cc]?.length ?? 1) > 1;
      for (let n = 0; n < (shared ? 20 : 5); n++) {
        const i = Math.floor(r() * national.length);
        const changed = national.slice(0, i) + String(Math.floor(r() * 10)) + national.slice(i + 1);
        expectSameReading(true, cc + changed);
        expectSameReading(true, cc + changed.slice(1));
        expectSameReading(true, `${cc}${changed}${Math.floor(r() * 10)}`);
        // Written nationally, with and without a national prefix (stripped, or kept, as the parse decides).
        expectSameReading(false, `0${changed}`);
        expectSameReading(false, `0${changed.slice(1)}`);
      }
    }
    // The examples are valid numbers: the valid branch is what this exercises.
    expect(valid).toBeGreaterThan(200);
  });

  it('reads random digit strings as the full parse does', () => {
    const r = rng(5);
    for (let n = 0; n < 4_000; n++) {
      const len = 3 + Math.floor(r() * 18);
      let digits = '';
      while (digits.length < len) digits += String(Math.floor(r() * 10));
      expectSameReading(true, digits);
      expectSameReading(false, digits);
    }
  });

  it('reads the numbers of a generated phonebook as the full parse does', () => {
    for (const c of generateContacts(3_000)) {
      for (const raw of [c['Phone Number'], c['Cell Number']]) {
        const { plus, digits } = extractDigits(raw);
        expectSameReading(plus, digits);
      }
    }
  });

  it('reads the examples of docs/phonebook.md as before', () => {
    expect(readWritten(true, '919824740472', 'IN')).toEqual({ plus: true, digits: '919824740472', e164: '+919824740472', explicit: true, callingCode: 91 });
    expect(readWritten(false, '00919824740472', 'IN')).toMatchObject({ e164: '+919824740472', explicit: true, callingCode: 91 });
    expect(readWritten(true, '9198988778', 'IN')).toMatchObject({ e164: null, explicit: true, callingCode: 91 });
    expect(readWritten(true, '12127000042', 'IN')).toMatchObject({ e164: '+12127000042', explicit: true, callingCode: 1 });
  });
});
