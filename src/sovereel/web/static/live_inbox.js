// The unread badge in every page's nav, kept live from the inbox stream (Server-Sent Events).
// The stream sends the count on connect and whenever a notification arrives or is read; each event is passed
// on as a window 'inbox:changed' event so the inbox page can refresh its list. A hidden tab closes its stream
// (browsers allow few connections per site) and opens it again, with the count, when shown.
import { viewer } from './api.js';

const badge = document.querySelector('[data-role=unread-badge]');
let source = null;

function show(unread) {
  if (!badge) return;
  badge.textContent = unread > 99 ? '99+' : String(unread);
  badge.setAttribute('aria-label', `${unread} unread`);
  badge.hidden = unread === 0;
}

function open() {
  if (source || !viewer || typeof EventSource === 'undefined') return;
  source = new EventSource('/api/me/notifications/stream');
  source.addEventListener('unread', (event) => {
    let data = null;
    try {
      data = JSON.parse(event.data);
    } catch {
      return;
    }
    show(data.unread);
    window.dispatchEvent(new CustomEvent('inbox:changed', { detail: data }));
  });
}

function close() {
  if (source) source.close();
  source = null;
}

export function setUnread(unread) {
  show(unread);
}

if (viewer) {
  if (document.visibilityState !== 'hidden') open();
  document.addEventListener('visibilitychange', () => (document.visibilityState === 'hidden' ? close() : open()));
  window.addEventListener('pagehide', close);
}
