// The watch-event queue: batched to POST /api/events every few seconds and when the page is hidden.
// A batch that fails for a transient reason is resent as the same batch (same client ids), which the
// server stores once, so retrying is always safe.
//
// Leaving a page hands its last events to the browser in keepalive requests, and the browser does not always send
// them: Chromium was seen dropping both of a leaving page's requests in 4 of 57 test runs (they never reached the
// server). So the leaving page also writes them to localStorage, under the viewer's id, and the next page this
// viewer opens on the site sends them again (`deliverLeftovers`); whatever arrived twice is counted once.
import { clientId } from './api.js';

const ENDPOINT = '/api/events';
const FLUSH_MS = 5000;
const BATCH = 100; // keeps each request well under the 64 KiB keepalive budget
const MAX_QUEUED = 2000;
const STORE_PREFIX = 'sovereel.events.';
// The server refuses a batch holding an event older than 7 days; older leftovers are dropped, not sent.
const MAX_LEFTOVER_AGE_MS = 6 * 86400 * 1000;
let signedOut = false; // set on sign-out: nothing more is stored or sent for the viewer who left
const queues = new Set(); // this page's queues, flushed before signing out

export class EventQueue {
  constructor({ endpoint = ENDPOINT, flushMs = FLUSH_MS, owner = null } = {}) {
    this.endpoint = endpoint;
    this.owner = owner; // the signed-in viewer's id: whose leftovers these are
    this.pending = [];
    this.retry = null; // the batch that failed, resent unchanged before anything else
    this.inFlight = false;
    this.disabled = false;
    this.failures = 0;
    this.sent = 0;
    // Callbacks that add last reports before an exit flush; called with 'hidden' (tab hidden) or 'pagehide'.
    this.beforeExit = [];
    this.timer = setInterval(() => this.flush(), flushMs);
    const onHide = (why) => {
      for (const fn of this.beforeExit) fn(why);
      this.flush({ leaving: true });
    };
    document.addEventListener('visibilitychange', () => {
      if (document.visibilityState === 'hidden') onHide('hidden');
    });
    window.addEventListener('pagehide', () => onHide('pagehide'));
    queues.add(this);
  }

  push(kind, videoId, extra = {}) {
    if (this.disabled) return null;
    const event = { client_id: clientId(), kind, video_id: videoId, ts: Date.now() };
    for (const [key, value] of Object.entries(extra)) {
      if (value !== null && value !== undefined) event[key] = value;
    }
    this.pending.push(event);
    if (this.pending.length > MAX_QUEUED) this.pending.splice(0, this.pending.length - MAX_QUEUED);
    return event;
  }

  async flush({ leaving = false } = {}) {
    if (this.disabled || signedOut) return;
    if (leaving) {
      this.flushOnExit();
      return;
    }
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      while (!this.disabled && (this.retry || this.pending.length)) {
        const batch = this.retry || this.pending.splice(0, BATCH);
        this.retry = batch;
        const ok = await this.send(batch);
        if (!ok) break;
        this.retry = null;
        this.sent += batch.length;
        if (this.owner) dropLeftovers(this.owner, batch); // a hidden tab came back: what it stored has arrived
      }
    } finally {
      this.inFlight = false;
    }
  }

  /** Returns true when the batch is done with (stored, or refused for good), false to retry it later. */
  async send(batch) {
    const outcome = await postBatch(this.endpoint, batch);
    if (outcome === 'retry') {
      this.failures += 1;
      return false;
    }
    this.failures = 0;
    if (outcome === 'signed-out') this.disabled = true; // signed out in another tab: nothing more to report
    return true;
  }

  /** The page may be going away: hand everything to the browser in keepalive requests, and keep a copy. */
  flushOnExit() {
    const all = [...(this.retry || []), ...this.pending];
    if (!all.length) return;
    // Not awaited: each request is started here (fetch never throws synchronously; a failure only rejects), and
    // what the browser drops the stored copy below makes up for.
    for (let i = 0; i < all.length; i += BATCH) postBatch(this.endpoint, all.slice(i, i + BATCH)).catch(() => {});
    // Keep them queued: if the page survives (a hidden tab comes back), the next flush resends them and
    // the server counts the repeats as duplicates. If it does not, the next page sends the stored copy.
    this.retry = null;
    this.pending = all;
    if (this.owner) storeLeftovers(this.owner, all);
  }
}

