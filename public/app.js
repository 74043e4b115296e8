// The agent screen-pop page. Everything from the PBX or the phonebook is put in the page as text
// (textContent, attributes set one by one), never as HTML.
import { connect, tokenExpiry, tokenIssuedAt } from '/client.js';
import { formatNumber } from '/format.js';
import { contactExtras } from '/contact-form.js';
import { clearMissed, countMissed, followCard, followRecent, isCallRecord, loadRecentCalls, showCallerHistory, showVia } from '/calls.js';
import { noteServerDate, serverNow } from '/server-clock.js';

const MAX_CARDS = 3;
const MAX_RECENT = 15;
/** A ringing call that heard nothing more after this long has stopped ringing, as far as the page can tell. */
const RING_TIMEOUT_MS = 45_000;
/** Events replayed after a long absence are listed under recent calls, not popped. */
const STALE_AFTER_MS = 5 * 60_000;
const EXPIRED_MESSAGE = 'Your session has expired. Please sign in again.';
const REVOKED_MESSAGE = 'You were signed out in another tab or window. Sign in again to receive calls.';
/**
 * sessionStorage: the extension whose session ran out. Its cards, recent calls and last event id are kept, so
 * signing in again as that extension resumes where the page stopped (docs/agents.md).
 */
const LAPSED = 'lapsedExtension';
/** How long before a session ends the page offers to sign in again (at most a quarter of the session). */
const WARN_BEFORE_MS = 5 * 60_000;

const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;
const baseTitle = document.title;

let conn = null;
let flashTimer = null;
let flashText = '';
let demoMode = false;
let warnTimer = null;

// ---- connection state ---------------------------------------------------------------------------------

function setStatus(text, cls) {
  const el = $('status');
  el.textContent = text;
  el.className = `status ${cls}`;
}

/** Forgets the signed-in agent: their token, cards, recent calls, missed count and where to resume. */
function clearSession() {
  conn?.close();
  conn = null;
  stopSessionWarning();
  for (const key of ['token', 'extension', 'lastEventId', OPEN_CARDS, LAPSED]) store.removeItem(key);
  stopFlash();
  $('cards').querySelectorAll('.card').forEach((c) => c.remove());
  $('recent').replaceChildren();
  clearMissed();
  updateEmpty();
}

/** The sign-in form, with `message` above it. */
function showForm(message) {
  $('login-view').hidden = false;
  $('logout').hidden = true;
  $('notify').hidden = true;
  $('demo').hidden = true;
  $('login-note').textContent = message ?? (demoMode ? 'Demo mode: the sign-in details are printed in the bridge log.' : '');
  $('login-note').classList.toggle('warning', message === EXPIRED_MESSAGE || message === REVOKED_MESSAGE);
  setStatus('signed out', 'signed-out');
}

/** Signed out on purpose (here or in another tab of the same session): nothing of the agent stays on screen. */
function showLogin(message) {
  clearSession();
  document.body.classList.remove('lapsed');
  $('live-view').hidden = true;
  $('who').textContent = '';
  showForm(message);
  $('extension').focus();
}

/**
 * The session ran out, perhaps in the middle of a call: the cards stay where they are, marked as not live, with
 * the sign-in form above them (the extension filled in), until the agent dismisses them or signs in again. The
 * last event id and the open cards stay in sessionStorage, so a reload keeps this too.
 */
function sessionLapsed() {
  conn?.close();
  conn = null;
  stopSessionWarning();
  const extension = store.getItem('extension') ?? '';
  store.removeItem('token');
  store.setItem(LAPSED, extension);
  stopFlash();
  const cards = [...$('cards').querySelectorAll('.card')];
  for (const card of cards) markNotLive(card);
  document.body.classList.toggle('lapsed', cards.length > 0);
  $('live-view').hidden = cards.length === 0;
  showForm(EXPIRED_MESSAGE);
  $('who').textContent = extension ? `Extension ${extension}` : '';
  $('extension').value = extension;
  // Not away from a card the agent is working in (its Save contact form); else where they type next.
  if (!$('cards').contains(document.activeElement)) (extension ? $('password') : $('extension')).focus();
}

