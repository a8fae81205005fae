import { checkDeletionSubject, checkIdentityLink, type Activity, type DeletionResult, type DeletionSubject, type IdentifyResult, type IdentityLink, type RejectedActivity } from '@usertracking/core'
import type { PostgresAdapter, PostgresConnection } from './client-adapter'
import { escapeText, unescapeText } from './nul-escape'
import { UNNEST_ROWS, unnestSelect, WRITE_COLUMNS } from './rows'
import type { SqlNames } from './sql-names'

/** Rows deleted per statement: a large user's deletion never holds many row locks at once. */
const DELETE_BATCH = 5000


/** A value compared with (or set into) a column or expression, and the cast its parameter needs. */
export interface StoredValue {
  value: unknown
  cast: string
}

/** Where `identify` and `deleteActivities` find a person's rows, in the SDK's table or a mapped one. */
export interface IdentityTarget {
  /** The table, without an alias (UPDATE and DELETE name it). */
  table: string
  /** A column (or the primary key) that identifies a row, for deleting in bounded batches. */
  rowKey: string
  /** The user id's expression and how a user id is stored; `undefined` when the table keeps none. */
  user: { sql: string; store(userId: string): Promise<StoredValue> | StoredValue } | undefined
  /** As `user`, for the anonymous id. */
  anonymous: { sql: string; store(anonymousId: string): Promise<StoredValue> | StoredValue } | undefined
  /**
   * The user column to set when linking (a plain column, never a JSON key), or why linking cannot be
   * done on this table.
   */
  linkColumn: string | { refused: string }
}

/** The SDK's own table, whose ids are text escaped for NUL characters. */
export function ownIdentityTarget(names: SqlNames): IdentityTarget {
  const store = (value: string): StoredValue => ({ value: escapeText(value), cast: '' })
  return {
    table: names.qualifiedTable,
    rowKey: 'id',
    user: { sql: 'user_id', store },
    anonymous: { sql: 'anonymous_id', store },
    linkColumn: 'user_id',
  }
}

/**
 * Links an anonymous id to a user: remembered in the identities table (so later writes under that
 * anonymous id get the user too) and back-filled into the rows already stored without a user.
 */
export async function linkIdentity(adapter: PostgresAdapter, names: SqlNames, target: IdentityTarget, link: IdentityLink): Promise<IdentifyResult> {
  const { userId, anonymousId } = checkIdentityLink(link, 'postgres')
  const { user, anonymous, linkColumn } = target
  if (typeof linkColumn !== 'string' || !user || !anonymous) {
    const why = typeof linkColumn !== 'string' ? linkColumn.refused : 'it keeps no anonymous id'
    throw new TypeError(`[usertracking] [postgres] identify() cannot link on this table: ${why}.`)
  }
  const storedUser = await user.store(userId)
  const storedAnonymous = await anonymous.store(anonymousId)
  return adapter.transaction(async (connection) => {
    // A device shared by two people links to whoever signed in last; rows keep who they were linked to.
    await connection.query(
      `INSERT INTO ${names.identitiesTable} (anonymous_id, user_id) VALUES ($1, $2)
ON CONFLICT (anonymous_id) DO UPDATE SET user_id = EXCLUDED.user_id, linked_at = now()`,
      [escapeText(anonymousId), escapeText(userId)],
    )
    const rows = await connection.query(
      `WITH linked AS (UPDATE ${target.table} SET ${linkColumn} = $2${storedUser.cast} WHERE ${anonymous.sql} = $1${storedAnonymous.cast} AND ${user.sql} IS NULL RETURNING 1)
SELECT count(*)::float8 AS linked FROM linked`,
      [storedAnonymous.value, storedUser.value],
    )
    return { linked: Number(rows[0]?.linked ?? 0) }
  })
}

/**
 * Deletes the rows of `target.table` matching `condition`, {@link DELETE_BATCH} a statement (each
 * its own short transaction), until none is left or `signal` aborts; returns how many went.
 */
export async function deleteWhere(
  connection: PostgresConnection,
  target: Pick<IdentityTarget, 'table' | 'rowKey'>,
  condition: string,
  params: unknown[],
  signal?: AbortSignal,
): Promise<number> {
  let deleted = 0
  for (;;) {
    if (signal?.aborted) return deleted
    const rows = await connection.query(
      `WITH gone AS (DELETE FROM ${target.table} WHERE ${target.rowKey} IN (SELECT ${target.rowKey} FROM ${target.table} WHERE ${condition} LIMIT ${DELETE_BATCH}) RETURNING 1)
SELECT count(*)::float8 AS deleted FROM gone`,
      params,
    )
    const count = Number(rows[0]?.deleted ?? 0)
    deleted += count
    if (count < DELETE_BATCH) return deleted
  }
}

