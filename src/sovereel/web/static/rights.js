// "Your data": start an export, poll its progress bar until the signed link is ready; delete the account.
import { api } from './api.js';

const box = document.getElementById('export-box');
const bar = box.querySelector('progress');
const row = box.querySelector('[data-role=progress]');
const percent = box.querySelector('[data-role=percent]');
const step = box.querySelector('[data-role=step]');
const link = box.querySelector('[data-role=download]');
const start = box.querySelector('[data-role=start]');

function show(job) {
  if (!job) return;
  row.hidden = false;
  bar.value = job.progress || 0;
  percent.textContent = `${Math.round((job.progress || 0) * 100)}%`;
  const labels = { queued: 'Waiting to start…', failed: `Failed: ${job.error || 'unknown error'}`, expired: 'The link has expired: prepare a new download.' };
  step.textContent = labels[job.state] || job.step || '';
  link.hidden = !job.download_url;
  if (job.download_url) {
    link.href = job.download_url;
    step.textContent = 'Ready. The link expires ' + new Date(job.expires_at * 1000).toLocaleString() + '.';
  }
  start.disabled = job.state === 'queued' || job.state === 'running';
  if (job.state === 'queued' || job.state === 'running') setTimeout(() => poll(job.id), 500);
}

async function poll(id) {
  try {
    show(await api('GET', `/api/me/exports/${id}`));
  } catch (err) {
    step.textContent = err.message;
  }
}

start.addEventListener('click', async () => {
  start.disabled = true;
  try {
    show(await api('POST', '/api/me/exports'));
  } catch (err) {
    step.textContent = err.message;
    start.disabled = false;
  }
});

show(JSON.parse(box.dataset.export || 'null'));

const form = document.getElementById('delete-form');
const errorBox = form.querySelector('[data-testid=delete-error]');
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  errorBox.hidden = true;
  if (!window.confirm('Delete your account and all your data? This cannot be undone.')) return;
  try {
    await api('DELETE', '/api/me', { password: form.elements.password.value });
    location.assign('/');
  } catch (err) {
    errorBox.textContent = err.status === 401 ? 'Wrong password.' : err.message;
    errorBox.hidden = false;
  }
});
