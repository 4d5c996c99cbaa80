// The live page's only script (served as /console/live.js under the console's CSP): it opens the
// stream the table names and puts each row the server rendered at the top, once per key. EventSource
// reconnects by itself and sends the id of the last event it saw, from which the server resumes.
const table = document.getElementById('live-rows');
const state = document.getElementById('live-state');
const url = table?.dataset.stream;
if (table && state && url) {
  const body = table.tBodies[0];
  const source = new EventSource(url);
  const show = (name, text) => {
    state.dataset.state = name;
    state.textContent = text;
  };
  source.addEventListener('ready', () => show('live', 'Live.'));
  source.addEventListener('error', () => show('reconnecting', 'Reconnecting…'));
  source.addEventListener('row', (e) => {
    const row = JSON.parse(e.data);
    if (body.querySelector(`tr[data-key="${CSS.escape(row.key)}"]`)) return;
    body.insertAdjacentHTML('afterbegin', row.html);
  });
}
