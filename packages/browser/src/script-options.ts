import type { UserTrackingOptions } from './options'

/**
 * Reads `UserTracking.config` options from a script tag's `data-*` attributes: `data-endpoint`,
 * `data-debug`, `data-track-input-focus="true"`, `data-batch-size="10"` and so on (the option names
 * in kebab case). `"true"`, `"false"` and an empty attribute become booleans, digits become numbers.
 *
 * @param dataset - the script element's `dataset`.
 */
export function readScriptOptions(dataset: DOMStringMap): UserTrackingOptions {
  const options: Record<string, unknown> = {}
  for (const [key, value = ''] of Object.entries(dataset)) {
    options[key] = value === '' || value === 'true' ? true : value === 'false' ? false : /^\d+$/.test(value) ? Number(value) : value
  }
  return options
}
