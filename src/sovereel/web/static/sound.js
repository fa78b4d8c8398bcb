// The sound page: its creator's "let others use my original sounds" switch.
import { api, toast } from './api.js';

const toggle = document.querySelector('[data-role=sound-reuse]');
if (toggle) {
  toggle.addEventListener('change', async () => {
    toggle.disabled = true;
    try {
      const out = await api('PUT', '/api/me/sound-reuse', { allow_reuse: toggle.checked });
      toggle.checked = out.allow_reuse;
      toast(out.allow_reuse ? 'Others can use your sounds' : 'Others can no longer use your sounds');
    } catch (err) {
      toggle.checked = !toggle.checked;
      toast(err.message, { error: true });
    } finally {
      toggle.disabled = false;
    }
  });
}
