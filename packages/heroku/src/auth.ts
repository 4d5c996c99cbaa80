import { createHash, timingSafeEqual } from 'node:crypto';

// Hashing both sides first gives equal-length buffers, so neither the content nor the length leaks by timing.
export function constantTimeEqual(a: string, b: string): boolean {
  const da = createHash('sha256').update(a, 'utf8').digest();
  const db = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(da, db);
}

/**
 * Checks Heroku's `Authorization: Basic base64(id:password)` header against the manifest's id and password.
 * A list of passwords lets the manifest password rotate without downtime (accept old and new, then drop old).
 */
export function checkBasicAuth(
  header: string | undefined,
  id: string,
  password: string | readonly string[],
): boolean {
  if (!header) return false;
  const match = /^basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(header);
  if (!match) return false;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return false;
  const givenId = decoded.slice(0, colon);
  const givenPassword = decoded.slice(colon + 1);
  const passwords = typeof password === 'string' ? [password] : password;
  // Compare against every configured password without short-circuiting, so timing does not say which matched.
  let passwordOk = false;
  for (const candidate of passwords) {
    if (candidate.length > 0 && constantTimeEqual(givenPassword, candidate)) passwordOk = true;
  }
  const idOk = constantTimeEqual(givenId, id);
  return idOk && passwordOk;
}

/** The header Heroku sends; for tests, the demo and the fake. */
export function basicAuthHeader(id: string, password: string): string {
  return `Basic ${Buffer.from(`${id}:${password}`, 'utf8').toString('base64')}`;
}
