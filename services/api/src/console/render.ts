/** The provider's console, rendered on the server with the customer dashboard's look; no script needed. */

import {
  type ApiKey,
  type AuditEntry,
  type ClientAssignment,
  type CompanyUser,
  can,
  type HiddenPlanInstall,
  type PartnerEmployee,
  PERMISSIONS,
  type Permission,
  type Viewer,
} from '@meterline/access';
import type { StoredAlert } from '@meterline/alerts';
import type { NotificationRecord } from '@meterline/deliveries';
import { escapeHtml as h } from '@meterline/notifications';
import type { Client, Resource } from '@meterline/resources';
import { formatQuantity } from '@meterline/rules';
import { STYLE } from '../dashboard/render.ts';
import type { UsageReport } from '../usage-report.ts';

/** A notice at the top of a page: what the last form did, or why it was refused. */
export interface Flash {
  kind: 'ok' | 'error';
  text: string;
}

const when = (ts: number | Date) => `${new Date(ts).toISOString().replace('T', ' ').slice(0, 16)} UTC`;

export const CONSOLE_STYLE = `${STYLE}
nav.console{display:flex;gap:18px;align-items:center}nav.console a{color:#fff;text-decoration:none;opacity:.9}
nav.console form{margin:0}nav.console button{background:none;border:1px solid rgba(255,255,255,.5);color:#fff;border-radius:6px;padding:2px 10px;cursor:pointer}
form.inline{display:inline}label{display:block;margin:6px 0 2px;font-weight:600;font-size:14px}
input[type=text],input[type=email],input[type=password],textarea{width:100%;max-width:420px;padding:6px 8px;border:1px solid #cfd3dc;border-radius:6px;font:inherit}
textarea{min-height:70px}.perms label{font-weight:400;display:inline-block;margin-right:12px}
button.primary{background:#4b2ea3;color:#fff;border:0;border-radius:6px;padding:6px 14px;font:inherit;cursor:pointer;margin-top:8px}
button.danger{background:#fff;color:#a1381c;border:1px solid #f0a68e;border-radius:6px;padding:3px 10px;cursor:pointer}
.flash{padding:10px 14px;border-radius:8px;margin-bottom:16px}.flash.ok{background:#e3f5ec;color:#1c5e3f}.flash.error{background:#fde1e1;color:#8a1c1c}
.status{font-size:12px;padding:1px 8px;border-radius:999px}.status.pending{background:#fdf0d5;color:#8a5a00}.status.active{background:#e3f5ec;color:#1c5e3f}
.status.orphaned{background:#fde1e1;color:#8a1c1c}code{background:#f1f2f6;padding:1px 5px;border-radius:4px}
textarea.catalog{max-width:none;font-family:ui-monospace,monospace;font-size:13px}
`;

export function csrfField(csrf: string): string {
  return `<input type="hidden" name="_csrf" value="${h(csrf)}">`;
}

function flashBox(flash: Flash | null): string {
  return flash
    ? `<div class="flash ${flash.kind}" role="${flash.kind === 'error' ? 'alert' : 'status'}">${h(flash.text)}</div>`
    : '';
}

