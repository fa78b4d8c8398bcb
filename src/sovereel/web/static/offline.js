// The offline page's Retry button: load the address again (the page the viewer asked for, not /offline).
const retry = document.querySelector('[data-action=retry]');
if (retry) retry.addEventListener('click', () => location.reload());
