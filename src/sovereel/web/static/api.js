// Talking to the JSON API, plus the page-wide toast and the sign-in prompt.
import { el, readJSON } from './dom.js';

export const viewer = readJSON('viewer-data');

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

/** Parse an API error body ({"error": {code, message}}) into an ApiError. */
export function errorFrom(status, text) {
  let body = null;
  try {
    body = JSON.parse(text);
  } catch {
    body = null;
  }
  const err = (body && body.error) || {};
  const fallback = status === 0 ? 'Network error: check your connection and try again.' : `Request failed (${status}).`;
  return new ApiError(status, err.code || 'http_error', err.message || fallback);
}

export async function api(method, path, body) {
  const init = { method, credentials: 'same-origin', headers: { accept: 'application/json' } };
  if (body !== undefined) {
    init.headers['content-type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch {
    throw errorFrom(0, '');
  }
  const text = response.status === 204 ? '' : await response.text();
  if (!response.ok) throw errorFrom(response.status, text);
  return text ? JSON.parse(text) : null;
}

let toastTimer = 0;

/**
 * Show a short message at the top of the screen. With `action` ({label, run}) it carries a button (e.g. Undo)
 * that runs once and closes the toast.
 */
export function toast(message, { error = false, ms = 2600, action = null } = {}) {
  const node = document.getElementById('toast');
  if (!node) return;
  node.replaceChildren(el('span', { class: 'toast-text', text: message }));
  if (action) {
    node.append(el('button', {
      class: 'toast-action', type: 'button', 'data-testid': 'toast-action', text: action.label,
      onclick: () => { hideToast(); action.run(); },
    }));
  }
  node.classList.toggle('toast-error', error);
  node.classList.toggle('has-action', !!action);
  node.hidden = false;
  requestAnimationFrame(() => node.classList.add('show'));
  clearTimeout(toastTimer);
  toastTimer = setTimeout(hideToast, ms);
}

export function hideToast() {
  const node = document.getElementById('toast');
  if (!node) return;
  clearTimeout(toastTimer);
  node.classList.remove('show');
  toastTimer = setTimeout(() => { node.hidden = true; node.replaceChildren(); }, 250);
}

export function here() {
  return location.pathname + location.search;
}

/** True when signed in; otherwise opens the sign-in prompt and returns false. */
export function requireSignIn(reason = 'Sign in to like, comment and follow.') {
  if (viewer) return true;
  const dialog = document.getElementById('signin-dialog');
  if (!dialog) {
    location.href = `/login?next=${encodeURIComponent(here())}`;
    return false;
  }
  dialog.querySelector('[data-role=reason]').textContent = reason;
  dialog.querySelector('[data-role=login]').href = `/login?next=${encodeURIComponent(here())}`;
  dialog.querySelector('[data-role=signup]').href = `/signup?next=${encodeURIComponent(here())}`;
  if (!dialog.open) dialog.showModal();
  return false;
}

/** A random id for watch events (the server stores each client id once). */
export function clientId() {
  if (crypto.randomUUID) return crypto.randomUUID().replaceAll('-', '');
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('');
}
