// The profile page: follow button, and for one's own profile the edit dialog (name, bio, avatar).
import { api, toast } from './api.js';
import { $, compact } from './dom.js';
import './grid.js';
import { setFollow } from './social.js';

const followBtn = $('[data-testid=profile-follow-btn]');
if (followBtn) {
  const followers = $('[data-testid=follower-count]');
  followBtn.addEventListener('click', async () => {
    const want = followBtn.dataset.following !== 'true';
    followBtn.disabled = true;
    await setFollow(followBtn.dataset.username, want, (following) => {
      const was = followBtn.dataset.following === 'true';
      followBtn.dataset.following = String(following);
      followBtn.textContent = following ? 'Following' : 'Follow';
      followBtn.classList.toggle('btn-primary', !following);
      followBtn.classList.toggle('btn-following', following);
      if (was !== following) {
        const n = Math.max(0, Number(followers.dataset.count) + (following ? 1 : -1));
        followers.dataset.count = String(n);
        followers.textContent = compact(n);
      }
    });
    followBtn.disabled = false;
  });
}

const dialog = document.getElementById('edit-profile');
if (dialog) {
  const form = $('[data-role=form]', dialog);
  const errorBox = $('[data-role=error]', dialog);
  const bioCounter = $('[data-role=bio-counter]', dialog);
  const preview = $('[data-role=avatar-preview]', dialog);
  let avatarFile = null;
  $('[data-testid=edit-profile-btn]').addEventListener('click', () => dialog.showModal());
  $('[data-role=cancel]', dialog).addEventListener('click', () => dialog.close());
  form.elements.bio.addEventListener('input', () => {
    bioCounter.textContent = `${[...form.elements.bio.value].length}/280`;
  });
  form.elements.avatar.addEventListener('change', () => {
    avatarFile = form.elements.avatar.files[0] || null;
    if (!avatarFile) return;
    const img = document.createElement('img');
    img.className = 'avatar avatar-lg';
    img.alt = '';
    img.src = URL.createObjectURL(avatarFile);
    preview.replaceChildren(img);
  });
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    errorBox.hidden = true;
    const save = $('[type=submit]', form);
    save.disabled = true;
    try {
      await api('PATCH', '/api/me', { display_name: form.elements.display_name.value, bio: form.elements.bio.value });
      if (avatarFile) {
        const data = new FormData();
        data.append('file', avatarFile, avatarFile.name);
        const response = await fetch('/api/me/avatar', { method: 'POST', body: data, credentials: 'same-origin' });
        if (!response.ok) {
          const body = await response.json().catch(() => ({}));
          throw new Error((body.error && body.error.message) || `Avatar upload failed (${response.status}).`);
        }
      }
      toast('Profile saved');
      location.reload();
    } catch (err) {
      errorBox.textContent = err.message;
      errorBox.hidden = false;
      save.disabled = false;
    }
  });
}
