// The inbox page: notifications newest first (likes of a video grouped), mark read, mark all read, older pages,
// per-kind settings; new notifications appear without a reload ('inbox:changed' from live_inbox.js).
import { api, toast } from './api.js';
import { $, el, timeAgo } from './dom.js';
import { setUnread } from './live_inbox.js';

const list = $('[data-role=items]');
const more = $('[data-role=more]');
const form = $('[data-role=settings]');
let cursor = null;
let generation = 0; // a reload answered after a newer one must not overwrite it

const SETTING_LABELS = {
  likes: 'Likes of your videos',
  comments: 'Comments on your videos',
  replies: 'Replies to your comments',
  mentions: 'Mentions of you',
  followers: 'New followers',
  follow_requests: 'Follow requests and their answers',
};

function target(item) {
  if (item.kind === 'moderation') return '/notices';
  if (item.video_id) return `/v/${encodeURIComponent(item.video_id)}`;
  if (item.actor) return `/@${encodeURIComponent(item.actor.username)}`;
  return null;
}

async function markRead(item, node) {
  if (item.read) return;
  try {
    const data = await api('POST', `/api/me/notifications/${encodeURIComponent(item.id)}/read`);
    item.read = true;
    node.classList.remove('unread');
    setUnread(data.unread);
  } catch (err) {
    toast(err.message, { error: true });
  }
}

function itemNode(item) {
  const href = target(item);
  const node = el('li', { class: `inbox-item card${item.read ? '' : ' unread'}`, 'data-testid': 'inbox-item',
    'data-kind': item.kind, 'data-id': item.id });
  const text = el('p', { class: 'inbox-text', 'data-testid': 'inbox-text', text: item.text });
  const quoted = item.comment_excerpt || item.video_caption;
  const excerpt = quoted ? el('p', { class: 'muted inbox-excerpt', text: `“${quoted}”` }) : null;
  const meta = el('p', { class: 'muted' }, timeAgo(item.created_at),
    href ? [' · ', el('a', { href, text: item.kind === 'moderation' ? 'see the notice' : 'open',
      onclick: () => markRead(item, node) })] : null);
  const read = item.read ? null : el('button', { class: 'btn btn-small', type: 'button', text: 'Mark read',
    'data-testid': 'mark-read', onclick: async (event) => { event.currentTarget.remove(); await markRead(item, node); } });
  node.append(...[text, excerpt, meta, read].filter(Boolean));
  return node;
}

async function load(reset) {
  try {
    const query = !reset && cursor ? `?cursor=${encodeURIComponent(cursor)}` : '';
    const mine = reset ? ++generation : generation;
    const data = await api('GET', `/api/me/notifications${query}`);
    if (mine !== generation) return;
    const nodes = data.items.map(itemNode);
    if (reset) list.replaceChildren(...nodes);
    else list.append(...nodes);
    if (!list.children.length) list.replaceChildren(el('li', { class: 'muted', text: 'Nothing here yet.' }));
    cursor = data.next_cursor;
    more.hidden = !cursor;
    setUnread(data.unread);
  } catch (err) {
    toast(err.message, { error: true });
  }
}

async function loadSettings() {
  try {
    const settings = await api('GET', '/api/me/notification-settings');
    form.replaceChildren(...Object.entries(SETTING_LABELS).map(([key, label]) => {
      const box = el('input', { type: 'checkbox', name: key, 'data-testid': `setting-${key}`, checked: settings[key] });
      box.addEventListener('change', async () => {
        try {
          await api('PUT', '/api/me/notification-settings', { [key]: box.checked });
          toast(box.checked ? `${label}: on` : `${label}: off`);
        } catch (err) {
          box.checked = !box.checked;
          toast(err.message, { error: true });
        }
      });
      return el('label', { class: 'inbox-toggle' }, box, ` ${label}`);
    }));
  } catch (err) {
    toast(err.message, { error: true });
  }
}

$('[data-role=read-all]').addEventListener('click', async () => {
  try {
    const data = await api('POST', '/api/me/notifications/read-all');
    setUnread(data.unread);
    load(true);
  } catch (err) {
    toast(err.message, { error: true });
  }
});
more.addEventListener('click', () => load(false));
// Every stream event re-reads the first page: a new item, one read in another tab, or the count sent when the
// stream (re)connects, which covers anything that happened between this page's first read and the stream.
window.addEventListener('inbox:changed', () => load(true));

load(true);
loadSettings();
