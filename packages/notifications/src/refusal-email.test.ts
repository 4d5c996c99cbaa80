import { describe, expect, it } from 'vitest';
import type { AccessEntry } from './recipients.ts';
import { refusalRecipients, renderProvisionRefusalEmail } from './refusal-email.ts';

const flat = (s: string) => s.replace(/\s+/g, ' ');
const REASON =
  'This app provisioned and removed this add-on 4 times in the last 7 days. You can provision it again from 9 December 2026.';

describe('the refused-provision email', () => {
  const view = {
    addonName: 'meter-1a2b3c4d',
    appName: 'acme-shop',
    planDisplayName: 'Basic',
    reason: REASON,
    refusedAt: Date.UTC(2026, 11, 3, 9, 30),
    providerName: 'Meterline',
  };

  it("says what was not set up, why in the refusal's own words, and that nothing is charged", () => {
    const email = renderProvisionRefusalEmail(view);
    expect(email.subject).toBe('Your Basic add-on for acme-shop was not set up');
    const text = flat(email.text);
    expect(text).toContain('We could not set up the Basic plan of Meterline for acme-shop.');
    expect(text).toContain(REASON);
    expect(text).toContain('meter-1a2b3c4d on acme-shop');
    expect(text).toContain('3 December 2026');
    expect(text).toContain('you are not charged for it');
    expect(text).not.toContain('If you think this is a mistake');
    expect(flat(email.html)).toContain(REASON);
  });

  it('names the support contact when there is one, and escapes what it puts in HTML', () => {
    const email = renderProvisionRefusalEmail({
      ...view,
      appName: null,
      reason: 'Refused <because> "reasons" & more',
      supportContact: 'support@provider.example',
    });
    expect(email.subject).toBe('Your Basic add-on was not set up');
    expect(flat(email.text)).toContain('contact support@provider.example');
    expect(email.html).toContain('Refused &#60;because&#62; &#34;reasons&#34; &#38; more');
    expect(email.html).not.toContain('<because>');
  });
});

describe('refusalRecipients', () => {
  const access: AccessEntry[] = [
    { email: 'Owner@Customer.example', name: 'Olive Owner', role: 'owner' },
    { email: 'admin@customer.example', role: 'admin' },
    { email: 'member@customer.example', role: 'member' },
    { email: 'viewer@customer.example', role: 'viewer' },
  ];

  it('tells the owner, the admins and the contacts, each once', () => {
    const chosen = refusalRecipients(access, [
      { email: 'ops@customer.example' },
      { email: 'owner@customer.example' },
    ]);
    expect(chosen).toEqual([
      { email: 'Owner@Customer.example', name: 'Olive Owner', reason: 'owner of the app' },
      { email: 'admin@customer.example', reason: 'admin of the app' },
      { email: 'ops@customer.example', reason: 'contact of the resource' },
    ]);
  });

  it('tells everyone on the access list when it names no owner or admin, and nobody when there is none', () => {
    const members = access.filter((a) => a.role === 'member' || a.role === 'viewer');
    expect(refusalRecipients(members, []).map((r) => r.email)).toEqual([
      'member@customer.example',
      'viewer@customer.example',
    ]);
    expect(refusalRecipients([], [])).toEqual([]);
  });
});
