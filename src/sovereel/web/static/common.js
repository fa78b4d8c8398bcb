// Behaviour every page shares: sign out, the sign-in dialog's close button.
import { api, toast, viewer } from './api.js';
import { deliverLeftovers, flushQueues, forgetLeftovers } from './events.js';
import './live_inbox.js';

document.addEventListener('click', async (event) => {
  const logout = event.target.closest('[data-action=logout]');
  if (logout) {
    event.preventDefault();
    try {
      await flushQueues();
      await api('POST', '/api/auth/logout');
      forgetLeftovers();
      location.href = '/';
    } catch (err) {
      toast(err.message, { error: true });
    }
  }
});

// Watch events an earlier page of this viewer left behind (its leaving requests may not have gone out).
if (viewer) deliverLeftovers(viewer.id);

const dialog = document.getElementById('signin-dialog');
if (dialog) {
  dialog.querySelector('[data-role=close]').addEventListener('click', () => dialog.close());
  // A click on the backdrop (outside the dialog's box) closes it.
  dialog.addEventListener('click', (event) => {
    const box = dialog.getBoundingClientRect();
    const inside = event.clientX >= box.left && event.clientX <= box.right
      && event.clientY >= box.top && event.clientY <= box.bottom;
    if (event.target === dialog && !inside) dialog.close();
  });
}

// The installable app: the service worker keeps the app shell for offline starts (never anything personal).
// Browsers allow workers only on secure origins (https, or localhost while developing).
if ('serviceWorker' in navigator && window.isSecureContext) {
  navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {
    // Without a worker the site works as before, only not offline: nothing to tell the viewer.
  });
}