/** POST one batch: 'stored', 'refused' (for good), 'signed-out' or 'retry' (a transient failure). */
async function postBatch(endpoint, batch) {
  let response;
  try {
    response = await fetch(endpoint, {
      method: 'POST',
      credentials: 'same-origin',
      keepalive: true,
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ events: batch }),
    });
  } catch {
    return 'retry';
  }
  if (response.ok) return 'stored';
  if (response.status === 401) {
    forgetLeftovers();
    return 'signed-out';
  }
  if (response.status === 408 || response.status === 429 || response.status >= 500) return 'retry';
  // 4xx: the batch itself is refused (e.g. a video deleted meanwhile); resending it cannot succeed.
  console.warn('sovereel: watch events refused', response.status, await response.text());
  return 'refused';
}

function storage() {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled (a privacy setting): leaving relies on the keepalive requests alone
  }
}

function readLeftovers(store, key) {
  try {
    const value = JSON.parse(store.getItem(key) || '[]');
    return Array.isArray(value) ? value : [];
  } catch {
    return [];
  }
}

/** Add a leaving page's events to the viewer's stored leftovers (other tabs may have stored some too). */
function storeLeftovers(owner, events) {
  const store = storage();
  if (!store || signedOut) return;
  const key = STORE_PREFIX + owner;
  const byId = new Map(readLeftovers(store, key).map((e) => [e && e.client_id, e]));
  for (const event of events) byId.set(event.client_id, event);
  const kept = [...byId.values()].slice(-MAX_QUEUED);
  try {
    store.setItem(key, JSON.stringify(kept));
  } catch {
    // Over the storage quota: the keepalive requests are all there is.
  }
}

function dropLeftovers(owner, batch) {
  const store = storage();
  const key = STORE_PREFIX + owner;
  if (!store || store.getItem(key) === null) return;
  const sent = new Set(batch.map((e) => e.client_id));
  const left = readLeftovers(store, key).filter((e) => e && !sent.has(e.client_id));
  if (left.length) store.setItem(key, JSON.stringify(left));
  else store.removeItem(key);
}

/** Before signing out: send what this page has queued while the session still holds. */
export async function flushQueues() {
  await Promise.all([...queues].map((queue) => queue.flush()));
}

/** Forget every stored leftover and store no more (signed out: a shared device keeps no one's watching). */
export function forgetLeftovers() {
  signedOut = true;
  const store = storage();
  if (!store) return;
  for (let i = store.length - 1; i >= 0; i -= 1) {
    const key = store.key(i);
    if (key && key.startsWith(STORE_PREFIX)) store.removeItem(key);
  }
}

/** Send what an earlier page of this viewer left behind; on a transient failure it stays stored for the next page. */
export async function deliverLeftovers(owner, endpoint = ENDPOINT) {
  const store = storage();
  if (!store || !owner) return;
  const key = STORE_PREFIX + owner;
  const oldest = Date.now() - MAX_LEFTOVER_AGE_MS;
  // Stored data is not trusted: only well-formed, recent events, no more than a page ever stores.
  const events = readLeftovers(store, key).filter(
    (e) => e && typeof e.client_id === 'string' && typeof e.ts === 'number' && e.ts >= oldest,
  ).slice(-MAX_QUEUED);
  store.removeItem(key);
  for (let i = 0; i < events.length; i += BATCH) {
    const outcome = await postBatch(endpoint, events.slice(i, i + BATCH));
    if (outcome === 'retry' && !signedOut) {
      storeLeftovers(owner, events.slice(i)); // the server is away: the next page tries again
      return;
    }
  }
}
