import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@meterline/runtime';
import { worldTest } from '@meterline/test/support';
import { describe, expect } from 'vitest';
import { loadCatalog, readCatalogFile } from './index.ts';

const example = new URL('../../../plans.example.yaml', import.meta.url).pathname;

const it = worldTest('catalog');

describe('plan catalog in Postgres', () => {
  it('stores the example catalog under its version, idempotently', async ({ world }) => {
    const catalog = await loadCatalog(world.pool, example);
    await loadCatalog(world.pool, example);
    const { rows } = await world.pool.query('SELECT name, rank, catalog_version FROM plans ORDER BY rank');
    expect(rows.map((r) => r.name)).toEqual(catalog.plans.map((p) => p.name));
    expect(new Set(rows.map((r) => r.catalog_version))).toEqual(new Set([catalog.version]));
    const versions = await world.pool.query('SELECT count(*)::int AS n FROM plan_catalogs');
    expect(versions.rows[0].n).toBe(1);
  });

  it('refuses a bad file with a message naming PLANS_FILE, the plan and the field', () => {
    const bad = join(tmpdir(), `plans-bad-${process.pid}.yaml`);
    writeFileSync(
      bad,
      'plans:\n  - name: basic\n    rank: 1\n    limits: { api_calls: x }\n    thresholds: [50]\n    overLimit: no\n',
    );
    expect(() => readCatalogFile(bad)).toThrow(ConfigError);
    expect(() => readCatalogFile(bad)).toThrow(/PLANS_FILE[\s\S]*basic[\s\S]*limits\.api_calls/);
    expect(() => readCatalogFile(undefined)).toThrow(/PLANS_FILE: is required/);
  });
});
