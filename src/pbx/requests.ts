/**
 * What goes into PBX requests and what comes out of the small answers: the call-log query's dates (checked
 * before they go into the URL path), createNumber's fields, and the id in its answer.
 */
import type { PbxCallLogQuery, PbxNewContact } from '../core/ports.js';
import { ValidationError } from '../errors.js';
import { isJsonObject, type JsonObject } from './answer.js';

const CALL_LOG_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

/** A real calendar date written YYYY-MM-DD, as the manual's 412/413 demand; else a ValidationError naming the field. */
function checkDate(field: 'startDate' | 'endDate', value: string): string {
  const m = CALL_LOG_DATE.exec(value);
  const date = m ? new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]))) : null;
  if (date === null || date.toISOString().slice(0, 10) !== value) {
    throw new ValidationError(field, `${field} must be a date written YYYY-MM-DD`);
  }
  return value;
}

/** The dates go into the URL path, so they are checked before anything is sent. */
export function checkCallLogQuery(query: PbxCallLogQuery): { startDate: string; endDate: string } {
  const startDate = checkDate('startDate', query.startDate);
  const endDate = checkDate('endDate', query.endDate);
  if (startDate > endDate) throw new ValidationError('endDate', 'endDate must not be before startDate');
  if (query.number !== undefined && query.number.trim() === '') throw new ValidationError('number', 'number must not be empty when given');
  return { startDate, endDate };
}

/**
 * The manual's createNumber parameters (section 10). Empty optional fields are left out rather than sent
 * empty (602 "Can Not Be Empty"); custom fields go as the manual's one-element array of name -> value.
 */
export function createNumberFields(c: PbxNewContact): Record<string, unknown> {
  const fields: Record<string, unknown> = { pb_first_name: c.firstName, pb_last_name: c.lastName };
  const optional: Array<[string, string | undefined]> = [
    ['pb_display_name', c.displayName],
    ['pb_extension', c.extension],
    ['pb_phone_number', c.phoneNumber],
    ['pb_cell_number', c.cellNumber],
    ['pb_email', c.email],
    ['pb_group', c.phoneGroup],
  ];
  for (const [name, value] of optional) if (value !== undefined && value !== '') fields[name] = value;
  const custom = Object.entries(c.customFields ?? {}).filter(([, v]) => v !== '');
  if (custom.length > 0) fields.custom_fields = [Object.fromEntries(custom)];
  return fields;
}

/** The manual's answer is only a message; some PBX builds add the new entry's id, which is used when present. */
export function newPhonebookId(body: JsonObject): { phonebookId: string | null } {
  const data = isJsonObject(body.data) ? body.data : body;
  for (const key of ['Phonebook ID', 'phonebook_id', 'phonebookId', 'id']) {
    const v = data[key];
    if ((typeof v === 'string' && v.trim() !== '') || typeof v === 'number') return { phonebookId: String(v).trim() };
  }
  return { phonebookId: null };
}
