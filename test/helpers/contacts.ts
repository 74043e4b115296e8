/** A phonebook contact with every field empty but the ones a test gives (the name says which contact it is). */
import type { PhonebookContact } from '../../src/core/event.js';

export function phonebookContact(id: string, fields: Partial<PhonebookContact> = {}): PhonebookContact {
  return {
    phonebookId: id,
    displayName: `Contact ${id}`,
    firstName: 'First',
    lastName: id,
    email: '',
    extension: '',
    phoneNumber: '',
    cellNumber: '',
    phoneGroup: '1',
    customFields: {},
    ...fields,
  };
}
