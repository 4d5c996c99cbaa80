import { describe, expect, it } from 'vitest';
import {
  type AccessEntry,
  chooseRecipients,
  DEFAULT_RECIPIENT_POLICY,
  parseRecipientPolicy,
  RecipientPolicyError,
} from './recipients.ts';

const access: AccessEntry[] = [
  { email: 'owner@customer.example', name: 'Olive Owner', role: 'owner' },
  { email: 'admin@customer.example', role: 'admin' },
  { email: 'member@customer.example', role: 'member' },
  { email: 'collab@partner.example', role: 'collaborator' },
  { email: 'viewer@customer.example', role: 'viewer' },
];
const contacts = [{ email: 'ops@customer.example', name: 'Ops desk' }];
const staff = [{ email: 'support@meterline.example', name: 'Support' }];

const emails = (rs: { email: string }[]) => rs.map((r) => r.email);

describe('parseRecipientPolicy', () => {
  it('defaults to owners and admins, and everyone for CRITICAL', () => {
    expect(parseRecipientPolicy(undefined)).toEqual({
      INFO: ['owner', 'admin'],
      WARNING: ['owner', 'admin'],
      CRITICAL: 'all',
    });
    expect(parseRecipientPolicy('  ')).toEqual(DEFAULT_RECIPIENT_POLICY);
  });

  it('reads a custom policy; a severity it does not name keeps its default', () => {
    expect(parseRecipientPolicy(' info = owner ; WARNING=owner,admin,member; ')).toEqual({
      INFO: ['owner'],
      WARNING: ['owner', 'admin', 'member'],
      CRITICAL: 'all',
    });
    expect(parseRecipientPolicy('INFO=none;CRITICAL=owner,admin')).toEqual({
      INFO: [],
      WARNING: ['owner', 'admin'],
      CRITICAL: ['owner', 'admin'],
    });
  });

  it.each([
    ['INFO', /"INFO" is not SEVERITY=roles/],
    ['DEBUG=owner', /unknown severity "DEBUG"/],
    ['INFO=ownr', /unknown role "ownr" for INFO/],
    ['INFO=owner;INFO=admin', /INFO is given more than once/],
    ['INFO=', /INFO names no role/],
    ['CRITICAL=all,owner', /"all" and "none" stand alone/],
  ])('refuses %j with an error naming ALERT_RECIPIENTS', (text, problem) => {
    expect(() => parseRecipientPolicy(text)).toThrow(RecipientPolicyError);
    expect(() => parseRecipientPolicy(text)).toThrow(/^ALERT_RECIPIENTS: /);
    expect(() => parseRecipientPolicy(text)).toThrow(problem);
  });
});

describe('chooseRecipients', () => {
  const choose = (severity: 'INFO' | 'WARNING' | 'CRITICAL', policy = DEFAULT_RECIPIENT_POLICY) =>
    chooseRecipients({ severity, access, contacts, staff, policy });

  it('sends INFO and WARNING to owners, admins and the resource contacts by default', () => {
    for (const severity of ['INFO', 'WARNING'] as const) {
      expect(emails(choose(severity))).toEqual([
        'owner@customer.example',
        'admin@customer.example',
        'ops@customer.example',
      ]);
    }
  });

  it('sends CRITICAL to everyone with access, the contacts and subscribed staff', () => {
    const chosen = choose('CRITICAL');
    expect(emails(chosen)).toEqual([
      ...access.map((a) => a.email),
      'ops@customer.example',
      'support@meterline.example',
    ]);
    expect(chosen.at(-1)).toEqual({
      email: 'support@meterline.example',
      name: 'Support',
      reason: 'staff subscribed to critical alerts',
    });
  });

  it('follows a custom policy, and contacts receive even when it names nobody', () => {
    const policy = parseRecipientPolicy('INFO=none;WARNING=member,viewer');
    expect(emails(choose('INFO', policy))).toEqual(['ops@customer.example']);
    expect(emails(choose('WARNING', policy))).toEqual([
      'member@customer.example',
      'viewer@customer.example',
      'ops@customer.example',
    ]);
  });

  it('gives staff CRITICAL only', () => {
    const everyone = parseRecipientPolicy('INFO=all;WARNING=all');
    expect(emails(choose('INFO', everyone))).not.toContain('support@meterline.example');
    expect(emails(choose('WARNING', everyone))).not.toContain('support@meterline.example');
  });

  it('sends one email per address, whatever its case, keeping the first reason', () => {
    const chosen = chooseRecipients({
      severity: 'CRITICAL',
      access: [{ email: 'Olive@Customer.example', role: 'owner' }],
      contacts: [{ email: 'olive@customer.EXAMPLE ', name: 'Olive' }],
      staff: [{ email: 'OLIVE@customer.example' }],
      policy: DEFAULT_RECIPIENT_POLICY,
    });
    expect(chosen).toEqual([{ email: 'Olive@Customer.example', name: 'Olive', reason: 'owner of the app' }]);
  });
});