/**
 * Deletes one person: first the tombstones (so a delivery racing the deletion is refused), and the
 * identity links, in one transaction; then their rows, {@link DELETE_BATCH} at a time, each
 * statement its own short transaction.
 */
export async function deleteSubject(
  adapter: PostgresAdapter,
  names: SqlNames,
  target: IdentityTarget,
  subject: DeletionSubject,
  tombstoneMs: number,
): Promise<DeletionResult> {
  const { userId, anonymousId } = checkDeletionSubject(subject, 'postgres')
  const byUser = userId !== undefined
  const byVisitor = !byUser
  const kept = byUser ? target.user : target.anonymous
  if (kept === undefined) {
    throw new TypeError(`[usertracking] [postgres] deleteActivities() cannot find activities by ${byUser ? 'userId' : 'anonymousId'}: the table's mapping gives it no column or JSON key.`)
  }
  // The id itself is never stored: a late delivery is matched by the hash of its own id.
  const tombstone = `INSERT INTO ${names.deletionsTable} (subject_kind, subject) VALUES ($1, ${subjectHashSql('$2::text')})
ON CONFLICT (subject_kind, subject) DO UPDATE SET deleted_at = now()`
  if (byVisitor) {
    const anonymous = escapeText(anonymousId as string)
    const stored = await kept.store(anonymousId as string)
    await adapter.transaction(async (connection) => {
      await connection.query(tombstone, ['anonymous', anonymous])
      await connection.query(`DELETE FROM ${names.identitiesTable} WHERE anonymous_id = $1`, [anonymous])
    })
    return { deleted: await deleteWhere(adapter, target, `${kept.sql} = $1${stored.cast}`, [stored.value]) }
  }
  const user = escapeText(userId as string)
  const stored = await kept.store(userId as string)
  const linked = await adapter.transaction(async (connection) => {
    await connection.query(`DELETE FROM ${names.deletionsTable} WHERE deleted_at < now() - $1::float8 * interval '1 millisecond'`, [tombstoneMs])
    await connection.query(tombstone, ['user', user])
    const links = await connection.query(`DELETE FROM ${names.identitiesTable} WHERE user_id = $1 RETURNING anonymous_id`, [user])
    // A late delivery under one of the person's anonymous ids is still theirs.
    for (const link of links) await connection.query(tombstone, ['anonymous', link.anonymous_id])
    return links.map((link) => unescapeText(String(link.anonymous_id)))
  })
  let deleted = await deleteWhere(adapter, target, `${kept.sql} = $1${stored.cast}`, [stored.value])
  if (linked.length > 0 && target.anonymous) {
    const anonymousIds = await Promise.all(linked.map((id) => target.anonymous!.store(id)))
    const cast = anonymousIds[0]!.cast
    deleted += await deleteWhere(adapter, target, `${kept.sql} IS NULL AND ${target.anonymous.sql} = ANY($1${cast ? `${cast}[]` : '::text[]'})`, [
      anonymousIds.map((stored) => stored.value),
    ])
  }
  return { deleted }
}

/**
 * SQL for what a tombstone keeps of `text` (a user or anonymous id): `sha256:` and the hex SHA-256
 * of its UTF-8 bytes, so the deletions table never holds the id of a person who asked to be forgotten.
 */
export function subjectHashSql(text: string): string {
  return `'sha256:' || encode(sha256(convert_to(${text}, 'UTF8')), 'hex')`
}

/** Why a write refuses an activity of a person deleted after it was tracked. */
export const DELETED_BEFORE_DELIVERY = 'The person was deleted after this activity was tracked.'

/**
 * The deletion of `kind` (`'user'` or `'anonymous'`) whose subject is the (escaped) id `subject`,
 * made within the tombstone window (`windowParam`, in milliseconds), joined as `alias`: its
 * `deleted_at` is NULL when there is none.
 */
export function tombstoneJoin(names: SqlNames, alias: string, kind: 'user' | 'anonymous', subject: string, windowParam: string): string {
  return `LEFT JOIN ${names.deletionsTable} AS ${alias} ON ${subject} IS NOT NULL AND ${alias}.subject_kind = '${kind}'
    AND ${alias}.subject = ${subjectHashSql(subject)} AND ${alias}.deleted_at > now() - ${windowParam}::float8 * interval '1 millisecond'`
}

/**
 * {@link screenBatch} and the small-batch insert in one statement, for the SDK's own table: the same
 * rows as `unnestInsertSql` (its sixteen column arrays, then `$17`, the tombstone window in
 * milliseconds), each refused when a deletion of its user or its anonymous visitor within the window
 * came at or after its timestamp, and given the user its anonymous visitor was linked to when it has
 * none. One round trip instead of two: the screening query cost as much as the insert on
 * single-activity ingest (docs/benchmarks.md). Answers a row per stored id (`deleted` false) and
 * per refused one (`deleted` true); an id the table already held is in neither.
 */
