/**
 * The conformance suites of usertracking's extension points, published so that a third party's
 * store, sink or storage runs the same tests as ours. Each `describe…Conformance` function
 * registers vitest tests; call it once from a test file.
 *
 * @packageDocumentation
 * @module @usertracking/testkit
 */
export { describeStoreConformance, HOSTILE_STRINGS } from './store-conformance'
export type { StoreFixture, StoreFixtureOptions } from './store-conformance'
export { describeStorageConformance } from './storage-conformance'
export type { StorageFixture } from './storage-conformance'
export { describeSinkConformance } from './sink-conformance'
export type { SinkFixture } from './sink-conformance'
export { describeTrackerBehaviour } from './tracker-behaviour'
export type { BehaviourTracker, TrackerBehaviourOptions } from './tracker-behaviour'
