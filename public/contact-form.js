// What the page adds to a card about the phonebook (docs/phonebook.md): a note when the contact was found
// only by the last digits of the number, and on an "Unknown caller" card a "Save contact" form that creates
// the contact at the PBX (POST /api/contacts). Everything is put in the page as text, never as HTML.

const link = document.createElement('link');
link.rel = 'stylesheet';
link.href = '/contact-form.css';
document.head.append(link);

let fieldsPromise = null;
let errorIds = 0;

function token() {
  return window.sessionStorage.getItem('token') ?? '';
}

/** The tenant's custom fields (GET /api/contacts/fields), fetched once per page; a refused answer is not kept. */
function customFields() {
  fieldsPromise ??= fetch('/api/contacts/fields', { headers: { authorization: `Bearer ${token()}` } })
    .then((res) => {
      if (res.ok) return res.json();
      // Asked while the session had run out: the next form asks again, once signed in.
      fieldsPromise = null;
      return { fields: [] };
    })
    .then((body) => (Array.isArray(body.fields) ? body.fields : []))
    .catch(() => {
      fieldsPromise = null;
      return [];
    });
  return fieldsPromise;
}

function el(tag, props = {}, text) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'className') node.className = v;
    else node.setAttribute(k, v);
  }
  if (text !== undefined) node.textContent = text;
  return node;
}

/** One labelled input (or select) with the place its error goes. */
function fieldRow(form, { name, label, value = '', type = 'text', required = false, items = null, maxLength = null }) {
  const row = el('label', { className: 'cf-row' });
  const caption = el('span', { className: 'cf-label' }, label);
  if (required) caption.append(el('span', { className: 'cf-required', title: 'required', 'aria-hidden': 'true' }, ' *'));
  let input;
  if (Array.isArray(items) && items.length > 0) {
    input = el('select');
    input.append(el('option', { value: '' }, '—'));
    for (const item of items) input.append(el('option', { value: item }, item));
  } else {
    input = el('input', { type });
    if (maxLength) input.maxLength = maxLength;
  }
  input.name = name;
  input.value = value;
  if (required) input.setAttribute('aria-required', 'true');
  const error = el('span', { className: 'cf-error', role: 'alert' });
  error.dataset.for = name;
  error.id = `cf-error-${++errorIds}`;
  input.setAttribute('aria-describedby', error.id);
  row.append(caption, input, error);
  form.append(row);
  return input;
}

function showErrors(form, field, message) {
  for (const e of form.querySelectorAll('.cf-error')) e.textContent = '';
  for (const input of form.querySelectorAll('[aria-invalid]')) input.removeAttribute('aria-invalid');
  const target = field ? [...form.querySelectorAll('.cf-error')].find((e) => e.dataset.for === field) : null;
  (target ?? form.querySelector('.cf-general')).textContent = message;
  // The field the bridge named: marked invalid and focused, so a keyboard or screen-reader user lands on it.
  const input = target ? [...form.querySelectorAll('input, select')].find((i) => i.name === field) : null;
  if (input && message) {
    input.setAttribute('aria-invalid', 'true');
    input.focus();
  }
}

/** What the bridge's answer says, and next to which field. */
function describeFailure(status, body) {
  const message = typeof body?.message === 'string' ? body.message.replace(/^[\w.]+: /, '') : '';
  if (status === 409) return { field: 'phoneNumber', message: 'The phonebook already has a contact with this number.' };
  if (status === 401) return { field: null, message: 'Your session has ended: sign in again to save contacts.' };
  if (status === 503) return { field: null, message: 'The PBX cannot be reached right now; try again.' };
  if (status === 400 || status === 422) return { field: typeof body?.field === 'string' ? body.field : null, message: message || 'The PBX refused this contact.' };
  return { field: null, message: message || `Saving failed (HTTP ${status}).` };
}

