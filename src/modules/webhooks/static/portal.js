// The webhook portal page: lists the link's apps and their deliveries, and
// retries, tests and rotates through the portal's JSON API (./api/…). The
// session cookie authorizes every call; the x-webhook-portal header is the
// CSRF check. Data only ever reaches the page as text (textContent), never as HTML.
(function () {
  'use strict';
  const $ = (id) => document.getElementById(id);
  /** While a listed delivery waits for an attempt due this soon, its list refreshes every POLL_MS. */
  const POLL_MS = 1000;
  const POLL_HORIZON_MS = 30000;

  class PortalError extends Error {
    constructor(status, body) {
      super((body && body.error && body.error.message) || `The portal answered ${status}.`);
      this.status = status;
    }
  }

  async function call(method, path) {
    const response = await fetch(`api/${path}`, {
      method,
      headers: { 'x-webhook-portal': '1', accept: 'application/json' },
      credentials: 'same-origin',
      cache: 'no-store',
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) throw new PortalError(response.status, body);
    return body;
  }

  function show(outcome, message) {
    const status = $('status');
    status.dataset.outcome = outcome;
    status.textContent = message;
  }

  function failed(error) {
    if (error instanceof PortalError && error.status === 401) {
      $('ended').hidden = false;
      $('apps').hidden = true;
      show('ended', 'The portal session has ended.');
      return;
    }
    show('error', error.message);
  }

  const time = (iso) => (iso ? new Date(iso).toLocaleString() : '');
  const ms = (value) => (value === null || value === undefined ? '' : `${value} ms`);

  function cell(row, className, text) {
    const td = document.createElement('td');
    td.className = className;
    td.textContent = text === null || text === undefined ? '' : String(text);
    row.appendChild(td);
    return td;
  }

  function attemptsCell(row, delivery) {
    const td = cell(row, 'attempts', '');
    if (delivery.attemptLog.length === 0) {
      td.textContent = String(delivery.attempts);
      return;
    }
    const details = document.createElement('details');
    const summary = document.createElement('summary');
    summary.textContent = String(delivery.attempts);
    details.appendChild(summary);
    const list = document.createElement('ol');
    for (const attempt of delivery.attemptLog) {
      const item = document.createElement('li');
      item.className = 'attempt';
      const parts = [time(attempt.attemptedAt), attempt.responseStatus === null ? 'no response' : `HTTP ${attempt.responseStatus}`, ms(attempt.latencyMs), attempt.error || ''];
      item.textContent = parts.filter(Boolean).join(' · ');
      list.appendChild(item);
    }
    details.appendChild(list);
    td.appendChild(details);
  }

  /** One app's section: its endpoint, its actions and its delivery list. */
  function appSection(app, catalog) {
    const section = $('app-template').content.firstElementChild.cloneNode(true);
    const part = (selector) => section.querySelector(selector);
    section.dataset.appId = app.id;
    part('.app-name').textContent = app.name;
    part('.app-url').textContent = app.url;
    part('.app-state').textContent = app.enabled ? 'Enabled' : `Disabled${app.disabledReason ? `: ${app.disabledReason}` : ''}`;
    part('.app-state').dataset.enabled = String(app.enabled);
    part('.app-event-types').textContent = app.eventTypes.length ? app.eventTypes.join(', ') : 'All event types';
    const typeFilter = part('.filter-event-type');
    for (const type of app.eventTypes.length ? app.eventTypes : catalog) {
      const option = document.createElement('option');
      option.value = type;
      option.textContent = type;
      typeFilter.appendChild(option);
    }

    let timer;
    async function load() {
      clearTimeout(timer);
      const params = new URLSearchParams();
      if (part('.filter-status').value) params.set('status', part('.filter-status').value);
      if (typeFilter.value) params.set('eventType', typeFilter.value);
      const { deliveries } = await call('GET', `apps/${encodeURIComponent(app.id)}/deliveries?${params}`);
      const body = part('tbody');
      body.replaceChildren();
      for (const d of deliveries) {
        const row = document.createElement('tr');
        row.className = 'delivery';
        row.dataset.deliveryId = d.id;
        row.dataset.status = d.status;
        cell(row, 'created', time(d.createdAt));
        cell(row, 'event', d.eventType);
        cell(row, 'status', d.status);
        attemptsCell(row, d);
        cell(row, 'response', d.responseStatus);
        cell(row, 'latency', ms(d.latencyMs));
        cell(row, 'error', d.error);
        const actions = cell(row, 'row-actions', '');
        if (d.status !== 'SUCCEEDED') {
          const retry = document.createElement('button');
          retry.type = 'button';
          retry.dataset.action = 'retry';
          retry.textContent = 'Retry';
          actions.appendChild(retry);
        }
        body.appendChild(row);
      }
      part('.empty').hidden = deliveries.length > 0;
      const soon = Date.now() + POLL_HORIZON_MS;
      if (deliveries.some((d) => d.status === 'PENDING' && (!d.nextAttemptAt || Date.parse(d.nextAttemptAt) <= soon))) {
        timer = setTimeout(() => load().catch(failed), POLL_MS);
      }
    }

    async function act(button, work) {
      button.disabled = true;
      try {
        await work();
      } catch (error) {
        failed(error);
      } finally {
        button.disabled = false;
      }
    }

    section.addEventListener('click', (event) => {
      const button = event.target.closest('button[data-action]');
      if (!button) return;
      const action = button.dataset.action;
      if (action === 'refresh') void act(button, load);
      if (action === 'test') {
        void act(button, async () => {
          await call('POST', `apps/${encodeURIComponent(app.id)}/test`);
          show('done', `A test event is on its way to ${app.name}.`);
          await load();
        });
      }
      if (action === 'retry') {
        const id = button.closest('tr').dataset.deliveryId;
        void act(button, async () => {
          await call('POST', `deliveries/${encodeURIComponent(id)}/retry`);
          show('done', 'The delivery is queued for another attempt.');
          await load();
        });
      }
      if (action === 'rotate' || action === 'rotate-cancel') part('.confirm').hidden = action === 'rotate-cancel';
      if (action === 'rotate-confirm') {
        void act(button, async () => {
          const rotated = await call('POST', `apps/${encodeURIComponent(app.id)}/rotate-secret`);
          part('.confirm').hidden = true;
          part('.secret').hidden = false;
          part('.secret-value').textContent = rotated.secret;
          part('.secret-grace').textContent = rotated.previousSecretExpiresAt
            ? `The previous secret also signs deliveries until ${time(rotated.previousSecretExpiresAt)}.`
            : 'The previous secret no longer signs deliveries.';
          show('done', `The secret of ${app.name} was rotated.`);
        });
      }
    });
    section.addEventListener('change', (event) => {
      if (event.target.matches('select')) load().catch(failed);
    });
    return { section, load };
  }

  async function start() {
    const overview = await call('GET', 'session');
    $('session-ends').textContent = `This session ends at ${time(overview.expiresAt)}.`;
    const sections = overview.apps.map((app) => appSection(app, overview.eventTypes));
    $('apps').replaceChildren(...sections.map((s) => s.section));
    await Promise.all(sections.map((s) => s.load()));
    show('ready', overview.apps.length ? 'Ready.' : 'The apps of this link no longer exist.');
  }

  start().catch(failed);
})();
