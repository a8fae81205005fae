import type { UserTrackingOptions } from './options'

/**
 * Reads `UserTracking.config` options from a script tag's `data-*` attributes: `data-endpoint`,
 * `data-debug`, `data-track-input-focus="true"`, `data-batch-size="10"`,
 * `data-properties='{"site":"shop-1"}'`, `data-keep-query-parameters='["utm_*","q"]'` and so on
 * (the option names in kebab case). A value that reads as JSON (`true`, `false`, a number, an
 * object, a list) is that value, an empty attribute is `true`, anything else is the text itself.
 *
 * @param dataset - the script element's `dataset`.
 */
export function readScriptOptions(dataset: DOMStringMap): UserTrackingOptions {
  const options: Record<string, unknown> = {}
  for (const [key, value = ''] of Object.entries(dataset)) {
    try {
      options[key] = JSON.parse(value || 'true')
    } catch {
      options[key] = value
    }
  }
  return options
}