async function openForm(card, event, onSaved) {
  const box = card.querySelector('.cf-box');
  box.replaceChildren();
  const form = el('form', { className: 'cf-form', novalidate: '' });
  form.append(el('p', { className: 'cf-title' }, 'Save contact'));
  fieldRow(form, { name: 'firstName', label: 'First name', required: true });
  fieldRow(form, { name: 'lastName', label: 'Last name', required: true });
  fieldRow(form, { name: 'phoneNumber', label: 'Phone number', value: event.data.call.from ?? '', type: 'tel', required: true });
  fieldRow(form, { name: 'email', label: 'E-mail', type: 'email' });
  const custom = await customFields();
  for (const f of custom) {
    fieldRow(form, { name: `customFields.${f.name}`, label: f.name, required: f.required === true, items: f.items, maxLength: f.maxLength });
  }
  form.append(el('p', { className: 'cf-error cf-general', role: 'alert' }));
  const buttons = el('div', { className: 'cf-buttons' });
  const save = el('button', { type: 'submit', className: 'cf-save' }, 'Save');
  const cancel = el('button', { type: 'button', className: 'cf-cancel' }, 'Cancel');
  cancel.addEventListener('click', () => {
    box.replaceChildren();
    const open = card.querySelector('.cf-open');
    open.hidden = false;
    open.focus(); // the focus was on Cancel, which is gone
  });
  buttons.append(save, cancel);
  form.append(buttons);

  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const body = { customFields: {} };
    for (const input of form.querySelectorAll('input, select')) {
      const value = input.value.trim();
      if (input.name.startsWith('customFields.')) {
        if (value !== '') body.customFields[input.name.slice('customFields.'.length)] = value;
      } else body[input.name] = value;
    }
    save.disabled = true;
    showErrors(form, null, '');
    try {
      const res = await fetch('/api/contacts', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token()}` },
        body: JSON.stringify(body),
      });
      const answer = await res.json().catch(() => ({}));
      if (res.status === 201 && answer.contact) {
        const focused = card.contains(document.activeElement);
        box.replaceChildren();
        onSaved(answer.contact);
        // The form is gone: the focus goes to the saved contact's name rather than back to the page's top.
        if (focused) {
          const name = card.querySelector('.name');
          name.tabIndex = -1;
          name.focus();
        }
        return;
      }
      const { field, message } = describeFailure(res.status, answer);
      showErrors(form, field, message);
    } catch {
      showErrors(form, null, 'The bridge cannot be reached; try again.');
    } finally {
      save.disabled = false;
    }
  });
  box.append(form);
  form.querySelector('input')?.focus();
}

/**
 * Called after app.js rendered a card's contact: `pick` is the contact shown (null: unknown caller), with
 * `full` the whole contact when it is the event's best match. `onSaved(contact)` shows a saved contact.
 */
export function contactExtras(card, event, pick, onSaved) {
  let extras = card.querySelector('.cf-extras');
  if (!extras) {
    extras = el('div', { className: 'cf-extras' });
    const note = el('p', { className: 'cf-suffix note' });
    const open = el('button', { type: 'button', className: 'cf-open' }, 'Save contact');
    const box = el('div', { className: 'cf-box' });
    extras.append(note, open, box);
    card.querySelector('.chosen-note').after(extras);
    open.addEventListener('click', () => {
      open.hidden = true;
      void openForm(card, event, (contact) => {
        card.dataset.saved = 'true';
        onSaved(contact);
      });
    });
  }
  const match = pick?.full?.match ?? event.data.otherContacts?.find((o) => o.phonebookId === pick?.phonebookId)?.match;
  const note = extras.querySelector('.cf-suffix');
  note.hidden = match !== 'suffix';
  note.textContent = match === 'suffix' ? 'Matched on the last digits of the number: check it is the right person.' : '';
  const saved = card.dataset.saved === 'true';
  extras.querySelector('.cf-open').hidden = pick !== null || saved || extras.querySelector('.cf-form') !== null;
  if (pick !== null) extras.querySelector('.cf-box').replaceChildren();
  const savedNote = saved && pick !== null ? 'Saved to the phonebook.' : '';
  if (savedNote) {
    note.hidden = false;
    note.textContent = savedNote;
  }
}