function markNotLive(card) {
  if (card.classList.contains('not-live')) return;
  card.classList.add('not-live');
  const note = document.createElement('p');
  note.className = 'live-note';
  note.textContent = 'Not live: your session ended. Sign in again to follow this call.';
  card.querySelector('.card-head').after(note);
}

function markLive() {
  for (const card of $('cards').querySelectorAll('.card.not-live')) {
    card.classList.remove('not-live');
    card.querySelector('.live-note')?.remove();
  }
  const ringing = ringingCards()[0];
  if (ringing) startFlash(ringing.querySelector('.name')?.textContent ?? '');
}

// ---- ahead of the session's end ------------------------------------------------------------------------
// The contract has no route that renews a token without the password, so the page cannot renew a session by
// itself: shortly before it ends it offers to sign in again, and doing so swaps the connection without a gap
// (the new one resumes from the last event id). See docs/agents.md.

function stopSessionWarning() {
  clearTimeout(warnTimer);
  warnTimer = null;
  $('session-warning').hidden = true;
  document.body.classList.remove('renewing');
}

/** Also called again once connected: by then the page has heard the bridge's clock (a PC clock may be hours off). */
function scheduleSessionWarning(token) {
  clearTimeout(warnTimer);
  $('session-warning').hidden = true;
  const exp = tokenExpiry(token);
  if (exp === null) return;
  const iat = tokenIssuedAt(token);
  const lead = Math.min(WARN_BEFORE_MS, iat === null ? WARN_BEFORE_MS : (exp - iat) / 4);
  const check = () => {
    // On the bridge's clock, which decides when the token runs out; in steps a timer can hold (~24 days).
    const wait = exp - lead - serverNow();
    if (wait > 0) warnTimer = setTimeout(check, Math.min(wait, 2_000_000_000));
    else showSessionWarning(exp);
  };
  check();
}

function showSessionWarning(exp) {
  const at = new Date(exp).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  $('session-warning-text').textContent = `Your session ends at ${at}.`;
  $('session-warning').hidden = false;
}

$('renew').addEventListener('click', () => {
  document.body.classList.add('renewing');
  $('login-view').hidden = false;
  $('login-note').textContent = 'Sign in again to keep receiving calls without a break; calls keep popping meanwhile.';
  $('login-note').classList.add('warning');
  $('extension').value = store.getItem('extension') ?? '';
  $('password').focus();
});

function startLive(token, extension) {
  document.body.classList.remove('lapsed');
  store.removeItem(LAPSED);
  $('login-view').hidden = true;
  $('live-view').hidden = false;
  $('logout').hidden = false;
  $('demo').hidden = !demoMode;
  $('notify').hidden = !('Notification' in window) || Notification.permission !== 'default';
  $('who').textContent = extension ? `Extension ${extension}` : '';
  updateEmpty();
  loadRecentCalls(MAX_RECENT);
  // Signed in again after the session ran out: the kept cards are on screen already.
  if (!$('cards').querySelector('.card')) restoreOpenCards();
  stopSessionWarning();
  scheduleSessionWarning(token);
  conn = connect({
    token,
    lastEventId: store.getItem('lastEventId'),
    onEvent,
    onStatus: (status, detail) => {
      // Revoked is a sign-out (in another tab of this session); run out is not: the cards stay.
      if (status === 'expired') {
        if (detail?.reason === 'revoked') showLogin(REVOKED_MESSAGE);
        else sessionLapsed();
      } else if (status === 'connected') {
        // Where a resume starts, also before the first event (a reload then resumes too).
        if (detail?.lastEventId) store.setItem('lastEventId', detail.lastEventId);
        else store.removeItem('lastEventId');
        setStatus('connected', 'connected');
        markLive();
        scheduleSessionWarning(token);
      }
      else if (status === 'connecting') setStatus('connecting…', 'reconnecting');
      else if (status === 'reconnecting') setStatus('reconnecting…', 'reconnecting');
    },
  });
}

// ---- title flashing and desktop notifications -----------------------------------------------------------

function ringingCards() {
  return $('cards').querySelectorAll('.card.ringing');
}

function startFlash(text) {
  flashText = text;
  if (flashTimer) return;
  let on = false;
  flashTimer = setInterval(() => {
    if (ringingCards().length === 0) return stopFlash();
    on = !on;
    document.title = on ? `☎ ${flashText}` : baseTitle;
  }, 800);
}

