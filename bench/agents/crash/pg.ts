/** The PostgreSQL the crash modules keep their state in: 127.0.0.1:5432, trust auth, `test`. */

interface PgClient {
  connect(): Promise<void>;
  query(sql: string): Promise<unknown>;
  end(): Promise<void>;
}
type PgModule = { default: { Client: new (o: { connectionString: string }) => PgClient } };

export const PG_URL = 'postgresql://postgres@127.0.0.1:5432/test';

/** Drops the schema `schema` and what is in it. */
export async function dropSchema(schema: string): Promise<void> {
  // `pg` comes with the peers' Postgres stores (it ships no types of its own)
  const pg = (await import('pg' as string)) as PgModule;
  const client = new pg.default.Client({ connectionString: PG_URL });
  await client.connect();
  try {
    await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
  } finally {
    await client.end();
  }
}
