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
  // A click on the backdrop (outside the dialog's box) closes it.
  dialog.addEventListener('click', (event) => {
    const box = dialog.getBoundingClientRect();
    const inside = event.clientX >= box.left && event.clientX <= box.right
      && event.clientY >= box.top && event.clientY <= box.bottom;
    if (event.target === dialog && !inside) dialog.close();
  });
}
