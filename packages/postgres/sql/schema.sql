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

COMMIT;