function stopFlash() {
  clearInterval(flashTimer);
  flashTimer = null;
  document.title = baseTitle;
}

/** `key`: the call's. One tag per call, so a second call (here, or in another tab) does not replace the first's. */
function notify(title, body, key) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  if (document.visibilityState === 'visible' && document.hasFocus()) return; // the card is enough
  try {
    const n = new Notification(title, { body, tag: `screen-pop ${key}` });
    n.onclick = () => {
      window.focus();
      n.close();
    };
  } catch {
    // Some browsers only show notifications from a service worker; the card and the title still work.
  }
}

// ---- cards --------------------------------------------------------------------------------------------

function contactName(contact) {
  if (!contact) return '';
  const name = contact.displayName || [contact.firstName, contact.lastName].filter(Boolean).join(' ');
  return name || 'Unnamed contact';
}

/** The CRM link is used only when it is an absolute http(s) URL: never a `javascript:` or other scheme in an href. */
function safeHttpUrl(value) {
  if (typeof value !== 'string') return null;
  try {
    const u = new URL(value);
    return u.protocol === 'http:' || u.protocol === 'https:' ? u.href : null;
  } catch {
    return null;
  }
}

const STATE_LABELS = {
  'call.ringing': 'Ringing',
  'call.answered': 'Answered',
  'call.ended': 'Ended',
  'call.missed': 'Missed',
  'call.completed': 'Completed',
};
const stateLabel = (type) => STATE_LABELS[type] ?? String(type).replace(/^call\./, '');

function timeOf(event) {
  const d = new Date(event.timestamp);
  return Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
}

function callKey(event) {
  const call = event.data?.call;
  if (call?.sessionId) return `session:${call.sessionId}`;
  return call?.id ? `call:${call.id}` : `event:${event.id}`;
}

function findCard(key) {
  for (const card of $('cards').querySelectorAll('.card')) if (card.dataset.key === key) return card;
  return null;
}

/** Shows one contact on the card: the best match in full, or one picked from the other contacts (name only). */
function renderContact(card, event, candidates, chosen) {
  const { call } = event.data;
  const pick = candidates[chosen] ?? null;
  const contact = pick?.full ?? null;
  card.classList.toggle('unknown', candidates.length === 0);
  const name = card.querySelector('.name');
  name.textContent = !pick ? 'Unknown caller' : contact ? contactName(contact) : pick.displayName || 'Unnamed contact';
  // Three cards mean three Dismiss buttons: a screen reader says whose call each one dismisses.
  card.querySelector('.dismiss').setAttribute('aria-label', `Dismiss the call from ${name.textContent}`);
  // The PBX's caller ID name, when it says something the phonebook does not.
  const callerId = card.querySelector('.caller-id');
  const showCallerId = Boolean(call.fromName) && !pick;
  callerId.hidden = !showCallerId;
  callerId.textContent = showCallerId ? `Caller ID: ${call.fromName}` : '';

  const company = contact?.customFields?.Company;
  card.querySelector('.company').textContent = company ? String(company) : '';
  card.querySelector('.company').hidden = !company;

  const dl = card.querySelector('.fields');
  dl.replaceChildren();
  const rows = contact
    ? [
        ['Email', contact.email],
        ['Phone', contact.phoneNumber],
        ['Cell', contact.cellNumber],
        ['Extension', contact.extension],
        ...Object.entries(contact.customFields ?? {}).filter(([k]) => k !== 'Company'),
      ]
    : [];
  for (const [k, v] of rows) {
    if (v === undefined || v === null || v === '') continue;
    const dt = document.createElement('dt');
    dt.textContent = k;
    const dd = document.createElement('dd');
    dd.textContent = String(v);
    dl.append(dt, dd);
  }
  dl.hidden = dl.childElementCount === 0;

  const note = card.querySelector('.chosen-note');
  note.hidden = !(pick && !contact);
  note.textContent = pick && !contact ? `Chosen from ${candidates.length} contacts with this number · phonebook ID ${pick.phonebookId}` : '';

  const others = card.querySelector('.others');
  const ul = others.querySelector('ul');
  ul.replaceChildren();
  candidates.forEach((candidate, i) => {
    if (i === chosen) return;
    const li = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'other';
    button.textContent = candidate.displayName || 'Unnamed contact';
    button.title = i === 0 ? 'Best match: show in full' : 'Show this contact instead';
    button.addEventListener('click', () => renderContact(card, event, candidates, i));
    li.append(button);
    ul.append(li);
  });
  others.hidden = ul.childElementCount === 0;
  // The last-digits note, and Save contact on an unknown caller's card (contact-form.js).
  contactExtras(card, event, pick, (saved) => renderContact(card, event, [{ phonebookId: saved.phonebookId, displayName: contactName(saved), full: saved }], 0));
}

