import type { UserTrackingApi } from '@usertracking/browser'

/**
 * The `UserTracking` the script tag defined, if it loaded (a blocker may stop it; the page works
 * without it). The app only calls it around sign-in: the script captures everything else itself.
 */
export function userTracking(): UserTrackingApi | undefined {
  return (window as { UserTracking?: UserTrackingApi }).UserTracking
}
