// "Let others use my original sounds": the checkbox on one's own sound page and the switch in privacy settings.
import { api, toast } from './api.js';

async function setReuse(allow) {
  const out = await api('PUT', '/api/me/sound-reuse', { allow_reuse: allow });
  toast(out.allow_reuse ? 'Others can use your sounds' : 'Others can no longer use your sounds');
  return out.allow_reuse;
}

const toggle = document.querySelector('[data-role=sound-reuse]');
if (toggle) {
  toggle.addEventListener('change', async () => {
    toggle.disabled = true;
    try {
      toggle.checked = await setReuse(toggle.checked);
    } catch (err) {
      toggle.checked = !toggle.checked;
      toast(err.message, { error: true });
    } finally {
      toggle.disabled = false;
    }
  });
}

const sw = document.querySelector('[data-role=sound-reuse-switch]');
if (sw) {
  sw.addEventListener('click', async () => {
    sw.disabled = true;
    try {
      const allowed = await setReuse(sw.getAttribute('aria-checked') !== 'true');
      sw.setAttribute('aria-checked', allowed ? 'true' : 'false');
    } catch (err) {
      toast(err.message, { error: true });
    } finally {
      sw.disabled = false;
    }
  });
}