function setCardState(card, event) {
  const ringing = event.type === 'call.ringing';
  card.classList.toggle('ringing', ringing);
  card.classList.toggle('done', !ringing && event.type !== 'call.answered');
  const state = card.querySelector('.state');
  state.textContent = stateLabel(event.type);
  state.dataset.state = event.type;
  clearTimeout(Number(card.dataset.ringTimer || 0));
  if (ringing) {
    card.dataset.ringTimer = String(
      setTimeout(() => {
        card.classList.remove('ringing');
        if (ringingCards().length === 0) stopFlash();
      }, RING_TIMEOUT_MS),
    );
  }
}

function addCard(event) {
  const { call, contact, otherContacts, links } = event.data;
  const card = $('card-template').content.firstElementChild.cloneNode(true);
  card.dataset.key = callKey(event);
  card.dataset.eventId = event.id;
  const meta = [timeOf(event), `ext ${event.data.extension}`];
  if (call.direction === 'internal') meta.push('internal');
  card.querySelector('.meta').textContent = meta.filter(Boolean).join(' · ');
  const number = card.querySelector('.number');
  number.textContent = formatNumber(call.from) || 'No number';
  if (call.fromRaw && call.fromRaw !== call.from) number.title = `As received: ${call.fromRaw}`;

  const candidates = [];
  if (contact) candidates.push({ phonebookId: contact.phonebookId, displayName: contactName(contact), full: contact });
  for (const other of Array.isArray(otherContacts) ? otherContacts : []) {
    candidates.push({ phonebookId: other.phonebookId, displayName: other.displayName, full: null });
  }
  renderContact(card, event, candidates, 0);

  const crm = safeHttpUrl(links?.crm);
  if (crm) {
    const a = card.querySelector('.crm');
    a.href = crm;
    a.hidden = false;
  }
  setCardState(card, event);
  card.querySelector('.dismiss').addEventListener('click', () => removeCard(card));

  const cards = $('cards');
  cards.prepend(card);
  const all = cards.querySelectorAll('.card');
  for (let i = MAX_CARDS; i < all.length; i++) removeCard(all[i]);
  updateEmpty();
}

function removeCard(card) {
  clearTimeout(Number(card.dataset.ringTimer || 0));
  // A keyboard user whose focus was on the card (its Dismiss button, its form) keeps their place on the
  // cards instead of being sent back to the top of the page.
  if (card.contains(document.activeElement)) {
    const next = card.nextElementSibling?.closest('.card') ?? card.previousElementSibling?.closest('.card');
    (next?.querySelector('.dismiss') ?? $('cards')).focus();
  }
  card.remove();
  keepOpenCards();
  updateEmpty();
  // Signed out with the kept cards all dismissed: only the sign-in form is left (no "a card pops up here").
  if (document.body.classList.contains('lapsed') && !$('cards').querySelector('.card')) {
    document.body.classList.remove('lapsed');
    $('live-view').hidden = true;
    if (!$('login-view').contains(document.activeElement)) $('password').focus();
  }
  if (ringingCards().length === 0) stopFlash();
}

function updateEmpty() {
  $('no-calls').hidden = $('cards').querySelector('.card') !== null;
  $('no-recent').hidden = $('recent').childElementCount > 0;
}

// ---- recent calls -------------------------------------------------------------------------------------

