// The privacy and safety page: private account, who can comment, comment filters, follow requests, blocks, activity.
import { api, toast } from './api.js';
import { $, el, profileUrl, readJSON, timeAgo } from './dom.js';

let settings = readJSON('safety-data');
const page = $('[data-testid=safety-page]');
const privateSwitch = $('[data-testid=private-switch]', page);
const policySelect = $('[data-testid=comment-policy-select]', page);
const filterForm = $('[data-role=filter-form]', page);

const LOG_WORDS = {
  block: (e) => `You blocked @${e.subject}`,
  unblock: (e) => `You unblocked @${e.subject}`,
  privacy: (e) => (e.detail.is_private ? 'You made your account private' : 'You made your account public'),
  comment_policy: (e) => `You set who can comment${e.detail.video_id ? ' on a video' : ''}: ${
    { everyone: 'everyone', followers: 'followers', no_one: 'no one' }[e.detail.policy] || 'your account setting'}`,
  comment_filters: (e) => `You changed your comment filters (${e.detail.count})`,
  sound_reuse: (e) => (e.detail.allow_reuse ? 'You let others use your original sounds'
    : 'You stopped others using your original sounds'),
  comment_removed: (e) => (e.by_me ? `You deleted a comment by @${e.subject}`
    : `@${e.actor} deleted your comment “${e.detail.excerpt}” from their video`),
  follow_request: (e) => `You asked to follow @${e.subject}`,
  follow_approved: (e) => (e.by_me ? `You approved @${e.subject}'s follow request` : `@${e.actor} approved your follow request`),
  follow_declined: (e) => (e.by_me ? `You declined @${e.subject}'s follow request` : `@${e.actor} declined your follow request`),
};

async function save(change, message) {
  try {
    settings = await api('PUT', '/api/me/safety', change);
    render();
    toast(message);
  } catch (err) {
    toast(err.message, { error: true });
    render();
  }
  loadLog();
}

function render() {
  privateSwitch.setAttribute('aria-checked', settings.is_private ? 'true' : 'false');
  policySelect.value = settings.comment_policy;
  $('[data-role=filters]', page).replaceChildren(...settings.comment_filters.map((keyword) =>
    el('li', { class: 'chip chip-removable', 'data-testid': 'comment-filter' }, el('span', { text: keyword }),
      el('button', {
        class: 'chip-remove', type: 'button', 'aria-label': `Remove ${keyword}`, text: '×',
        onclick: () => save({ comment_filters: settings.comment_filters.filter((k) => k !== keyword) }, 'Filter removed'),
      }))));
  const requests = settings.follow_requests.map((r) => el('li', { class: 'safety-row', 'data-testid': 'follow-request' },
    el('a', { href: profileUrl(r.username), text: `@${r.username}` }),
    el('span', { class: 'safety-actions' },
      el('button', { class: 'btn btn-primary', type: 'button', 'data-testid': 'approve-request', text: 'Approve',
        onclick: () => answer(r.username, true) }),
      el('button', { class: 'btn', type: 'button', 'data-testid': 'decline-request', text: 'Decline',
        onclick: () => answer(r.username, false) }))));
  $('[data-role=requests]', page).replaceChildren(...(requests.length ? requests
    : [el('li', { class: 'muted', text: settings.is_private ? 'No one is waiting.' : 'Your account is public: anyone can follow you.' })]));
  const blocks = settings.blocks.map((b) => el('li', { class: 'safety-row', 'data-testid': 'blocked-account' },
    el('a', { href: profileUrl(b.username), text: `@${b.username}` }),
    el('button', { class: 'btn', type: 'button', 'data-testid': 'unblock-btn', text: 'Unblock',
      onclick: () => unblock(b.username) })));
  $('[data-role=blocks]', page).replaceChildren(...(blocks.length ? blocks
    : [el('li', { class: 'muted', text: 'You have not blocked anyone.' })]));
}

async function reload() {
  settings = await api('GET', '/api/me/safety');
  render();
  loadLog();
}

async function answer(username, approve) {
  try {
    await api(approve ? 'POST' : 'DELETE', `/api/me/follow-requests/${encodeURIComponent(username)}`);
    toast(approve ? `@${username} now follows you` : 'Request declined');
  } catch (err) {
    toast(err.message, { error: true });
  }
  reload();
}

async function unblock(username) {
  try {
    await api('DELETE', `/api/users/${encodeURIComponent(username)}/block`);
    toast(`@${username} unblocked`);
  } catch (err) {
    toast(err.message, { error: true });
  }
  reload();
}

async function loadLog() {
  try {
    const { entries } = await api('GET', '/api/me/safety-log');
    $('[data-role=log]', page).replaceChildren(...(entries.length ? entries.map((e) =>
      el('li', { class: 'safety-row', 'data-testid': 'safety-log-entry' },
        el('span', { text: (LOG_WORDS[e.kind] || ((x) => x.kind))(e) }),
        el('time', { class: 'muted', text: timeAgo(e.at) }))) : [el('li', { class: 'muted', text: 'Nothing yet.' })]));
  } catch (err) {
    toast(err.message, { error: true });
  }
}

privateSwitch.addEventListener('click', () => {
  const want = !settings.is_private;
  save({ is_private: want }, want ? 'Your account is private' : 'Your account is public');
});
policySelect.addEventListener('change', () => save({ comment_policy: policySelect.value }, 'Comment setting saved'));
filterForm.addEventListener('submit', (event) => {
  event.preventDefault();
  const keyword = filterForm.elements.keyword.value.trim();
  if (!keyword) return;
  filterForm.elements.keyword.value = '';
  save({ comment_filters: [...settings.comment_filters, keyword] }, 'Filter added');
});
render();
loadLog();
