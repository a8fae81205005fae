import type { Listen } from './page-events'

/** Receives one captured interaction. */
export type CaptureHandler = (activityType: string, element: string | null | undefined, metadata: Record<string, unknown>) => void

/** The switches autocapture reads at event time. */
export type CaptureSwitch = 'trackButtonClicks' | 'trackFormSubmissions' | 'trackInputFocus'

const CLICKABLE = 'button,a,[role=button],input[type=submit],input[type=button]'
const FIELDS = 'input,select,textarea'
const IGNORE = '[data-usertracking-ignore]'

type Field = HTMLInputElement | HTMLSelectElement | HTMLTextAreaElement

function target(event: Event, selector: string): Element | null | undefined {
  const found = (event.target as Element | null)?.closest?.(selector)
  return found?.closest(IGNORE) ? null : found
}

function label(element: Element): string {
  const text = element instanceof HTMLInputElement ? element.value : element.textContent || element.getAttribute('aria-label') || ''
  return text.replace(/\s+/g, ' ').trim().slice(0, 100)
}

function fieldOf(event: Event): Field | undefined {
  const field = target(event, FIELDS) as Field | null
  return field && field.type !== 'password' ? field : undefined
}

const on = (listen: Listen, type: string, switchKey: CaptureSwitch, enabled: (key: CaptureSwitch) => boolean, handler: (event: Event) => void) =>
  listen(document, type, (event) => enabled(switchKey) && handler(event))

/**
 * `button_click` for buttons, links, `[role=button]`, submit and button inputs, with `tag`, trimmed
 * `text` (at most 100 characters) and a link's `href`; the part of {@link autocapture} the lite
 * build has.
 *
 * @param capture - receives each click.
 * @param enabled - reads the `trackButtonClicks` switch at event time.
 * @param listen - adds a capturing listener on the document that the caller can remove.
 */
export function captureClicks(capture: CaptureHandler, enabled: (key: CaptureSwitch) => boolean, listen: Listen): void {
  on(listen, 'click', 'trackButtonClicks', enabled, (event) => {
    const element = target(event, CLICKABLE)
    if (!element) return
    capture('button_click', element.id, {
      tag: element.localName,
      text: label(element),
      href: element.getAttribute('href') ?? undefined,
    })
  })
}

/**
 * Listens on the document (never on each element, so elements added later are covered and nothing
 * is left behind when they go) for clicks, form submissions, blocked submissions and field focus.
 * Listeners capture, so an app that stops propagation still gets counted, and do nothing but read
 * a few attributes, so they never slow the app's own handlers. Nothing inside
 * `[data-usertracking-ignore]` and no password field is ever captured, and no field value is read.
 *
 * - `button_click`: see {@link captureClicks}.
 * - `form_submit`: with the form's `action` and `method`.
 * - `form_submit_error` with `reason: 'validation'` and the invalid `fields` (names or ids) when the
 *   browser's constraint validation blocks a submit. Other outcomes are known only to the app, which
 *   reports them with `UserTracking.track('form_submit_success', formId)` or
 *   `UserTracking.track('form_submit_error', formId, { error })`.
 * - `input_focus`: an input, select or textarea with its `name`, `type` and `tag`.
 *
 * @param capture - receives each interaction.
 * @param enabled - reads a switch at event time.
 * @param listen - adds a capturing listener on the document that the caller can remove.
 */
export function autocapture(capture: CaptureHandler, enabled: (key: CaptureSwitch) => boolean, listen: Listen): void {
  let invalid: string[] | undefined
  captureClicks(capture, enabled, listen)
  on(listen, 'submit', 'trackFormSubmissions', enabled, (event) => {
    const form = target(event, 'form') as HTMLFormElement | null
    if (!form) return
    capture('form_submit', form.id || form.getAttribute('name'), {
      action: form.getAttribute('action') ?? undefined,
      method: form.method,
    })
  })
  on(listen, 'invalid', 'trackFormSubmissions', enabled, (event) => {
    const field = fieldOf(event)
    if (!field) return
    // One blocked submit fires `invalid` on every invalid field in one go: report them together.
    if (!invalid) {
      invalid = []
      const form = field.form
      setTimeout(() => {
        capture('form_submit_error', form?.id, { reason: 'validation', fields: invalid ?? [] })
        invalid = undefined
      })
    }
    invalid.push(field.name || field.id)
  })
  on(listen, 'focusin', 'trackInputFocus', enabled, (event) => {
    const field = fieldOf(event)
    if (!field) return
    capture('input_focus', field.id, {
      name: field.name || undefined,
      type: field.type,
      tag: field.localName,
    })
  })
}
