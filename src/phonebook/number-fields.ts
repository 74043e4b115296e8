/**
 * Which numbers a phonebook contact carries: Phone Number, Cell Number, Extension, and the custom fields that
 * hold phone numbers.
 *
 * A custom field counts as a phone field by its name (Office No, Mobile, Fax, WhatsApp, ...): every value part
 * with 3 to 15 digits and only phone punctuation is indexed. Any other custom field is indexed only when its value
 * looks like a phone number on its own (6 to 15 digits, only phone punctuation), unless its definition's type
 * cannot hold one (date, list, checkbox) or its name says it is some other kind of number (pin code, account, id).
 * One value may hold several numbers separated by `,` `;` `/` `|` or a line break.
 */
import type { PbxContact, PbxCustomField } from '../core/ports.js';
import { phoneLikeDigitCount } from '../core/phone-number.js';

/** Lower ranks win when several contacts match a number equally well. */
export const FieldRank = { phone: 0, extension: 1, custom: 2 } as const;
export type FieldRank = (typeof FieldRank)[keyof typeof FieldRank];

export interface CarriedNumber {
  value: string;
  rank: FieldRank;
}

type FieldKind = 'phone' | 'maybe' | 'never';

const PHONE_NAME =
  /phone|mobile|cell|\btel\b|\btel[\s._-]*no|fax|whats\s*app|landline|\b(office|home|work|alt|alternate|contact|direct)[\s._-]*(no|num|number)\b/i;
const OTHER_NUMBER_NAME =
  /\b(id|pin|pincode|zip|postal|post\s*code|account|acct|amount|price|date|year|age|gst|pan|aadhaa?r|invoice|order|serial)\b/i;
const NON_TEXT_TYPE = /date|time|drop|list|check|radio|select|bool/i;
const SEPARATORS = /[,;/|\n]+/;

export class NumberFieldClassifier {
  private readonly kinds = new Map<string, FieldKind>();
  private readonly types = new Map<string, string>();

  constructor(definitions: readonly PbxCustomField[]) {
    for (const d of definitions) this.types.set(d.name, d.type);
  }

  kind(name: string): FieldKind {
    let k = this.kinds.get(name);
    if (k === undefined) {
      k = classify(name, this.types.get(name));
      this.kinds.set(name, k);
    }
    return k;
  }

  /** Every number the contact carries, with the rank of the field it came from. */
  numbersOf(contact: PbxContact): CarriedNumber[] {
    const out: CarriedNumber[] = [];
    if (contact.phoneNumber) out.push({ value: contact.phoneNumber, rank: FieldRank.phone });
    if (contact.cellNumber) out.push({ value: contact.cellNumber, rank: FieldRank.phone });
    if (contact.extension) out.push({ value: contact.extension, rank: FieldRank.extension });
    const custom = contact.customFields;
    if (custom) {
      for (const name in custom) {
        const value = custom[name];
        if (typeof value !== 'string' || value === '') continue;
        const kind = this.kind(name);
        if (kind === 'never') continue;
        const min = kind === 'phone' ? 3 : 6;
        for (const part of value.split(SEPARATORS)) {
          const n = phoneLikeDigitCount(part);
          if (n >= min && n <= 15) out.push({ value: part, rank: FieldRank.custom });
        }
      }
    }
    return out;
  }
}

function classify(name: string, type: string | undefined): FieldKind {
  if (PHONE_NAME.test(name)) return 'phone';
  if (OTHER_NUMBER_NAME.test(name)) return 'never';
  if (type !== undefined && NON_TEXT_TYPE.test(type)) return 'never';
  return 'maybe';
}
