/**
 * The script-tag build: defines `window.UserTracking` and configures it from the `data-*`
 * attributes of its own tag when it has `data-endpoint`:
 *
 * ```html
 * <script src="usertracking.global.js" data-endpoint="/api/activity" data-debug="true"></script>
 * ```
 */
import { readScriptOptions } from './script-options'
import { UserTracking } from './user-tracking'

declare global {
  interface Window {
    /** Defined by the script-tag build of `@usertracking/browser`. */
    UserTracking: typeof UserTracking
  }
}

const script = document.currentScript as HTMLScriptElement | null
if (!window.UserTracking) {
  window.UserTracking = UserTracking
  if (script?.dataset.endpoint) UserTracking.config(readScriptOptions(script.dataset))
}
