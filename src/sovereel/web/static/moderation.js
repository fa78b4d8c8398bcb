// The review queue: each reported item (playable in place) with its reports, and the decisions a moderator can
// take, each with a required reason; appeals come back here too.
import { api, toast } from './api.js';
import { $, el, timeAgo } from './dom.js';
import { REASON_LABELS } from './report.js';

const queue = $('[data-role=queue]');
const ACTIONS = {
  video: [['dismiss', 'Dismiss (no violation)'], ['remove', 'Remove'], ['age_restrict', 'Age-restrict'],
    ['not_for_you', 'Keep out of For You'], ['restore', 'Restore']],
  comment: [['dismiss', 'Dismiss'], ['remove', 'Remove comment']],
  account: [['dismiss', 'Dismiss'], ['suspend', 'Suspend account'], ['restore', 'Lift suspension']],
};

function targetNode(item) {
  const t = item.target;
  if (!t) return el('p', { class: 'muted', text: 'This item no longer exists.' });
  if (item.target_kind === 'video') {
    const src = t.media['360'] || t.media['720'];
    return el('div', { class: 'review-video' },
      src ? el('video', { src, poster: t.poster_url || null, controls: true, playsinline: true, muted: true,
        preload: 'metadata', 'data-testid': 'review-video' }) : el('p', { class: 'muted', text: `Not playable (${t.status})` }),
      el('p', { class: 'caption', text: t.caption || '(no caption)' }),
      el('p', { class: 'muted', text: `@${t.creator ? t.creator.username : '?'} · state: ${t.moderation_state}` +
        (t.age_restricted ? ' · age-restricted' : '') }));
  }
  if (item.target_kind === 'comment') {
    return el('blockquote', { class: 'review-comment' }, el('p', { text: t.body }),
      el('footer', { class: 'muted', text: `@${t.author ? t.author.username : '?'} on video ${t.video_id}` }));
  }
  return el('div', { class: 'review-account' }, el('p', { text: `@${t.username} (${t.display_name || 'no name'})` }),
    el('p', { class: 'muted', text: `${t.bio || ''}${t.suspended ? ' · suspended' : ''}` }));
}

function decisionForm(item) {
  const reason = el('textarea', { class: 'input', rows: '2', maxlength: '1000', required: true,
    placeholder: 'Reason (the person affected is told this)', 'data-testid': 'decision-reason' });
  const buttons = item.type === 'appeal'
    ? [['grant', 'Grant appeal'], ['uphold', 'Uphold decision']]
    : ACTIONS[item.target_kind];
  const form = el('form', { class: 'stack decision-form' }, reason,
    el('div', { class: 'decision-buttons' }, buttons.map(([value, label]) => el('button', {
      class: `btn btn-small${value === 'remove' || value === 'suspend' ? ' btn-danger' : ''}`, type: 'submit',
      value, text: label, 'data-testid': `decide-${value}`,
    }))));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const choice = event.submitter ? event.submitter.value : '';
    try {
      if (item.type === 'appeal') {
        await api('POST', `/api/moderation/appeals/${item.appeal_id}/decision`, { decision: choice, reason: reason.value });
      } else {
        await api('POST', '/api/moderation/actions', {
          target_kind: item.target_kind, target_id: item.target_id, action: choice, reason: reason.value,
        });
      }
      toast('Decision recorded; the person affected has been told');
      load();
    } catch (err) {
      toast(err.message, { error: true });
    }
  });
  return form;
}

function itemNode(item) {
  const head = item.type === 'appeal'
    ? el('h2', { class: 'queue-head', text: `Appeal against “${item.action.action}” of a ${item.target_kind}` })
    : el('h2', { class: 'queue-head', text: `${item.target_kind} · ${item.report_count} report${item.report_count === 1 ? '' : 's'}` });
  const details = item.type === 'appeal'
    ? el('div', { class: 'queue-reports' }, el('p', { text: `Decision: ${item.action.reason}` }),
      el('p', { text: `Appeal: ${item.body}`, 'data-testid': 'appeal-text' }))
    : el('ul', { class: 'queue-reports' }, item.reports.map((r) => el('li', {},
      el('b', { text: REASON_LABELS[r.reason] || r.reason.replaceAll('_', ' ') }),
      r.system ? ' (automatic)' : '', r.detail ? ` — ${r.detail}` : '', el('span', { class: 'muted', text: ` · ${timeAgo(r.created_at)}` }))));
  return el('article', { class: 'queue-item card', 'data-testid': 'queue-item', 'data-target': item.target_id,
    'data-type': item.type }, head, targetNode(item), details, decisionForm(item));
}

async function load() {
  try {
    const data = await api('GET', '/api/moderation/queue');
    queue.replaceChildren(...(data.items.length ? data.items.map(itemNode)
      : [el('p', { class: 'muted', 'data-testid': 'queue-empty', text: 'Nothing to review.' })]));
  } catch (err) {
    queue.replaceChildren(el('p', { class: 'form-error', text: err.message }));
  }
}

load();
