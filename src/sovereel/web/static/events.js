// The watch-event queue: batched to POST /api/events every few seconds and when the page is hidden.
// A batch that fails for a transient reason is resent as the same batch (same client ids), which the
// server stores once, so retrying is always safe.
import { clientId } from './api.js';

const ENDPOINT = '/api/events';
const FLUSH_MS = 5000;
const BATCH = 100; // keeps each request well under the 64 KiB keepalive budget
const MAX_QUEUED = 2000;

export class EventQueue {
  constructor({ endpoint = ENDPOINT, flushMs = FLUSH_MS } = {}) {
    this.endpoint = endpoint;
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
    if (this.disabled) return;
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
      }
    } finally {
      this.inFlight = false;
    }
  }

  /** Returns true when the batch is done with (stored, or refused for good), false to retry it later. */
  async send(batch) {
    let response;
    try {
      response = await fetch(this.endpoint, {
        method: 'POST',
        credentials: 'same-origin',
        keepalive: true,
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ events: batch }),
      });
    } catch {
      this.failures += 1;
      return false;
    }
    if (response.ok) {
      this.failures = 0;
      return true;
    }
    if (response.status === 401) {
      this.disabled = true; // signed out in another tab: nothing more to report
      return true;
    }
    if (response.status === 408 || response.status === 429 || response.status >= 500) {
      this.failures += 1;
      return false;
    }
    // 4xx: the batch itself is refused (e.g. a video deleted meanwhile); resending it cannot succeed.
    console.warn('sovereel: watch events refused', response.status, await response.text());
    return true;
  }

  /** The page may be going away: hand everything to the browser in keepalive requests (or beacons). */
  flushOnExit() {
    const all = [...(this.retry || []), ...this.pending];
    if (!all.length) return;
    for (let i = 0; i < all.length; i += BATCH) {
      const body = JSON.stringify({ events: all.slice(i, i + BATCH) });
      let handed = false;
      try {
        fetch(this.endpoint, {
          method: 'POST', credentials: 'same-origin', keepalive: true,
          headers: { 'content-type': 'application/json' }, body,
        }).catch(() => {});
        handed = true;
      } catch {
        handed = false;
      }
      // sendBeacon cannot set headers, but the session cookie goes along and the server reads the JSON body.
      if (!handed && navigator.sendBeacon) navigator.sendBeacon(this.endpoint, body);
    }
    // Keep them queued: if the page survives (a hidden tab comes back), the next flush resends them and
    // the server counts the repeats as duplicates.
    this.retry = null;
    this.pending = all;
  }
}
