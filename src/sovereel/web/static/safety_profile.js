// Profile safety actions: block / unblock the account, report it, and ask to follow a private one.
import { api, requireSignIn, toast } from './api.js';
import { $ } from './dom.js';
import { openReport } from './report.js';

const blockBtn = $('[data-testid=profile-block-btn]');
if (blockBtn) {
  blockBtn.addEventListener('click', async () => {
    const name = blockBtn.dataset.username;
    if (!window.confirm(`Block @${name}? You will stop seeing each other's videos and comments, and follows between you end.`)) return;
    blockBtn.disabled = true;
    try {
      await api('POST', `/api/users/${encodeURIComponent(name)}/block`);
      toast(`@${name} blocked`);
      location.reload();
    } catch (err) {
      toast(err.message, { error: true });
      blockBtn.disabled = false;
    }
  });
}

const reportBtn = $('[data-testid=profile-report-btn]');
if (reportBtn) {
  reportBtn.addEventListener('click', () => {
    const name = reportBtn.dataset.username;
    // An account one already blocked is reported without offering to block it again.
    const username = reportBtn.dataset.blocked === 'true' ? null : name;
    openReport({ kind: 'account', id: reportBtn.dataset.userId, label: `@${name}`, username });
  });
}

const unblockBtn = $('[data-testid=profile-unblock-btn]');
if (unblockBtn) {
  unblockBtn.addEventListener('click', async () => {
    unblockBtn.disabled = true;
    try {
      await api('DELETE', `/api/users/${encodeURIComponent(unblockBtn.dataset.username)}/block`);
      location.reload();
    } catch (err) {
      toast(err.message, { error: true });
      unblockBtn.disabled = false;
    }
  });
}

const requestBtn = $('[data-testid=profile-request-btn]');
if (requestBtn) {
  requestBtn.addEventListener('click', async () => {
    if (!requireSignIn('Sign in to follow creators.')) return;
    const requested = requestBtn.dataset.requested === 'true';
    requestBtn.disabled = true;
    try {
      await api(requested ? 'DELETE' : 'POST', `/api/users/${encodeURIComponent(requestBtn.dataset.username)}/follow`);
      requestBtn.dataset.requested = String(!requested);
      requestBtn.textContent = requested ? 'Follow' : 'Requested';
      requestBtn.classList.toggle('btn-primary', requested);
      requestBtn.classList.toggle('btn-following', !requested);
      toast(requested ? 'Request withdrawn' : 'Follow request sent');
    } catch (err) {
      toast(err.message, { error: true });
    }
    requestBtn.disabled = false;
  });
}
