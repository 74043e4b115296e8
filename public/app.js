// The agent screen-pop page. Everything from the PBX or the phonebook is put in the page as text
// (textContent), never as HTML.
import { connect, tokenExpiry } from '/client.js';

const MAX_CARDS = 4;
const MAX_RECENT = 20;
const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;

let conn = null;
let flashTimer = null;
const baseTitle = document.title;

function setStatus(text, cls) {
  const el = $('status');
  el.textContent = text;
  el.className = `status ${cls}`;
}

function showLogin(message) {
  conn?.close();
  conn = null;
  store.removeItem('token');
  store.removeItem('extension');
  $('live-view').hidden = true;
  $('login-view').hidden = false;
  $('logout').hidden = true;
  $('notify').hidden = true;
  $('who').textContent = '';
  $('login-note').textContent = message ?? '';
  setStatus('signed out', 'signed-out');
}

/** "+919824740472" -> "+91 98247 40472"-ish grouping for people; the raw number stays in the title attribute. */
function formatNumber(n) {
  if (!n) return '';
  const m = /^\+(1)(\d{3})(\d{3})(\d{4})$/.exec(n);
  if (m) return `+1 (${m[2]}) ${m[3]}-${m[4]}`;
  const intl = /^\+(\d{1,3})(\d+)$/.exec(n);
  if (intl) return `+${intl[1]} ${intl[2].replace(/(\d{5})(?=\d)/g, '$1 ')}`;
  return n;
}

function flashTitle(text) {
  clearInterval(flashTimer);
  let on = false;
  let n = 0;
  flashTimer = setInterval(() => {
    on = !on;
    document.title = on ? `☎ ${text}` : baseTitle;
    if (++n > 20) stopFlash();
  }, 700);
}
function stopFlash() {
  clearInterval(flashTimer);
  document.title = baseTitle;
}

function notify(title, body) {
  if (!('Notification' in window) || Notification.permission !== 'granted' || document.hasFocus()) return;
  try {
    new Notification(title, { body, tag: 'screen-pop' });
  } catch {
    // Some browsers only allow notifications from a service worker; the card is enough.
  }
}

function fillContact(card, contact, event) {
  const call = event.data.call;
  const name = contact?.displayName || [contact?.firstName, contact?.lastName].filter(Boolean).join(' ');
  card.classList.toggle('unknown', !contact);
  card.querySelector('.name').textContent = contact ? name || 'Unnamed contact' : call.fromName ? `Unknown caller (${call.fromName})` : 'Unknown caller';
  const company = contact?.customFields?.Company;
  card.querySelector('.company').textContent = company ?? '';
  const dl = card.querySelector('.fields');
  dl.replaceChildren();
  const rows = contact
    ? [
        ['Email', contact.email],
        ['Phone', contact.phoneNumber],
        ['Cell', contact.cellNumber],
        ...Object.entries(contact.customFields ?? {}).filter(([k]) => k !== 'Company'),
      ]
    : [];
  for (const [k, v] of rows) {
    if (!v) continue;
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = String(v);
    dl.append(dt, dd);
  }
}

function addCard(event) {
  const { call, contact, otherContacts, links } = event.data;
  const card = $('card-template').content.firstElementChild.cloneNode(true);
  card.dataset.eventId = event.id;
  if (call.id) card.dataset.callId = call.id;
  card.querySelector('.state').textContent = `${event.type.replace('call.', '')} · ext ${event.data.extension}${call.direction === 'internal' ? ' · internal' : ''}`;
  const number = card.querySelector('.number');
  number.textContent = formatNumber(call.from);
  number.title = call.fromRaw;
  fillContact(card, contact, event);
  if (otherContacts.length > 0) {
    const others = card.querySelector('.others');
    others.hidden = false;
    const ul = others.querySelector('ul');
    for (const other of otherContacts) {
      const li = document.createElement('li');
      li.textContent = other.displayName;
      ul.append(li);
    }
  }
  if (links?.crm) {
    const a = card.querySelector('.crm');
    a.href = links.crm;
    a.hidden = false;
  }
  card.querySelector('.dismiss').addEventListener('click', () => {
    card.remove();
    updateEmpty();
    stopFlash();
  });
  const cards = $('cards');
  cards.prepend(card);
  const all = cards.querySelectorAll('.card');
  for (let i = MAX_CARDS; i < all.length; i++) all[i].remove();
  updateEmpty();
}

