// Safety in the comments drawer: who may comment (and why not), "n hidden by your filters", the creator's
// per-video comment setting, and the Report slot on each comment.
import { api, toast, viewer } from './api.js';
import { $, el } from './dom.js';

const POLICY_WORDS = { everyone: 'Everyone', followers: 'Followers', no_one: 'No one' };

/** Show what the comments listing says about commenting on this video. */
export function renderCommentSafety(drawer, slide, data) {
  const root = drawer.root;
  const note = $('[data-role=policy-note]', root);
  const tools = $('[data-role=creator-tools]', root);
  const refused = viewer && !data.can_comment;
  if (viewer) drawer.form.hidden = refused;
  note.hidden = !refused;
  note.textContent = refused ? `${data.comment_refusal[0].toUpperCase()}${data.comment_refusal.slice(1)}.` : '';
  tools.hidden = !slide.v.is_own;
  if (!slide.v.is_own) {
    tools.replaceChildren();
    return;
  }
  const select = el('select', { class: 'input', 'aria-label': 'Who can comment on this video', 'data-testid': 'video-comment-policy' },
    el('option', { value: '', text: 'Account setting' }),
    Object.entries(POLICY_WORDS).map(([value, label]) => el('option', { value, text: label })));
  select.value = slide.v.comment_policy || '';
  select.addEventListener('change', async () => {
    try {
      const result = await api('PUT', `/api/videos/${encodeURIComponent(slide.v.id)}/comment-policy`,
        { comment_policy: select.value || null });
      slide.v.comment_policy = result.comment_policy;
      toast('Comment setting saved');
    } catch (err) {
      toast(err.message, { error: true });
    }
  });
  const hidden = data.hidden_count || 0;
  tools.replaceChildren(
    el('label', { text: 'Who can comment: ' }, select),
    hidden ? el('span', { class: 'muted', 'data-testid': 'hidden-count',
      text: `${hidden} hidden by your filters` }) : null,
    el('a', { class: 'link-btn', href: '/settings/safety', text: 'Filters' }));
}

let reasons = null;

/**
 * A Report button for someone else's comment. It announces `sovereel:report` ({kind, id, username}) first, so a
 * richer report flow can take over by calling preventDefault(); otherwise a small dialog posts /api/reports.
 */
export function reportButton(comment) {
  return el('button', {
    class: 'link-btn', type: 'button', 'data-testid': 'report-comment-btn', text: 'Report',
    onclick: () => {
      const username = comment.author ? comment.author.username : '';
      const event = new CustomEvent('sovereel:report', { cancelable: true, detail: { kind: 'comment', id: comment.id, username } });
      if (document.dispatchEvent(event)) openReportDialog(comment.id, username);
    },
  });
}

async function openReportDialog(commentId, username) {
  try {
    reasons = reasons || (await api('GET', '/api/reports/reasons')).reasons;
  } catch (err) {
    toast(err.message, { error: true });
    return;
  }
  const select = el('select', { class: 'input', name: 'reason', 'data-testid': 'report-reason' },
    reasons.map((r) => el('option', { value: r, text: r.replaceAll('_', ' ') })));
  const block = el('input', { type: 'checkbox', name: 'block', 'data-testid': 'report-block' });
  const dialog = el('dialog', { class: 'dialog', 'data-testid': 'report-dialog' },
    el('form', { class: 'stack', method: 'dialog' },
      el('h2', { text: 'Report comment' }),
      el('label', { class: 'field', text: 'Reason' }, select),
      username ? el('label', { class: 'field-inline' }, block, ` Also block @${username}`) : null,
      el('div', { class: 'dialog-actions' },
        el('button', { class: 'btn', type: 'button', text: 'Cancel', onclick: () => dialog.close() }),
        el('button', { class: 'btn btn-primary', type: 'submit', 'data-testid': 'report-submit', text: 'Report' }))));
  dialog.addEventListener('close', () => dialog.remove());
  dialog.querySelector('form').addEventListener('submit', async (event) => {
    event.preventDefault();
    try {
      await api('POST', '/api/reports', { target_kind: 'comment', target_id: commentId, reason: select.value, block: block.checked });
      toast(block.checked ? `Reported, and @${username} is blocked` : 'Thanks: a moderator will review it');
      dialog.close();
    } catch (err) {
      toast(err.message, { error: true });
    }
  });
  document.body.append(dialog);
  dialog.showModal();
}
