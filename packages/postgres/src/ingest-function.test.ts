/**
 * When the sink gives up on the ingest function: only when the database has none, or refuses the
 * call itself; an error raised inside it (a role without INSERT on the table) is the write's own.
 */
import { expect, it } from 'vitest'
import { missingIngestFunction } from './ingest-function'

const error = (code: string, where?: string) => Object.assign(new Error('x'), { code, ...(where === undefined ? {} : { where }) })

it('takes an undefined function, and a refused call of it, as a missing function', () => {
  expect(missingIngestFunction(error('42883'))).toBe(true)
  expect(missingIngestFunction(error('42501'))).toBe(true)
})

it('passes on a refusal from inside the function, and every other error', () => {
  expect(missingIngestFunction(error('42501', 'SQL statement "WITH input AS ( …"\nPL/pgSQL function "s"."t_ingest"(…) line 3 at RETURN QUERY'))).toBe(false)
  expect(missingIngestFunction(error('42P01'))).toBe(false)
  expect(missingIngestFunction(new Error('no code'))).toBe(false)
  expect(missingIngestFunction(undefined)).toBe(false)
})
