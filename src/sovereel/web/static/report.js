// Reporting a video (the feed's "…" menu), a comment (its Report link) or an account (its profile): a reason
// from the fixed list, a few words (required for "Something else"), and the choice to block the account at once.
import { api, requireSignIn, toast } from './api.js';
import { el } from './dom.js';
import { Sheet } from './sheet.js';

export const REASON_LABELS = {
  spam: 'Spam or scam',
  harassment: 'Harassment or bullying',
  hate: 'Hate speech',
  violence: 'Violence or dangerous acts',
  sexual_content: 'Sexual content',
  minor_safety: 'Risk to a minor',
  misinformation: 'Misinformation',
  copyright: 'Copyright infringement',
  other: 'Something else',
};

let sheet = null;

/** Open the report form for a target ({kind: 'video'|'comment'|'account', id, label, username}). */
export function openReport(target) {
  if (!requireSignIn('Sign in to report.')) return;
  sheet = sheet || new Sheet('report-sheet', 'Report');
  const reasons = Object.entries(REASON_LABELS).map(([value, label], i) => el('label', { class: 'report-reason' },
    el('input', { type: 'radio', name: 'reason', value, required: true, checked: i === 0 ? false : null,
      'data-testid': `report-reason-${value}` }),
    el('span', { text: label })));
  const detail = el('textarea', { class: 'input', name: 'detail', rows: '3', maxlength: '1000',
    placeholder: 'What is wrong? (required for "Something else")', 'data-testid': 'report-detail' });
  const block = target.username ? el('label', { class: 'report-block' },
    el('input', { type: 'checkbox', name: 'block', 'data-testid': 'report-block' }),
    el('span', { text: `Also block @${target.username}` })) : null;
  const form = el('form', { class: 'stack report-form', 'data-testid': 'report-form' },
    el('fieldset', { class: 'report-reasons' }, el('legend', { text: 'Why are you reporting this?' }), reasons),
    el('label', { class: 'field' }, 'Details', detail),
    block,
    el('button', { class: 'btn btn-primary', type: 'submit', 'data-testid': 'report-submit', text: 'Send report' }));
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    if (!data.get('reason')) {
      sheet.say('Choose a reason', { error: true });
      return;
    }
    try {
      const result = await api('POST', '/api/reports', {
        target_kind: target.kind, target_id: target.id, reason: data.get('reason'),
        detail: String(data.get('detail') || ''), block: data.get('block') === 'on',
      });
      sheet.close();
      const blocked = result.blocked ? ` and blocked @${target.username}` : '';
      toast(result.duplicate ? 'You have already reported this; it is waiting for review' : `Thanks: your report was sent${blocked}`);
    } catch (err) {
      sheet.say(err.message, { error: true });
    }
  });
  sheet.show(`Report ${target.label}`, form);
}