function recordRecent(event, { stale = false } = {}) {
  const { call, contact } = event.data;
  const key = callKey(event);
  let li = [...$('recent').children].find((el) => el.dataset.key === key);
  if (!li) {
    li = document.createElement('li');
    li.dataset.key = key;
    const time = document.createElement('time');
    time.textContent = timeOf(event);
    if (event.timestamp) time.dateTime = event.timestamp;
    const who = document.createElement('span');
    who.className = 'who';
    who.textContent = contact ? contactName(contact) : 'Unknown caller';
    const number = document.createElement('span');
    number.className = 'num';
    number.textContent = formatNumber(call.from);
    const state = document.createElement('span');
    state.className = 'badge';
    li.append(time, who, number, state);
    $('recent').prepend(li);
    while ($('recent').children.length > MAX_RECENT) $('recent').lastElementChild.remove();
  }
  const badge = li.querySelector('.badge');
  const label = recentLabel(event);
  badge.textContent = stale ? `${label} · while you were away` : label;
  badge.dataset.state = event.type === 'call.ended' && event.data.answeredBy ? 'call.answered' : event.type;
  updateEmpty();
}

/** What became of the call, as the journal says it after a reload: who answered stays said once the card left. */
function recentLabel(event) {
  const by = typeof event.data.answeredBy === 'string' && event.data.answeredBy !== '' ? event.data.answeredBy : null;
  if (by && event.type === 'call.answered') return `Answered by ${by}`;
  if (by && event.type === 'call.ended') return `Answered by ${by} · ended`;
  return stateLabel(event.type);
}

// ---- events -------------------------------------------------------------------------------------------

function onEvent(event) {
  store.setItem('lastEventId', event.id);
  showEvent(event, { restored: false });
  keepOpenCards(event);
}

/** `restored`: an event of a card that was open before a reload, shown again (no notification, never stale). */
function showEvent(event, { restored }) {
  if (!event.data?.call) return;
  // On the bridge's clock: a PC whose clock is ahead would otherwise take every live call for an old one.
  const age = serverNow() - Date.parse(event.timestamp);
  const stale = !restored && Number.isFinite(age) && age > STALE_AFTER_MS;
  const key = callKey(event);
  if (isCallRecord(event)) followRecent(event, key);
  else recordRecent(event, { stale });
  const existing = findCard(key);
  if (event.type === 'call.ringing') {
    if (stale) return;
    if (existing) {
      setCardState(existing, event); // the same call ringing again: no second card
      return;
    }
    addCard(event);
    showVia(findCard(key), event);
    showCallerHistory(findCard(key), event);
    const who = event.data.contact ? contactName(event.data.contact) : formatNumber(event.data.call.from) || 'Unknown caller';
    startFlash(who);
    const company = event.data.contact?.customFields?.Company;
    if (!restored) notify(`Incoming call: ${who}`, [company, formatNumber(event.data.call.from)].filter(Boolean).join(' · '), key);
    return;
  }
  // answered / ended / missed / completed: the card stays (it is still useful) but no longer rings.
  // A card shown again after a reload was counted (or seen) already.
  if (event.type === 'call.missed' && !restored) countMissed(event);
  if (existing) showVia(existing, event); // from the call log's row, only call.completed may know the group
  if (existing && !isCallRecord(event)) {
    setCardState(existing, event);
    followCard(existing, event, removeCard);
  }
  if (ringingCards().length === 0) stopFlash();
}

// ---- open cards across a reload ------------------------------------------------------------------------
// The resume after a reload starts after the last event seen, so a call that was ringing (or on) before it
// would not come back: the events of the open cards are kept in sessionStorage and shown again first.

const OPEN_CARDS = 'openCardEvents';

function keptEvents() {
  try {
    const v = JSON.parse(store.getItem(OPEN_CARDS) ?? '[]');
    return Array.isArray(v) ? v.filter((e) => e && typeof e === 'object' && typeof e.id === 'string') : [];
  } catch {
    return [];
  }
}

/** Keeps `event` (if given) and drops the events of calls no longer on a card. */
function keepOpenCards(event) {
  const open = new Set([...$('cards').querySelectorAll('.card')].map((c) => c.dataset.key));
  const seen = new Set();
  const events = (event ? [...keptEvents(), event] : keptEvents()).filter((e) => {
    if (seen.has(e.id) || !open.has(callKey(e))) return false;
    seen.add(e.id);
    return true;
  });
  if (events.length > 0) store.setItem(OPEN_CARDS, JSON.stringify(events));
  else store.removeItem(OPEN_CARDS);
}

