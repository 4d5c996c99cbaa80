/** The browser-facing headers of every response: a strict Content-Security-Policy and its companions. */
import { createHash } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { CONSOLE_STYLE } from './console/render.ts';
import { STYLE } from './dashboard/render.ts';

const sha256 = (text: string) => `'sha256-${createHash('sha256').update(text, 'utf8').digest('base64')}'`;

/**
 * The pages are rendered on the server and run no script, so nothing may run (default-src 'none'; the
 * live page alone adds its own script file and event stream, routes/live.ts). The
 * only inline styles are the two stylesheets, fixed at build time: allowed by their hashes, so markup
 * slipped into a page can neither run script nor bring a style, and no 'unsafe-inline' is needed.
 * Forms post to this origin only; no other site may frame a page (clickjacking of the partner-access
 * and console forms), nor set a base URL.
 */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  `style-src ${sha256(STYLE)} ${sha256(CONSOLE_STYLE)}`,
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ');

const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  // For browsers that predate frame-ancestors.
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  // Page URLs hold resource ids: other sites are not told them.
  'referrer-policy': 'same-origin',
};

/** Sets the headers on every response the routes send (JSON too: a JSON answer opened in a browser
 * is a document like any page). The ops routes write to the socket themselves and are not pages. */
export function securityHeaders(app: FastifyInstance): void {
  app.addHook('onSend', async (_request, reply, payload) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) {
      if (!reply.hasHeader(name)) reply.header(name, value);
    }
    return payload;
  });
}