function updateEmpty() {
  $('no-calls').hidden = $('cards').querySelector('.card') !== null;
}

function addRecent(event) {
  const { call, contact } = event.data;
  const li = document.createElement('li');
  const time = new Date(event.timestamp).toLocaleTimeString();
  li.textContent = `${time} · ${contact?.displayName ?? 'Unknown caller'} · ${formatNumber(call.from)} · ${event.type.replace('call.', '')}`;
  $('recent').prepend(li);
  while ($('recent').children.length > MAX_RECENT) $('recent').lastElementChild.remove();
}

function onEvent(event) {
  store.setItem('lastEventId', event.id);
  addRecent(event);
  if (event.type === 'call.ringing') {
    addCard(event);
    const who = event.data.contact?.displayName ?? formatNumber(event.data.call.from);
    flashTitle(who);
    notify(`Incoming call: ${who}`, event.data.contact?.customFields?.Company ?? formatNumber(event.data.call.from));
  } else {
    // answered / ended: the ringing card for that call is no longer news.
    for (const card of $('cards').querySelectorAll('.card')) {
      if (event.data.call.id && card.dataset.callId === event.data.call.id) card.remove();
    }
    stopFlash();
    updateEmpty();
  }
}

function startLive(token, extension) {
  $('login-view').hidden = true;
  $('live-view').hidden = false;
  $('logout').hidden = false;
  $('notify').hidden = !('Notification' in window) || Notification.permission !== 'default';
  $('who').textContent = `Extension ${extension}`;
  conn = connect({
    token,
    lastEventId: store.getItem('lastEventId'),
    onEvent,
    onStatus: (status) => {
      if (status === 'expired') {
        showLogin('Your session has expired. Please sign in again.');
        return;
      }
      if (status === 'connected') setStatus('connected', 'connected');
      else if (status === 'connecting' || status === 'reconnecting') setStatus('reconnecting…', 'reconnecting');
    },
  });
}

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  $('login-note').textContent = '';
  const extension = $('extension').value.trim();
  const password = $('password').value;
  let res;
  try {
    res = await fetch('/api/agents/login', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ extension, password }),
    });
  } catch {
    $('login-error').textContent = 'The bridge cannot be reached. Check your connection.';
    return;
  }
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    $('login-error').textContent =
      res.status === 401 ? 'Wrong extension or password.'
      : res.status === 429 ? 'Too many attempts. Wait a minute and try again.'
      : res.status === 503 ? 'The phone system cannot be reached right now. Try again shortly.'
      : body.message ?? 'Sign-in failed.';
    return;
  }
  $('password').value = '';
  store.setItem('token', body.token);
  store.setItem('extension', body.extension);
  store.removeItem('lastEventId');
  startLive(body.token, body.extension);
});

$('logout').addEventListener('click', async () => {
  const token = store.getItem('token');
  showLogin('You are signed out.');
  if (token) await fetch('/api/agents/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
});

$('notify').addEventListener('click', async () => {
  await Notification.requestPermission();
  $('notify').hidden = Notification.permission !== 'default';
});

$('simulate').addEventListener('click', async () => {
  const token = store.getItem('token');
  const res = await fetch('/api/demo/ring', { method: 'POST', headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' }, body: '{}' });
  if (res.status === 401) showLogin('Your session has expired. Please sign in again.');
});

fetch('/api/demo')
  .then((r) => {
    if (r.ok) {
      $('demo').hidden = false;
      $('login-note').textContent = 'Demo mode: the sign-in details are printed in the bridge log.';
    }
  })
  .catch(() => {});

const saved = store.getItem('token');
const exp = saved ? tokenExpiry(saved) : null;
if (saved && exp && exp > Date.now()) startLive(saved, store.getItem('extension') ?? '');
else showLogin(saved ? 'Your session has expired. Please sign in again.' : '');