function restoreOpenCards() {
  for (const event of keptEvents()) showEvent(event, { restored: true });
  keepOpenCards();
}

// ---- controls -----------------------------------------------------------------------------------------

$('login-form').addEventListener('submit', async (e) => {
  e.preventDefault();
  $('login-error').textContent = '';
  const extension = $('extension').value.trim();
  const password = $('password').value;
  const submit = $('login-submit');
  submit.disabled = true;
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
  } finally {
    submit.disabled = false;
  }
  noteServerDate(res);
  const body = await res.json().catch(() => ({}));
  if (!res.ok) {
    $('login-error').textContent =
      res.status === 401 ? 'Wrong extension or password.'
      : res.status === 429 ? 'Too many attempts. Wait a minute and try again.'
      : res.status === 503 ? 'The phone system cannot be reached right now. Try again shortly.'
      : res.status === 400 ? 'Enter an extension number and its web password.'
      : 'Sign-in failed. Try again.';
    return;
  }
  $('password').value = '';
  $('login-note').textContent = '';
  // The same extension signing in again (its session ran out, or is about to: the warning) resumes from the
  // last event the page saw, so nothing is missed or shown twice; the old connection, if any, is swapped.
  // Anyone else starts afresh and never sees the previous agent's calls.
  const resume = store.getItem(LAPSED) === body.extension || (conn !== null && store.getItem('extension') === body.extension);
  if (resume) {
    conn?.close();
    conn = null;
  } else clearSession();
  store.setItem('token', body.token);
  store.setItem('extension', body.extension);
  startLive(body.token, body.extension);
  // Keyboard and screen-reader users land on the calls, told politely where they are.
  $('calls-heading').focus();
  announce(resume ? `Signed in again as extension ${body.extension}. Calls that rang meanwhile are shown.` : `Signed in as extension ${body.extension}.`);
});

function announce(text) {
  $('announce').textContent = text;
}

$('logout').addEventListener('click', async () => {
  const token = store.getItem('token');
  showLogin('You are signed out.');
  if (token) await fetch('/api/agents/logout', { method: 'POST', headers: { Authorization: `Bearer ${token}` } }).catch(() => {});
});

$('notify').addEventListener('click', async () => {
  // Asked on this click only, never on load.
  try {
    await Notification.requestPermission();
  } finally {
    $('notify').hidden = Notification.permission !== 'default';
  }
});

$('simulate').addEventListener('click', async () => {
  const token = store.getItem('token');
  const button = $('simulate');
  const note = $('demo-note');
  button.disabled = true;
  try {
    const res = await fetch('/api/demo/ring', {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: '{}',
    });
    if (res.status === 401) return sessionLapsed();
    const body = await res.json().catch(() => ({}));
    note.textContent = res.ok && body.delivered
      ? `Ringing your extension from ${body.from}. ${body.outcome === 'missed' ? 'Nobody will answer this one.' : 'It is answered in a few seconds.'}`
      : `The simulator could not ring your extension${body.reason ? ` (${body.reason})` : ''}.`;
  } catch {
    note.textContent = 'The bridge cannot be reached.';
  } finally {
    button.disabled = false;
  }
});

// ---- start --------------------------------------------------------------------------------------------

fetch('/api/demo')
  .then((r) => {
    noteServerDate(r);
    // Now the bridge's clock is known: when the session's end warning is due is decided on it.
    const token = store.getItem('token');
    if (token && conn) scheduleSessionWarning(token);
    if (!r.ok) return;
    demoMode = true;
    $('demo').hidden = !$('login-view').hidden; // only while signed in
    if (!$('login-view').hidden && !$('login-note').textContent) {
      $('login-note').textContent = 'Demo mode: the sign-in details are printed in the bridge log.';
    }
  })
  .catch(() => {});

// A saved token is tried even when this PC's clock says it ran out: the clock may be ahead of the bridge's,
// and client.js asks the bridge, which answers 'expired' (the sign-in form) when it did run out.
const saved = store.getItem('token');
if (saved) startLive(saved, store.getItem('extension') ?? '');
else if (store.getItem(LAPSED) !== null) {
  // Reloaded after the session ran out: the kept cards come back, not live, under the sign-in form.
  restoreOpenCards();
  sessionLapsed();
} else showLogin();
