import { expect } from 'vitest';
import { worldTest } from './fixtures.ts';

// The services' Postgres pool (@meterline/db createPool) on a real server; here because the test world
// is where a pool with a schema of its own comes from.
const it = worldTest('db-pool');

it('a checked-out client whose connection drops: its next query fails, the process lives on', async ({
  world,
}) => {
  const client = await world.pool.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    // Its backend ends while no query of it is in flight (as in a Postgres restart between two
    // statements of a transaction). Without a listener of its own, the client's 'error' would end
    // the process, and vitest would report it as an unhandled error.
    await world.pool.query('SELECT pg_terminate_backend($1)', [rows[0]!.pid]);
    await new Promise((r) => setTimeout(r, 300));
    await expect(client.query('SELECT 1')).rejects.toThrow();
  } finally {
    client.release();
  }
  // The broken client left the pool: the next query gets a working one.
  const { rows } = await world.pool.query<{ one: number }>('SELECT 1 AS one');
  expect(rows[0]!.one).toBe(1);
});
