/**
 * The lite script-tag build: defines `window.UserTracking` (the lite tracker) and configures it
 * from the `data-*` attributes of its own tag when it has `data-endpoint`:
 *
 * ```html
 * <script src="usertracking-lite.global.js" data-endpoint="/api/activity"></script>
 * ```
 */
import { UserTracking, type LiteTrackingApi } from './lite-tracking'
import { readScriptOptions } from './script-options'

const script = document.currentScript as HTMLScriptElement | null
const page = window as unknown as { UserTracking?: LiteTrackingApi }
if (!page.UserTracking) {
  page.UserTracking = UserTracking
  if (script?.dataset.endpoint) UserTracking.config(readScriptOptions(script.dataset))
}
