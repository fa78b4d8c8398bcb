// Behaviour every page shares: sign out, the sign-in dialog's close button.
import { api, toast } from './api.js';

document.addEventListener('click', async (event) => {
  const logout = event.target.closest('[data-action=logout]');
  if (logout) {
    event.preventDefault();
    try {
      await api('POST', '/api/auth/logout');
      location.href = '/';
    } catch (err) {
      toast(err.message, { error: true });
    }
  }
});

const dialog = document.getElementById('signin-dialog');
if (dialog) {
  dialog.querySelector('[data-role=close]').addEventListener('click', () => dialog.close());
  // A click on the backdrop (outside the dialog box) closes it.
  dialog.addEventListener('click', (event) => {
    if (event.target === dialog) dialog.close();
  });
}
