// Sign in / sign up: post the form as JSON, then go where the viewer was going.
import { api } from './api.js';

const form = document.getElementById('auth-form');
const errorBox = form.querySelector('[data-testid=auth-error]');

/**
 * Where to go after signing in: `wanted` only if the browser's own URL parser resolves it to this origin (the
 * server checks the same way), and then only its path, query and fragment, never the raw text. A path that
 * would start with '//' ('/.//host' folds to it) is refused too: read again, it names a host.
 */
function sameOriginPath(wanted) {
  let url;
  try {
    url = new URL(wanted, location.origin);
  } catch {
    return '/';
  }
  if (url.origin !== location.origin) return '/';
  let decoded = url.pathname;
  try {
    decoded = decodeURIComponent(url.pathname);
  } catch {
    decoded = url.pathname;
  }
  const hostLike = (p) => p.replace(/[\t\n\r]/g, '').replace(/\\/g, '/').startsWith('//');
  if (hostLike(url.pathname) || hostLike(decoded)) return '/';
  return url.pathname + url.search + url.hash;
}

const next = sameOriginPath(form.dataset.next || '/');

function check(mode, values) {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.]{1,29}$/.test(values.username)) {
    return mode === 'signup' ? "A username is 2-30 letters, digits, '_' or '.', not starting with '.'." : 'Enter your username.';
  }
  if (mode === 'signup' && values.password.length < 8) return 'Choose a password of at least 8 characters.';
  if (mode === 'signup' && !/^\d{4}-\d{2}-\d{2}$/.test(values.birth_date)) return 'Enter your birth date.';
  if (!values.password) return 'Enter your password.';
  return '';
}

form.addEventListener('submit', async (event) => {
  event.preventDefault();
  const mode = form.dataset.mode;
  const values = {
    username: form.elements.username.value.trim(),
    password: form.elements.password.value,
  };
  if (mode === 'signup') {
    values.display_name = form.elements.display_name.value.trim();
    values.birth_date = form.elements.birth_date.value;
  }
  const problem = check(mode, values);
  errorBox.textContent = problem;
  errorBox.hidden = !problem;
  if (problem) return;
  const submit = form.querySelector('[type=submit]');
  submit.disabled = true;
  try {
    const body = await api('POST', mode === 'signup' ? '/api/auth/signup' : '/api/auth/login', values);
    // The overseer's home is the oversight view, not the feed.
    const overseer = body && body.user && body.user.role === 'overseer';
    location.assign(overseer && next === '/' ? '/oversight' : next);
  } catch (err) {
    errorBox.textContent = err.status === 401 ? 'Wrong username or password.' : err.message;
    errorBox.hidden = false;
    submit.disabled = false;
  }
});

// The region picker: an account is created in its home region's own store, so picking another region
// goes to that region's sign-up page (its own server); nothing is sent to this one.
for (const radio of document.querySelectorAll('[data-testid=region-picker] input[type=radio]')) {
  radio.addEventListener('change', () => {
    if (radio.checked && radio.dataset.url !== '/signup') location.assign(radio.dataset.url);
  });
}
