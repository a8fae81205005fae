-- @usertracking/postgres schema, every version: the tables postgresStore() reads and writes, for
-- teams that run their own migrations. It is exactly what `await store.migrate()` applies for the
-- default names (schema "public", table "user_activities"); for other names, print
-- schemaSql('your_schema', 'your_table') from the package. Running this and migrate() both is safe.
BEGIN;

CREATE SCHEMA IF NOT EXISTS "public";

CREATE TABLE IF NOT EXISTS "public"."usertracking_migrations" (
  table_name text NOT NULL,
  version integer NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (table_name, version)
);

CREATE TABLE IF NOT EXISTS "public"."user_activities" (
  id uuid PRIMARY KEY,
  user_id text,
  anonymous_id text,
  session_id text,
  activity_type text NOT NULL,
  description text,
  "timestamp" timestamptz NOT NULL,
  received_at timestamptz NOT NULL DEFAULT now(),
  end_time timestamptz,
  duration_ms double precision,
  status text CHECK (status IN ('success', 'error')),
  error text,
  token_usage jsonb,
  total_tokens double precision GENERATED ALWAYS AS (
    CASE WHEN jsonb_typeof(token_usage -> 'total') = 'number' THEN (token_usage ->> 'total')::double precision END
  ) STORED,
  context jsonb,
  metadata jsonb
);

CREATE INDEX IF NOT EXISTS "user_activities_user_time_idx" ON "public"."user_activities" (user_id, "timestamp", id);

CREATE INDEX IF NOT EXISTS "user_activities_time_idx" ON "public"."user_activities" ("timestamp", id);

INSERT INTO "public"."usertracking_migrations" (table_name, version) VALUES ('user_activities', 1) ON CONFLICT DO NOTHING;

ALTER TABLE "public"."user_activities" ADD COLUMN IF NOT EXISTS cost jsonb;

CREATE INDEX IF NOT EXISTS "user_activities_received_idx" ON "public"."user_activities" (received_at, id);

CREATE INDEX IF NOT EXISTS "user_activities_anonymous_idx" ON "public"."user_activities" (anonymous_id, "timestamp", id) WHERE anonymous_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS "public"."user_activities_identities" (
  anonymous_id text PRIMARY KEY,
  user_id text NOT NULL,
  linked_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS "user_activities_ident_user_idx" ON "public"."user_activities_identities" (user_id);

CREATE TABLE IF NOT EXISTS "public"."user_activities_deletions" (
  subject_kind text NOT NULL CHECK (subject_kind IN ('user', 'anonymous')),
  subject text NOT NULL,
  deleted_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (subject_kind, subject)
);

INSERT INTO "public"."usertracking_migrations" (table_name, version) VALUES ('user_activities', 2) ON CONFLICT DO NOTHING;

WITH plain AS (DELETE FROM "public"."user_activities_deletions" WHERE subject NOT LIKE 'sha256:%' RETURNING subject_kind, subject, deleted_at)
INSERT INTO "public"."user_activities_deletions" AS kept (subject_kind, subject, deleted_at) SELECT subject_kind, 'sha256:' || encode(sha256(convert_to(subject, 'UTF8')), 'hex'), deleted_at FROM plain
ON CONFLICT (subject_kind, subject) DO UPDATE SET deleted_at = greatest(kept.deleted_at, excluded.deleted_at);

INSERT INTO "public"."usertracking_migrations" (table_name, version) VALUES ('user_activities', 3) ON CONFLICT DO NOTHING;

CREATE OR REPLACE FUNCTION "public"."user_activities_ingest"(text[], text[], text[], text[], text[], text[], text[], text[], float8[], text[], text[], text[], text[], text[], text[], text[], float8)
RETURNS TABLE (id text, deleted boolean) LANGUAGE plpgsql AS $usertracking$
#variable_conflict use_column
BEGIN
RETURN QUERY WITH input AS (
  SELECT u.*, l.user_id AS linked_user, greatest(du.deleted_at, da.deleted_at) AS deleted_at
  FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[],
  $9::float8[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[])
  WITH ORDINALITY AS u(id, user_id, anonymous_id, session_id, activity_type, description, ts, end_time, duration_ms, status,
  error, token_usage, context, metadata, cost, received_at, ordinal)
  LEFT JOIN "public"."user_activities_identities" AS l ON u.user_id IS NULL AND l.anonymous_id = u.anonymous_id
  LEFT JOIN "public"."user_activities_deletions" AS du ON u.user_id IS NOT NULL AND du.subject_kind = 'user'
    AND du.subject = 'sha256:' || encode(sha256(convert_to(u.user_id, 'UTF8')), 'hex') AND du.deleted_at > now() - $17::float8 * interval '1 millisecond'
  LEFT JOIN "public"."user_activities_deletions" AS da ON u.anonymous_id IS NOT NULL AND da.subject_kind = 'anonymous'
    AND da.subject = 'sha256:' || encode(sha256(convert_to(u.anonymous_id, 'UTF8')), 'hex') AND da.deleted_at > now() - $17::float8 * interval '1 millisecond'
), stored AS (
  INSERT INTO "public"."user_activities" (id, user_id, anonymous_id, session_id, activity_type, description, "timestamp", end_time, duration_ms, status, error, token_usage, context, metadata, cost, received_at)
  SELECT id::uuid, coalesce(user_id, linked_user), anonymous_id, session_id, activity_type, description, ts::timestamptz,
  end_time::timestamptz, duration_ms, status, error, token_usage::jsonb, context::jsonb, metadata::jsonb,
  cost::jsonb, coalesce(received_at::timestamptz, now())
  FROM input WHERE deleted_at IS NULL OR ts::timestamptz > deleted_at
  ORDER BY ordinal
  ON CONFLICT DO NOTHING
  RETURNING id::text AS id
)
SELECT id, false AS deleted FROM stored
UNION ALL SELECT id, true FROM input WHERE ts::timestamptz <= deleted_at;
END
$usertracking$;

INSERT INTO "public"."usertracking_migrations" (table_name, version) VALUES ('user_activities', 4) ON CONFLICT DO NOTHING;

COMMIT;