/** A console page: the header with the viewer's navigation, the flash, the body. */
export function consolePage(
  view: { viewer: Viewer | null; csrf: string | null; flash?: Flash | null },
  title: string,
  body: string,
): string {
  const { viewer, csrf } = view;
  const links: string[] = [];
  if (viewer) {
    links.push('<a href="/console/clients">Clients</a>');
    links.push('<a href="/console/live">Live</a>');
    if (can(viewer, 'manage_users')) links.push('<a href="/console/people">People</a>');
    if (can(viewer, 'manage_users')) links.push('<a href="/console/audit">Audit log</a>');
    if (can(viewer, 'api_keys')) links.push('<a href="/console/keys">API keys</a>');
    if (can(viewer, 'billing')) links.push('<a href="/console/advisor">Plan advisor</a>');
    if (viewer.company) links.push('<a href="/console/health">Pipeline health</a>');
    if (can(viewer, 'oauth_secret')) links.push('<a href="/console/secret">OAuth secret</a>');
    links.push(`<span class="who">${h(viewer.email)}</span>`);
    if (csrf)
      links.push(
        `<form method="post" action="/console/logout">${csrfField(csrf)}<button type="submit">Sign out</button></form>`,
      );
  }
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${h(title)} · Meterline console</title>
<style>${CONSOLE_STYLE}</style>
</head>
<body>
<header class="top"><div class="brand">Meterline console</div><nav class="console">${links.join('')}</nav></header>
<main>
${flashBox(view.flash ?? null)}
<h1>${h(title)}</h1>
${body}
</main>
</body>
</html>`;
}

export function signInPage(flash: Flash | null): string {
  return consolePage(
    { viewer: null, csrf: null, flash },
    'Sign in',
    `<section class="card"><form method="post" action="/console/login">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>
<label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required>
<button class="primary" type="submit">Sign in</button></form>
<p class="muted">No account yet? <a href="/console/signup">Create one</a>: a company user can then add you.</p></section>`,
  );
}

export function signUpPage(flash: Flash | null): string {
  return consolePage(
    { viewer: null, csrf: null, flash },
    'Create an account',
    `<section class="card"><p class="muted">An account lets you sign in; it grants nothing until a company user adds you, or your partner assigns you to a client.</p>
<form method="post" action="/console/signup">
<label for="email">Email</label><input id="email" name="email" type="email" autocomplete="username" required>
<label for="name">Name</label><input id="name" name="name" type="text" required>
<label for="password">Password (at least 12 characters)</label><input id="password" name="password" type="password" autocomplete="new-password" minlength="12" required>
<button class="primary" type="submit">Create the account</button></form></section>`,
  );
}

export function clientsPage(
  view: { viewer: Viewer; csrf: string; flash: Flash | null },
  clients: Client[],
): string {
  const none = view.viewer.company
    ? '<p class="muted">No client has a provisioned add-on yet.</p>'
    : '<p class="muted">You see no client yet. A partner employee sees a client once the partner assigned them to it and the client approved it; a company user sees every client.</p>';
  const rows = clients
    .map(
      (c) =>
        `<tr data-client="${h(c.id)}"><td><a href="/console/clients/${encodeURIComponent(c.id)}">${h(c.name)}</a></td><td>${c.live} of ${c.resources}</td><td><code>${h(c.id)}</code></td></tr>`,
    )
    .join('');
  return consolePage(
    view,
    'Clients',
    `<section class="card">${rows ? `<table class="clients"><thead><tr><th>Client</th><th>Live add-ons</th><th>Id</th></tr></thead><tbody>${rows}</tbody></table>` : none}</section>`,
  );
}

export function clientPage(
  view: { viewer: Viewer; csrf: string; flash: Flash | null },
  client: Client,
  resources: Resource[],
  assignments: ClientAssignment[] | null,
  usage = '',
): string {
  const rows = resources
    .map(
      (r) =>
        `<tr data-resource="${h(r.id)}"><td><a href="/console/resources/${h(r.id)}">${h(r.name ?? r.id)}</a></td><td>${h(r.appName ?? '')}</td><td>${h(r.plan)}</td><td>${h(r.state)}</td></tr>`,
    )
    .join('');
  const people =
    assignments === null
      ? ''
      : `<section class="card" id="partner-employees"><h2>Partner employees</h2>${
          assignments.length === 0
            ? '<p class="muted">No partner employee is assigned to this client.</p>'
            : `<table class="assignments"><thead><tr><th>Person</th><th>Partner</th><th>Access</th><th></th></tr></thead><tbody>${assignments
                .map(
                  (a) =>
                    `<tr data-email="${h(a.email)}"><td>${h(a.name)} &lt;${h(a.email)}&gt;</td><td>${h(a.partner)}</td><td>${a.granted ? '<span class="status active">active</span>' : '<span class="status pending">pending client approval</span>'}</td><td><form method="post" action="/console/clients/${encodeURIComponent(client.id)}/unassign">${csrfField(view.csrf)}<input type="hidden" name="email" value="${h(a.email)}"><label>Type <code>${h(client.name)}</code> to remove</label><input type="text" name="confirmation" aria-label="confirm removal of ${h(a.email)}"><button class="danger" type="submit">Remove access</button></form></td></tr>`,
                )
                .join('')}</tbody></table>`
        }
<form method="post" action="/console/people/assign">${csrfField(view.csrf)}<input type="hidden" name="clients" value="${h(client.id)}"><input type="hidden" name="_from" value="client">
<label for="assign-email">Assign a partner employee (email)</label><input id="assign-email" name="email" type="email" required>
<label for="assign-partner">Their partner</label><input id="assign-partner" name="partner" type="text" required>
<button class="primary" type="submit">Assign</button></form></section>`;
  return consolePage(
    view,
    client.name,
    `<section class="card"><h2>Add-ons</h2>${rows ? `<table class="resources"><thead><tr><th>Add-on</th><th>App</th><th>Plan</th><th>State</th></tr></thead><tbody>${rows}</tbody></table>` : '<p class="muted">None.</p>'}</section>${usage}${people}`,
  );
}

export function resourcePage(
  view: { viewer: Viewer; csrf: string; flash: Flash | null },
  resource: Resource,
  report: UsageReport,
  alerts: StoredAlert[],
  emails: NotificationRecord[],
): string {
  const metrics = report.metrics
    .map(
      (m) =>
        `<tr data-metric="${h(m.metric)}"><td>${h(m.label)}</td><td class="used">${formatQuantity(m.used)}</td><td>${m.limit === null ? 'not limited' : formatQuantity(m.limit)}</td><td>${m.percent === null ? '' : `${m.percent}%`}</td><td>${m.tiersCrossed.map((t) => `${t}%`).join(', ')}</td></tr>`,
    )
    .join('');
  const downgrades = report.downgrades
    .map(
      (d) =>
        `<li data-plan="${h(d.plan)}" data-allowed="${d.allowed}"><strong>${h(d.displayName)}</strong>: ${d.allowed ? 'allowed' : `blocked. ${h(d.message)}`}</li>`,
    )
    .join('');
  const alertRows = alerts
    .map(
      (a) =>
        `<tr data-alert="${h(a.id)}"><td>${when(a.occurredAt)}</td><td>${h(a.metric)}</td><td>${h(a.kind)} ${a.threshold}%</td><td>${h(a.severity)}</td></tr>`,
    )
    .join('');
  const emailRows = emails
    .map(
      (e) =>
        `<tr><td>${when(e.sentAt ?? e.recordedAt)}</td><td>${h(e.recipient)}</td><td>${h(e.subject ?? '')}</td><td>${h(e.state)}</td></tr>`,
    )
    .join('');
  return consolePage(
    view,
    resource.name ?? resource.id,
    `<p class="muted">App ${h(resource.appName ?? 'unknown')} · plan ${h(report.planDisplayName)} · ${h(resource.state)} · ${report.daysLeft} days left this period</p>
<section class="card"><h2>Usage this period</h2><table class="usage"><thead><tr><th>Metric</th><th>Used</th><th>Limit</th><th>Share</th><th>Tiers crossed</th></tr></thead><tbody>${metrics}</tbody></table></section>
<section class="card"><h2>Downgrades</h2>${downgrades ? `<ul class="downgrades">${downgrades}</ul>` : '<p class="muted">No lower plan.</p>'}</section>
<section class="card"><h2>Alerts this period</h2>${alertRows ? `<table class="alerts"><tbody>${alertRows}</tbody></table>` : '<p class="muted">None.</p>'}</section>
<section class="card"><h2>Emails this period</h2>${emailRows ? `<table class="emails"><tbody>${emailRows}</tbody></table>` : '<p class="muted">None.</p>'}</section>`,
  );
}

function permissionBoxes(prefix: string, held: readonly Permission[] = []): string {
  return `<div class="perms">${(Object.entries(PERMISSIONS) as [Permission, string][])
    .map(
      ([p, text]) =>
        `<label title="${h(text)}"><input type="checkbox" name="permissions" value="${p}"${held.includes(p) ? ' checked' : ''} id="${prefix}-${p}"> ${h(p.replace('_', ' '))}</label>`,
    )
    .join('')}</div>`;
}

export function peoplePage(
  view: { viewer: Viewer; csrf: string; flash: Flash | null },
  people: { company: CompanyUser[]; partners: PartnerEmployee[]; hidden: HiddenPlanInstall[] },
): string {
  const csrf = csrfField(view.csrf);
  const company = people.company
    .map(
      (u) =>
        `<tr data-email="${h(u.email)}"><td>${h(u.name)} &lt;${h(u.email)}&gt;${u.superAdmin ? ' <span class="status active">super admin</span>' : ''}</td>
<td><form method="post" action="/console/people/company/permissions">${csrf}<input type="hidden" name="email" value="${h(u.email)}">${permissionBoxes(`p-${u.id}`, u.permissions)}<button type="submit">Save</button></form></td>
<td><form method="post" action="/console/people/company/remove">${csrf}<input type="hidden" name="email" value="${h(u.email)}"><button class="danger" type="submit">Remove</button></form></td></tr>`,
    )
    .join('');
  const partners = people.partners
    .map(
      (p) =>
        `<tr data-email="${h(p.email)}"><td>${h(p.name)} &lt;${h(p.email)}&gt;</td><td>${h(p.partner)}</td>
<td><form method="post" action="/console/people/partner/remove">${csrf}<input type="hidden" name="email" value="${h(p.email)}"><input type="hidden" name="partner" value="${h(p.partner)}"><button class="danger" type="submit">Remove from ${h(p.partner)}</button></form></td></tr>`,
    )
    .join('');
  const hidden = people.hidden
    .map(
      (i) =>
        `<tr data-resource="${h(i.resourceId)}"><td><a href="/console/resources/${h(i.resourceId)}">${h(i.resourceId)}</a></td><td>${h(i.plan)}</td><td>${h(i.installedBy)}${i.orphaned ? ' <span class="status orphaned">orphaned: no longer a company user</span>' : ''}</td><td>${when(i.installedAt)}</td></tr>`,
    )
    .join('');
  return consolePage(
    view,
    'People',
    `<section class="card" id="company-users"><h2>Company users</h2>
${company ? `<table class="company"><tbody>${company}</tbody></table>` : '<p class="muted">None.</p>'}
<form method="post" action="/console/people/company">${csrf}
<label for="company-email">Add a company user (the email must have an account)</label><input id="company-email" name="email" type="email" required>
${permissionBoxes('new')}
<button class="primary" type="submit">Add company user</button></form></section>
<section class="card" id="partner-employees"><h2>Partner employees</h2>
${partners ? `<table class="partners"><tbody>${partners}</tbody></table>` : '<p class="muted">None.</p>'}
<form method="post" action="/console/people/partner">${csrf}
<label for="partner-email">Mark a person as a partner employee (the email must have an account)</label><input id="partner-email" name="email" type="email" required>
<label for="partner-name">Partner</label><input id="partner-name" name="partner" type="text" required>
<button class="primary" type="submit">Mark as partner employee</button></form>
<form method="post" action="/console/people/assign">${csrf}
<label for="bulk-email">Assign a partner employee to clients</label><input id="bulk-email" name="email" type="email" required>
<label for="bulk-partner">Their partner</label><input id="bulk-partner" name="partner" type="text" required>
<label for="bulk-clients">Clients, by name or id, one per line</label><textarea id="bulk-clients" name="clients" required></textarea>
<button class="primary" type="submit">Assign</button></form></section>
<section class="card" id="hidden-installs"><h2>Hidden- and test-plan add-ons</h2>
<p class="muted">Removing a company user never deprovisions what they installed on a hidden or test plan.</p>
${hidden ? `<table class="hidden"><tbody>${hidden}</tbody></table>` : '<p class="muted">None.</p>'}</section>`,
  );
}

export function auditPage(
  view: { viewer: Viewer; csrf: string; flash: Flash | null },
  entries: AuditEntry[],
): string {
  const rows = entries
    .map(
      (e) =>
        `<tr data-action="${h(e.action)}"><td>${when(e.at)}</td><td>${h(e.actorEmail ?? '')}</td><td>${h(e.action)}</td><td>${h(e.target ?? '')}</td><td><code>${h(JSON.stringify(e.detail))}</code></td><td>${h(e.ip ?? '')}</td></tr>`,
    )
    .join('');
  return consolePage(
    view,
    'Audit log',
    `<section class="card"><table class="audit"><thead><tr><th>When</th><th>Who</th><th>What</th><th>Target</th><th>Detail</th><th>From</th></tr></thead><tbody>${rows}</tbody></table></section>`,
  );
}

export function keysPage(
  view: { viewer: Viewer; csrf: string; flash: Flash | null },
  keys: ApiKey[],
  created: string | null,
): string {
  const csrf = csrfField(view.csrf);
  const rows = keys
    .map(
      (k) =>
        `<tr data-key="${h(k.id)}"><td>${h(k.name)}</td><td>${h(k.scopes.join(', '))}</td><td>${h(k.createdBy ?? '')}</td><td>${k.lastUsedAt ? when(k.lastUsedAt) : 'never'}</td><td>${k.revokedAt ? `revoked ${when(k.revokedAt)}` : `<form method="post" action="/console/keys/${h(k.id)}/revoke">${csrf}<button class="danger" type="submit">Revoke</button></form>`}</td></tr>`,
    )
    .join('');
  return consolePage(
    view,
    'API keys',
    `${created ? `<section class="card"><h2>New key</h2><p>Copy it now: it is not shown again.</p><p><code class="new-key">${h(created)}</code></p></section>` : ''}
<section class="card"><table class="keys"><thead><tr><th>Name</th><th>Scopes</th><th>Made by</th><th>Last used</th><th></th></tr></thead><tbody>${rows}</tbody></table>
<form method="post" action="/console/keys">${csrf}<label for="key-name">Name</label><input id="key-name" name="name" type="text" required>
<input type="hidden" name="scopes" value="usage:read"><button class="primary" type="submit">Make a usage:read key</button></form></section>`,
  );
}

export function secretPage(
  view: { viewer: Viewer; csrf: string; flash: Flash | null },
  shown: string,
): string {
  return consolePage(
    view,
    'OAuth secret',
    `<section class="card"><p>HEROKU_OAUTH_CLIENT_SECRET: <code class="secret">${h(shown)}</code></p>
<form method="post" action="/console/secret/reveal">${csrfField(view.csrf)}<button type="submit">Reveal (recorded in the audit log)</button></form>
<p class="muted">To reset it, reset it in Heroku's Partner Portal and set the new value in the api's configuration.</p></section>`,
  );
}
