/**
 * The Node.js tracker: `createNodeTracker` with a crash-safe, paging file journal (`fileStorage`),
 * keep-alive HTTP delivery, graceful shutdown, and request context (AsyncLocalStorage) so that
 * nested `withActivity` calls inherit the user.
 *
 * @packageDocumentation
 * @module @usertracking/node
 */
export { createNodeTracker } from './node-tracker'
export type { NodeTracker, NodeTrackerOptions } from './node-tracker'
export { fileStorage } from './file-storage'
export type { FileStorage, FileStorageOptions } from './file-storage'
export { runWithContext, updateContext, currentContext, contextDefaults } from './request-context'
export type { RequestContext } from './request-context'
export { contextMiddleware } from './context-middleware'
export type { ContextMiddleware, ContextMiddlewareOptions } from './context-middleware'
export { keepAliveFetch } from './keep-alive-fetch'
export type { KeepAliveFetch, KeepAliveFetchOptions } from './keep-alive-fetch'
export { nodeHttpSink } from './node-http-sink'
export type { NodeHttpSinkOptions } from './node-http-sink'
export { installShutdownHooks } from './shutdown-hooks'
export { lockDirectory, unlockDirectory } from './directory-lock'
export type { ShutdownHooksOptions } from './shutdown-hooks'
