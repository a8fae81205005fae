/**
 * What other suites (the examples') use to run a Worker on workerd: bundling as wrangler does, the
 * runtime check that fails under CI, miniflare, the collector and the PostgreSQL helpers.
 */
export { bundle, removeBundles, type BundleOptions } from './bundle'
export { startCollector, type Collector, type CollectorMode } from './collector'
export { createSchema, databaseAvailable, databaseUrl, type TestSchema } from './database'
export { requireRuntime, type Runtime } from './runtime'
export { startWorker, type StartWorkerOptions, type WorkerServer } from './workerd'
