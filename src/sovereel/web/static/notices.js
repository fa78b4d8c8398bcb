// The notices page: what moderators decided about the viewer's content, account and reports, with one appeal each.
import { api, toast } from './api.js';
import { $, el, timeAgo } from './dom.js';

const root = $('[data-role=notices]');

function appealForm(notice) {
  const body = el('textarea', { class: 'input', rows: '3', maxlength: '1000', required: true,
    placeholder: 'Why was this decision wrong?', 'data-testid': 'appeal-body' });
  const form = el('form', { class: 'stack appeal-form', hidden: true },
    body, el('button', { class: 'btn btn-primary', type: 'submit', text: 'Send appeal', 'data-testid': 'appeal-submit' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('POST', `/api/me/notices/${notice.id}/appeal`, { body: body.value });
      toast('Your appeal was sent: a moderator will look again');
      load();
    } catch (err) {
      toast(err.message, { error: true });
    }
  });
  const open = el('button', { class: 'btn btn-small', type: 'button', text: 'Appeal', 'data-testid': 'appeal-btn',
    onclick: () => { form.hidden = false; open.hidden = true; body.focus(); } });
  return [open, form];
}

function noticeNode(notice) {
  const status = notice.appeal ? el('p', { class: 'muted', 'data-testid': 'appeal-status',
    text: `Appeal ${notice.appeal.status === 'open' ? 'waiting for review' : notice.appeal.status}` }) : null;
  return el('article', { class: 'notice card', 'data-testid': 'notice', 'data-action': notice.action },
    el('p', { class: 'notice-message', text: notice.message }),
    el('p', { class: 'muted' }, timeAgo(notice.created_at),
      notice.target_url ? [' · ', el('a', { href: notice.target_url, text: 'the video' })] : null),
    status,
    notice.can_appeal ? appealForm(notice) : null);
}

async function load() {
  try {
    const data = await api('GET', '/api/me/notices');
    const items = data.notices.map(noticeNode);
    if (data.suspended) {
      items.unshift(el('p', { class: 'safety-notice', 'data-testid': 'suspended-notice',
        text: 'Your account is suspended: you cannot upload or comment, and only you can see your videos. '
          + 'You can appeal below.' }));
    }
    root.replaceChildren(...(items.length ? items : [el('p', { class: 'muted', text: 'No notices.' })]));
  } catch (err) {
    root.replaceChildren(el('p', { class: 'form-error', text: err.message }));
  }
}

load();