export function screenedInsertSql(names: SqlNames): string {
  return `WITH input AS (
  SELECT u.*, l.user_id AS linked_user, greatest(du.deleted_at, da.deleted_at) AS deleted_at
  FROM ${UNNEST_ROWS}
  LEFT JOIN ${names.identitiesTable} AS l ON u.user_id IS NULL AND l.anonymous_id = u.anonymous_id
  ${tombstoneJoin(names, 'du', 'user', 'u.user_id', '$17')}
  ${tombstoneJoin(names, 'da', 'anonymous', 'u.anonymous_id', '$17')}
), stored AS (
  INSERT INTO ${names.qualifiedTable} (${WRITE_COLUMNS})
  SELECT ${unnestSelect('coalesce(user_id, linked_user)')}
  FROM input WHERE deleted_at IS NULL OR ts::timestamptz > deleted_at
  ORDER BY ordinal
  ON CONFLICT DO NOTHING
  RETURNING id::text AS id
)
SELECT id, false AS deleted FROM stored
UNION ALL SELECT id, true FROM input WHERE ts::timestamptz <= deleted_at`
}

/** A batch after {@link screenBatch}: what to store, and what a deletion refuses. */
export interface ScreenedBatch {
  batch: Activity[]
  rejected: RejectedActivity[]
}

/**
 * Applies what `identify` and `deleteActivities` left behind to a batch about to be written, in one
 * query: activities of a deleted person tracked before the deletion are refused, and an anonymous
 * visitor's activities without a user get the user they were linked to. The activities passed in
 * are not changed (a linked one is copied).
 */
export async function screenBatch(
  adapter: PostgresAdapter,
  names: SqlNames,
  batch: Activity[],
  tombstoneMs: number,
): Promise<ScreenedBatch> {
  const users = new Set<string>()
  const anonymous = new Set<string>()
  const unlinked = new Set<string>()
  for (const activity of batch) {
    if (typeof activity?.userId === 'string') users.add(escapeText(activity.userId))
    if (typeof activity?.anonymousId === 'string') {
      anonymous.add(escapeText(activity.anonymousId))
      if (activity.userId === undefined) unlinked.add(escapeText(activity.anonymousId))
    }
  }
  if (users.size === 0 && anonymous.size === 0) return { batch, rejected: [] }
  const rows = await adapter.query(
    `SELECT d.subject_kind AS kind, asked.subject, (extract(epoch from d.deleted_at) * 1000)::float8 AS at, NULL::text AS linked
FROM (SELECT 'user'::text AS kind, subject FROM unnest($1::text[]) AS subject
  UNION ALL SELECT 'anonymous'::text, subject FROM unnest($2::text[]) AS subject) AS asked
JOIN ${names.deletionsTable} AS d ON d.subject_kind = asked.kind AND d.subject = ${subjectHashSql('asked.subject')}
WHERE d.deleted_at > now() - $4::float8 * interval '1 millisecond'
UNION ALL
SELECT 'link', anonymous_id, NULL, user_id FROM ${names.identitiesTable} WHERE anonymous_id = ANY($3::text[])`,
    [[...users], [...anonymous], [...unlinked], tombstoneMs],
    { repeated: true },
  )
  if (rows.length === 0) return { batch, rejected: [] }
  const deletedUsers = new Map<string, number>()
  const deletedVisitors = new Map<string, number>()
  const links = new Map<string, string>()
  for (const row of rows) {
    const subject = unescapeText(String(row.subject))
    if (row.kind === 'link') links.set(subject, unescapeText(String(row.linked)))
    else (row.kind === 'user' ? deletedUsers : deletedVisitors).set(subject, Number(row.at))
  }
  const screened: Activity[] = []
  const rejected: RejectedActivity[] = []
  for (const activity of batch) {
    const at = Date.parse(activity?.timestamp)
    const deletedAt = Math.max(
      (activity?.userId !== undefined && deletedUsers.get(activity.userId)) || -Infinity,
      (activity?.anonymousId !== undefined && deletedVisitors.get(activity.anonymousId)) || -Infinity,
    )
    if (at <= deletedAt) {
      rejected.push({ id: activity.id, error: DELETED_BEFORE_DELIVERY })
      continue
    }
    const linked = activity?.userId === undefined && activity?.anonymousId !== undefined ? links.get(activity.anonymousId) : undefined
    screened.push(linked === undefined ? activity : { ...activity, userId: linked })
  }
  return { batch: screened, rejected }
}
