// Safety in the comments drawer: who may comment (and why not), "n hidden by your filters", the creator's
// per-video comment setting, and the Report slot on each comment.
import { api, toast, viewer } from './api.js';
import { $, el } from './dom.js';
import { openReport } from './report.js';

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

/**
 * A Report button for someone else's comment: the same report sheet as for a video or an account (every reason,
 * the words "Something else" needs, and blocking the author at once).
 */
export function reportButton(comment) {
  return el('button', {
    class: 'link-btn', type: 'button', 'data-testid': 'report-comment-btn', text: 'Report',
    onclick: () => openReport({
      kind: 'comment', id: comment.id, label: 'this comment', username: comment.author ? comment.author.username : null,
    }),
  });
}
