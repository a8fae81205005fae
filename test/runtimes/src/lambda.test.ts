import { createTracker, flushBeforeReturn, httpSink, type FlushReport } from '@usertracking/core'
import type { APIGatewayProxyEventV2, APIGatewayProxyResultV2, Context, Handler } from 'aws-lambda'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { startCollector, type Collector } from './collector'

/** A plain object of AWS Lambda's `Context` shape, whose remaining time runs out `timeoutMs` from now. */
function lambdaContext(timeoutMs: number): Context {
  const deadline = Date.now() + timeoutMs
  const unused = () => {}
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName: 'report',
    functionVersion: '$LATEST',
    invokedFunctionArn: 'arn:aws:lambda:eu-west-1:123456789012:function:report',
    memoryLimitInMB: '128',
    awsRequestId: 'c6af9ac6-7b61-11e6-9a41-93e812345678',
    logGroupName: '/aws/lambda/report',
    logStreamName: '2025/07/06/[$LATEST]abcdef',
    getRemainingTimeInMillis: () => deadline - Date.now(),
    done: unused,
    fail: unused,
    succeed: unused,
  }
}

const event = { rawPath: '/report', requestContext: { http: { method: 'POST' } } } as APIGatewayProxyEventV2

describe('AWS Lambda style on Node: flushBeforeReturn with httpSink to a collector on 127.0.0.1', () => {
  let collector: Collector
  beforeEach(async () => {
    collector = await startCollector()
  })
  afterEach(async () => {
    await collector.close()
  })

  /** A module-scope tracker and the exported handler, as a function's file has them. */
  function lambda(onUndelivered?: (report: FlushReport) => void) {
    const tracker = createTracker({ sinks: [httpSink({ url: collector.url, timeoutMs: 60_000 })], warnings: false })
    let tracked: string | undefined
    const handler: Handler<APIGatewayProxyEventV2, APIGatewayProxyResultV2> = flushBeforeReturn(
      tracker,
      async (request: APIGatewayProxyEventV2, context: Context) => {
        tracked = tracker.track({ userId: 'u1', activityType: 'report_generated', metadata: { path: request.rawPath, requestId: context.awsRequestId } })
        return { statusCode: 200, body: 'ok' }
      },
      { onUndelivered },
    )
    return { handler, tracker, tracked: () => tracked! }
  }

  it('returns only after the collector accepted what the invocation tracked', async () => {
    const { handler, tracked } = lambda()
    const result = await handler(event, lambdaContext(30_000), () => {})
    expect(result).toEqual({ statusCode: 200, body: 'ok' })
    expect(collector.accepted.get(tracked())).toBe(1)
  })

  it('returns before its remaining time runs out when the collector never answers, and says so', async () => {
    collector.setMode({ kind: 'hold' })
    const reports: FlushReport[] = []
    const { handler, tracker } = lambda((report) => reports.push(report))
    const result = await handler(event, lambdaContext(1500), () => {})
    expect(result).toEqual({ statusCode: 200, body: 'ok' })
    expect(collector.batches).toHaveLength(1)
    expect(reports).toEqual([{ delivered: false, timedOut: true, dropped: {} }])
    // The instance is frozen with the write in flight; the next invocation's flush picks it up.
    expect(tracker.stats()).toMatchObject({ queued: 1, dropped: 0 })
  })
})
