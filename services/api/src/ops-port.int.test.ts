import { worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { startTestApi } from './testkit.ts';
import type { RunningApi } from './wire.ts';

const it = worldTest('apiopsport');

describe('the ops port (ADR 0018)', () => {
  let api: RunningApi;

  it.beforeAll(async ({ world }) => {
    api = await startTestApi(world, { PROVISIONING_MODE: 'sync' }, Date.now);
  });
  it.afterAll(async () => {
    await api?.stop();
  });

  it('serves /readyz and /metrics on the ops port only; /healthz on both', async () => {
    expect(api.opsPort).not.toBe(api.port);
    for (const path of ['/readyz', '/metrics']) {
      const res = await fetch(`${api.url}${path}`);
      expect(res.status, path).toBe(404);
      expect(((await res.json()) as { message: string }).message).toContain('not found');
    }
    const ready = await fetch(`${api.opsUrl}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ ready: true, checks: { postgres: 'ok', redis: 'ok' } });
    const metrics = await fetch(`${api.opsUrl}/metrics`);
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(await metrics.text()).toContain('meterline_api_request_seconds');
    expect(await (await fetch(`${api.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${api.opsUrl}/healthz`)).json()).toEqual({ status: 'ok' });
  });
});
