// The page follows each call after it rang (docs/calls.md): the answering agent's card shows "On call" with a
// running timer, then the duration; the other agents' cards say who answered, stop ringing and leave; a missed
// call shows "Missed" and counts until seen; recent calls show the final state and duration and are read back
// from the journal after a reload; the pop lists recent calls with this caller. Text only, never HTML.
import { formatNumber } from '/format.js';
import { noteServerDate, serverNow } from '/server-clock.js';

/** How long another agent's card stays after someone else answered, or after a call ended. */
const LEAVE_AFTER_MS = 4000;
const HISTORY_LIMIT = 5;

const $ = (id) => document.getElementById(id);
const store = window.sessionStorage;
const timers = new WeakMap();

export function duration(seconds) {
  if (typeof seconds !== 'number' || !Number.isFinite(seconds) || seconds < 0) return '';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${m}:${pad(s % 60)}`;
}

function contactName(contact) {
  if (!contact) return 'Unknown caller';
  return contact.displayName || [contact.firstName, contact.lastName].filter(Boolean).join(' ') || 'Unnamed contact';
}

function ownExtension() {
  return store.getItem('extension') ?? '';
}

async function agentGet(path) {
  const token = store.getItem('token');
  if (!token) return null;
  try {
    const res = await fetch(path, { headers: { Authorization: `Bearer ${token}` } });
    noteServerDate(res);
    const body = res.ok ? await res.json() : null;
    // Signed out (or in as someone else) while the answer was on its way: it is not this agent's.
    return store.getItem('token') === token ? body : null;
  } catch {
    return null;
  }
}

// ---- the card -------------------------------------------------------------------------------------------

function statusLine(card) {
  let line = card.querySelector('.call-status');
  if (!line) {
    line = document.createElement('p');
    line.className = 'call-status';
    (card.querySelector('.via') ?? card.querySelector('.number')).after(line);
  }
  return line;
}

/** "via Sales (5000)": the ring group or queue the call came through, from the first event that says it. */
export function showVia(card, event) {
  const via = event.data?.via;
  if (!card || !via || typeof via !== 'object' || typeof via.number !== 'string') return;
  let line = card.querySelector('.via');
  if (!line) {
    line = document.createElement('p');
    line.className = 'via';
    card.querySelector('.number').after(line);
  }
  const name = typeof via.name === 'string' && via.name !== '' ? via.name : '';
  line.textContent = name ? `via ${name} (${via.number})` : `via ${via.number}`;
  line.title = via.kind === 'queue' ? 'Queue' : 'Ring group';
}

function stopTimer(card) {
  clearInterval(timers.get(card));
  timers.delete(card);
  card.querySelector('.call-status')?.removeAttribute('aria-live');
}

function setState(card, label, kind) {
  const state = card.querySelector('.state');
  state.textContent = label;
  state.dataset.state = kind;
}

function leaveSoon(card, remove) {
  if (card.dataset.leaving) return;
  card.dataset.leaving = '1';
  setTimeout(() => {
    stopTimer(card);
    if (card.isConnected) remove(card);
  }, LEAVE_AFTER_MS);
}

/** Moves an open card along with the call; `remove` is the page's card removal (it stops the flashing). */
export function followCard(card, event, remove) {
  showVia(card, event);
  const { answeredBy } = event.data;
  const mine = answeredBy && answeredBy === ownExtension();
  if (event.type === 'call.answered') {
    card.classList.remove('ringing');
    if (mine) {
      const started = Date.parse(event.timestamp) || serverNow();
      card.dataset.answeredAt = String(started);
      card.classList.remove('done');
      card.classList.add('on-call');
      setState(card, 'On call', 'on-call');
      const line = statusLine(card);
      const tick = () => (line.textContent = `On call · ${duration((serverNow() - started) / 1000)}`);
      stopTimer(card);
      tick();
      // The cards are a polite live region: a timer in it would be read out every second. The state label
      // ("On call") says it; the ticking line is left out of the announcements until the call ends.
      line.setAttribute('aria-live', 'off');
      timers.set(card, setInterval(tick, 1000));
    } else {
      card.classList.add('done');
      setState(card, `Answered by ${answeredBy}`, 'answered-elsewhere');
      statusLine(card).textContent = `Answered by ${answeredBy}`;
      leaveSoon(card, remove);
    }
  } else if (event.type === 'call.ended') {
    stopTimer(card);
    card.classList.remove('ringing', 'on-call');
    card.classList.add('done');
    const answeredAt = Number(card.dataset.answeredAt || 0);
    const endedAt = Date.parse(event.data.call.endedAt ?? event.timestamp) || serverNow();
    if (mine && answeredAt) {
      setState(card, 'Ended', 'call.ended');
      statusLine(card).textContent = `Call ended · ${duration((endedAt - answeredAt) / 1000)}`;
    } else {
      setState(card, answeredBy ? `Answered by ${answeredBy}` : 'Ended', 'call.ended');
      statusLine(card).textContent = answeredBy ? `Answered by ${answeredBy} · ended` : 'Call ended';
      leaveSoon(card, remove);
    }
  } else if (event.type === 'call.missed') {
    stopTimer(card);
    card.classList.remove('ringing');
    card.classList.add('done', 'missed');
    setState(card, 'Missed', 'call.missed');
    statusLine(card).textContent = 'Missed call';
  }
}

// ---- missed calls ---------------------------------------------------------------------------------------

function missedBadge() {
  let badge = $('missed-count');
  if (!badge) {
    badge = document.createElement('button');
    badge.id = 'missed-count';
    badge.type = 'button';
    badge.hidden = true;
    badge.title = 'Mark missed calls as seen';
    badge.addEventListener('click', () => {
      store.removeItem('missedCalls');
      renderMissed();
    });
    $('who').after(badge);
  }
  return badge;
}

function missedSet() {
  try {
    const v = JSON.parse(store.getItem('missedCalls') ?? '[]');
    return Array.isArray(v) ? v : [];
  } catch {
    return [];
  }
}

function renderMissed() {
  const n = missedSet().length;
  const badge = missedBadge();
  badge.hidden = n === 0;
  badge.textContent = `${n} missed`;
}

/** Every missed call counts, whether its card is open, was dismissed, or never popped (replayed after an absence). */
export function countMissed(event) {
  const id = event.data.call.sessionId ?? event.id;
  const set = missedSet();
  if (!set.includes(id)) set.push(id);
  store.setItem('missedCalls', JSON.stringify(set.slice(-99)));
  renderMissed();
}

export function clearMissed() {
  store.removeItem('missedCalls');
  renderMissed();
}

// ---- recent calls -------------------------------------------------------------------------------------

function outcomeText(entry) {
  const talk = duration(entry.cdr?.talkS);
  if (entry.outcome === 'answered') return `Answered by ${entry.answeredBy}${talk ? ` · ${talk}` : ''}`;
  if (entry.outcome === 'missed') return 'Missed';
  const total = duration(entry.cdr?.durationS);
  return `Ended${total ? ` · ${total}` : ''}`;
}

function outcomeState(entry) {
  return entry.outcome === 'answered' ? 'call.answered' : entry.outcome === 'missed' ? 'call.missed' : 'call.ended';
}

function recentRow(key) {
  return [...$('recent').children].find((el) => el.dataset.key === key) ?? null;
}

function newRecentRow(key, when, contact, from) {
  const li = document.createElement('li');
  li.dataset.key = key;
  const time = document.createElement('time');
  const d = new Date(when);
  time.textContent = Number.isNaN(d.getTime()) ? '' : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit' });
  if (!Number.isNaN(d.getTime())) time.dateTime = d.toISOString();
  const who = document.createElement('span');
  who.className = 'who';
  who.textContent = contactName(contact);
  const number = document.createElement('span');
  number.className = 'num';
  number.textContent = formatNumber(from);
  const badge = document.createElement('span');
  badge.className = 'badge';
  li.append(time, who, number, badge);
  return li;
}

function setRecentOutcome(li, entry) {
  const badge = li.querySelector('.badge');
  badge.textContent = outcomeText(entry);
  badge.dataset.state = outcomeState(entry);
  li.dataset.final = '1';
}

/** Events the page's own recent list does not show as a state: the call's final record and its recording. */
export function isCallRecord(event) {
  return event.type === 'call.completed' || event.type === 'call.recording';
}

/** call.completed: the recent row shows the final state and duration. */
export function followRecent(event, key) {
  const cdr = event.data.cdr;
  const li = recentRow(key);
  if (event.type !== 'call.completed' || !cdr || !li) return;
  // Nobody answered: missed when the call said so, else the PBX could not tell (it ended, answer unknown).
  const before = li.querySelector('.badge')?.dataset.state;
  const outcome = cdr.answeredBy ? 'answered' : before === 'call.missed' ? 'missed' : 'unknown';
  setRecentOutcome(li, { outcome, answeredBy: cdr.answeredBy, cdr });
}

/** After a reload: this agent's last calls from the journal, under what the session already lists. */
export async function loadRecentCalls(max) {
  const body = await agentGet('/api/agents/calls');
  if (!body || !Array.isArray(body.calls)) return;
  for (const entry of body.calls) {
    const key = `session:${entry.sessionId}`;
    let li = recentRow(key);
    if (!li) {
      if ($('recent').children.length >= max) break;
      li = newRecentRow(key, entry.cdr?.startedAt, entry.contact, entry.from);
      $('recent').append(li);
    }
    setRecentOutcome(li, entry);
  }
  $('no-recent').hidden = $('recent').childElementCount > 0;
}

// ---- recent calls with this caller, on the pop ------------------------------------------------------------

export async function showCallerHistory(card, event) {
  const from = event.data.call.from;
  if (!from) return;
  const body = await agentGet(`/api/agents/calls?number=${encodeURIComponent(from)}&limit=${HISTORY_LIMIT + 1}`);
  const calls = (body?.calls ?? []).filter((c) => c.sessionId !== event.data.call.sessionId).slice(0, HISTORY_LIMIT);
  if (calls.length === 0 || !card.isConnected) return;
  const box = document.createElement('div');
  box.className = 'history';
  const title = document.createElement('p');
  title.className = 'others-title';
  title.textContent = 'Recent calls with this caller';
  const ul = document.createElement('ul');
  for (const c of calls) {
    const li = document.createElement('li');
    const d = new Date(c.cdr?.startedAt);
    const when = Number.isNaN(d.getTime()) ? '' : d.toLocaleString([], { day: 'numeric', month: 'short', hour: '2-digit', minute: '2-digit' });
    li.textContent = [when, outcomeText(c)].filter(Boolean).join(' · ');
    ul.append(li);
  }
  box.append(title, ul);
  card.querySelector('.actions').before(box);
}

renderMissed();
