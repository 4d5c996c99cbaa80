import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { createPlatformClient } from '../platform.ts';
import { startFakePlatform } from './index.ts';

describe('fake platform', () => {
  it('can be seeded over HTTP and then serves the client', async () => {
    const fake = await startFakePlatform();
    try {
      const post = (path: string, body: unknown) =>
        fetch(`${fake.url}${path}`, { method: 'POST', body: JSON.stringify(body) });
      expect(
        (await post('/_fake/apps', { id: 'a1', name: 'demo', owner: { id: 'u1', email: 'o@x.com' } })).status,
      ).toBe(200);
      expect((await post('/_fake/grants', { code: 'c1', addonId: 'ad1', appId: 'a1' })).status).toBe(200);
      expect((await post('/_fake/grants', { code: 'c2' })).status).toBe(422);

      const client = createPlatformClient({ apiUrl: fake.url, idUrl: fake.idUrl, clientSecret: 'any' });
      const tokens = await client.exchangeGrant('c1');
      await client.updateAddonConfig(tokens.accessToken, 'ad1', { DEMO_URL: 'http://x' });
      await client.markProvisioned(tokens.accessToken, 'ad1');
      const addon = await (await fetch(`${fake.url}/_fake/addons/ad1`)).json();
      expect(addon).toMatchObject({ state: 'provisioned', config: { DEMO_URL: 'http://x' } });
    } finally {
      await fake.close();
    }
  });

  it('runs standalone and prints its URLs', async () => {
    const main = fileURLToPath(new URL('./main.ts', import.meta.url));
    const child = spawn(process.execPath, ['--import', 'tsx', main], {
      env: { ...process.env, PORT: '0' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
      const url = /HEROKU_API_URL=(\S+)/.exec(chunk.toString())?.[1];
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const res = await fetch(`${url}/addons/x`, {
        headers: { Accept: 'application/vnd.heroku+json; version=3', Authorization: 'Bearer nope' },
      });
      expect(res.status).toBe(401);
    } finally {
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});
