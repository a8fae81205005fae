import { describe, expect, it } from 'vitest'
import { classifyError, describeError } from './errors'

const withCode = (code: string) => Object.assign(new Error(code), { code })

describe('classifyError', () => {
  it('retries what the connection, the server or a concurrent transaction caused', () => {
    for (const code of ['08006', '08003', '40001', '40P01', '53300', '57P01', '57P03', '57014', '55P03', '42P01']) {
      expect(classifyError(withCode(code)), code).toBe('retryable')
    }
    expect(classifyError(new Error('Connection terminated unexpectedly'))).toBe('retryable')
    expect(classifyError(Object.assign(new Error('write CONNECTION_CLOSED'), { code: 'CONNECTION_CLOSED' }))).toBe('retryable')
    expect(classifyError(Object.assign(new Error('reset'), { code: 'ECONNRESET' }))).toBe('retryable')
  })

  it('splits on data errors and gives up on statements that can never work', () => {
    for (const code of ['22008', '22P02', '23505', '23514', '54000']) expect(classifyError(withCode(code)), code).toBe('data')
    for (const code of ['42703', '42501', '0A000', '42804', '42P10', '22P03']) expect(classifyError(withCode(code)), code).toBe('permanent')
  })

  it('gives up on a binary COPY into a column of another type, naming the column', () => {
    const shortValue = Object.assign(withCode('08P01'), { message: 'insufficient data left in message', where: 'COPY user_activities, line 1, column session_id' })
    expect(classifyError(shortValue)).toBe('permanent')
    expect(describeError(shortValue)).toMatch(/insufficient data left in message \(column session_id\) \(SQLSTATE 08P01\)\. The table does not have the columns/)
    // A protocol violation outside a COPY is the connection's, and retried.
    expect(classifyError(withCode('08P01'))).toBe('retryable')
  })
})
