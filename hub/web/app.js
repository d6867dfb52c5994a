// The office page's only script. The pages are complete without it (server-rendered HTML and
// forms); it adds what must be live:
//   - [data-live-panel]: re-read from the hub whenever /api/stream reports a change
//   - [data-demo-uid]: the simulated station's card buttons
//   - [data-import-job]: an import's progress, until its report is ready
//   - form[data-upload]: sends the file with the CSRF token in a header and shows the upload
(function () {
  'use strict';
  const tokenMeta = document.querySelector('meta[name="csrf-token"]');
  const csrfToken = tokenMeta ? tokenMeta.content : '';

  async function postJson(url, body) {
    const response = await fetch(url, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'content-type': 'application/json', 'x-csrf-token': csrfToken },
      body: JSON.stringify(body),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(data.error || `the hub answered ${response.status}`);
    return data;
  }

  function lockerStates(root) {
    const states = new Map();
    for (const item of root.querySelectorAll('[data-locker]')) states.set(`${item.dataset.station}/${item.dataset.locker}`, `${item.dataset.state} ${item.dataset.door}`);
    return states;
  }

  // ---- live panels ----
  const panels = [...document.querySelectorAll('[data-live-panel]')];
  const status = document.querySelector('[data-live-status]');
  const activity = document.querySelector('[data-demo-activity]');

  function note(message) {
    if (!activity) return;
    const item = document.createElement('li');
    item.textContent = `${new Date().toLocaleTimeString('en-GB')} ${message}`;
    activity.prepend(item);
    while (activity.children.length > 10) activity.lastChild.remove();
  }

  /** What the simulated station did, in words (the hub sends its short names). */
  const STEP_WORDS = { unlocked: 'the lock released', 'door-open': 'the door opened', 'door-closed': 'the door was shut' };

  let refreshTimer = null;
  /** What changed, in words, for the live status line (read out by screen readers). */
  let changes = [];
  async function refreshPanels() {
    changes = [];
    for (const panel of panels) {
      const before = lockerStates(panel);
      const newestBefore = panel.querySelector('[data-happening]');
      const seenBefore = newestBefore ? newestBefore.dataset.happening : null;
      const response = await fetch(panel.dataset.livePanel, { credentials: 'same-origin', headers: { accept: 'text/html' } });
      if (response.status === 401 || response.redirected) {
        if (status) status.textContent = 'Signed out: reload the page to sign in again.';
        return;
      }
      if (!response.ok) throw new Error(`the hub answered ${response.status}`);
      // The panel is HTML the hub rendered (every value escaped there).
      panel.innerHTML = await response.text();
      for (const item of panel.querySelectorAll('[data-locker]')) {
        const key = `${item.dataset.station}/${item.dataset.locker}`;
        if (before.has(key) && before.get(key) !== `${item.dataset.state} ${item.dataset.door}`) {
          item.classList.add('changed');
          const number = item.querySelector('.number');
          const state = item.querySelector('.state');
          const door = item.dataset.door === 'open' ? ', door open' : before.get(key).endsWith(' open') ? ', door shut' : '';
          changes.push(`${item.dataset.station} ${number ? number.textContent : ''}: ${state ? state.textContent.trim() : item.dataset.state}${door}`);
        }
      }
      // A tap that opened nothing (a refusal, a medical exemption) changes no locker: say it too.
      const newest = panel.querySelector('[data-happening]');
      if (newest && newest.dataset.happening !== seenBefore && newestBefore !== null) {
        const words = newest.cloneNode(true);
        for (const time of words.querySelectorAll('.muted')) time.remove();
        changes.push(words.textContent.trim());
      }
    }
  }
  // A panel of a whole trust's counts (data-live-every-ms) changes with every tap at any school: it
  // is re-read at most that often, not after each change.
  const every = Math.max(0, ...panels.map((panel) => Number(panel.dataset.liveEveryMs) || 0));
  let lastRefresh = 0;
  // Changes that come while a refresh is waiting are taken by it: a steady stream of taps (a
  // registration rush) refreshes every so often instead of putting the refresh off for ever.
  function scheduleRefresh() {
    if (refreshTimer !== null) return;
    refreshTimer = setTimeout(() => {
      refreshTimer = null;
      lastRefresh = Date.now();
      refreshPanels()
        .then(() => {
          // A refresh that changed nothing (a state report) leaves the last change's words in place,
          // so a screen reader is not talked over before it has said them.
          if (!status) return;
          if (changes.length) status.textContent = `Live — updated ${new Date().toLocaleTimeString('en-GB')}: ${changes.join('; ')}`;
          else if (!status.textContent.startsWith('Live — updated')) status.textContent = `Live — updated ${new Date().toLocaleTimeString('en-GB')}`;
        })
        .catch((error) => status && (status.textContent = `Could not update: ${error.message}`));
    }, Math.max(120, lastRefresh + every - Date.now()));
  }

  if (panels.length && 'EventSource' in window) {
    // The changes of the school the page shows (a trust account's ?school=), not the whole trust's.
    const school = new URLSearchParams(window.location.search).get('school');
    const stream = new EventSource(school ? `/api/stream?school=${encodeURIComponent(school)}` : '/api/stream');
    stream.addEventListener('open', () => {
      if (status) status.textContent = status.dataset.liveText || 'Live: changes appear as pupils tap.';
      scheduleRefresh();
    });
    stream.addEventListener('error', () => status && (status.textContent = 'Connection to the hub lost; reconnecting…'));
    stream.addEventListener('change', scheduleRefresh);
    stream.addEventListener('state', scheduleRefresh);
    stream.addEventListener('station', (event) => {
      const step = JSON.parse(event.data);
      const words = STEP_WORDS[step.step];
      if (words && step.locker !== undefined && step.locker !== null) note(`Locker ${step.locker + 1}: ${words}`);
    });
  }

  // ---- demo cards ----
  for (const button of document.querySelectorAll('[data-demo-uid]')) {
    button.addEventListener('click', async () => {
      button.disabled = true;
      try {
        const result = await postJson('/api/demo/tap', { uid: button.dataset.demoUid });
        note(result.person ? `${result.person} taps their card` : result.spare ? `The spare card ${result.spare} is tapped` : `The tag of ${result.item} is tapped`);
      } catch (error) {
        note(`The tap did not happen: ${error.message}`);
      } finally {
        setTimeout(() => (button.disabled = false), 600);
      }
    });
  }

  for (const button of document.querySelectorAll('[data-demo-shut]')) {
    button.addEventListener('click', async () => {
      try {
        const result = await postJson('/api/demo/shut-doors', {});
        note(result.shut.length ? `Someone shuts ${result.shut.length === 1 ? 'locker' : 'lockers'} ${result.shut.join(', ')}` : 'No door was open');
      } catch (error) {
        note(`Could not shut the doors: ${error.message}`);
      }
    });
  }

  // ---- uploads ----
  for (const form of document.querySelectorAll('form[data-upload]')) {
    form.addEventListener('submit', (event) => {
      event.preventDefault();
      const progress = form.querySelector('progress');
      const message = form.querySelector('[data-upload-status]');
      const request = new XMLHttpRequest();
      request.open('POST', form.action);
      request.setRequestHeader('x-csrf-token', csrfToken);
      request.setRequestHeader('accept', 'application/json');
      request.upload.addEventListener('progress', (progressEvent) => {
        if (progress && progressEvent.lengthComputable) {
          progress.max = progressEvent.total;
          progress.value = progressEvent.loaded;
        }
        if (message) message.textContent = 'Uploading…';
      });
      request.addEventListener('load', () => {
        let data = {};
        try {
          data = JSON.parse(request.responseText);
        } catch {
          data = {};
        }
        if (request.status >= 200 && request.status < 300 && data.job) {
          window.location.assign(`/imports/${data.job.id}`);
        } else if (message) {
          message.textContent = data.error || `The hub answered ${request.status}.`;
          message.className = 'problem';
        }
      });
      request.addEventListener('error', () => message && (message.textContent = 'The upload did not reach the hub.'));
      request.send(new FormData(form));
    });
  }

  // ---- an import in progress ----
  const job = document.querySelector('[data-import-job]');
  if (job) {
    const bar = job.querySelector('progress');
    const text = job.querySelector('[data-import-progress]');
    const poll = async () => {
      const response = await fetch(`/api/imports/${job.dataset.importJob}`, { credentials: 'same-origin' });
      const data = await response.json();
      if (!response.ok) throw new Error(data.error || `the hub answered ${response.status}`);
      const { progress, state } = data.job;
      if (bar && progress.total) {
        bar.max = progress.total;
        bar.value = progress.done;
      }
      if (text) text.textContent = data.job.description || (progress.total ? `${progress.done} of ${progress.total} rows` : `${progress.done} rows`);
      if (state === 'running' || state === 'queued') setTimeout(() => poll().catch(showError), 300);
      else window.location.reload();
    };
    const showError = (error) => text && (text.textContent = `Could not read the progress: ${error.message}`);
    poll().catch(showError);
  }
})();
