import type { ActivityExportQuery, ExportFormat } from '@usertracking/client'
import { useId, useState } from 'react'
import { useActivityContext } from './context'

/** Props of {@link ExportButton}. */
export interface ExportButtonProps {
  /** The filter and order to export: the one on screen. */
  query?: Omit<ActivityExportQuery, 'format'>
  /**
   * The formats offered, always listed CSV, JSON, NDJSON whatever the order given; the first of
   * them is selected to begin with. @default ['csv', 'json']
   */
  formats?: readonly ExportFormat[]
  /**
   * `link` lets the browser download the export URL itself, streaming to disk whatever the size
   * (cookie sessions); `fetch` fetches with the client's headers, streaming to the file the person
   * picks where the browser can (File System Access API), else through a Blob.
   * @default 'fetch' when the client sends headers, 'link' otherwise
   */
  via?: 'link' | 'fetch'
}

/** Every format, in the order offered: a spreadsheet first, then JSON and its one-per-line form. */
const LABELS: Record<ExportFormat, string> = { csv: 'CSV', json: 'JSON', ndjson: 'NDJSON' }
const ORDER = Object.keys(LABELS) as ExportFormat[]

interface SavePicker {
  showSaveFilePicker?: (options: { suggestedName: string }) => Promise<{ createWritable(): Promise<WritableStream<Uint8Array>> }>
}

function click(href: string, filename: string): void {
  const link = document.createElement('a')
  link.href = href
  link.download = filename
  link.rel = 'noopener'
  document.body.append(link)
  link.click()
  link.remove()
}

/**
 * Downloads the activities of the current filter, in the browser: a format picker (CSV selected to
 * begin with) and an "Export CSV" button that names the format picked.
 */
export function ExportButton({ query = {}, formats = ['csv', 'json'], via }: ExportButtonProps) {
  const { client } = useActivityContext()
  const id = useId()
  const offered = ORDER.filter((format) => formats.includes(format))
  const [picked, setPicked] = useState<ExportFormat>()
  const format = picked && offered.includes(picked) ? picked : offered[0]
  const [busy, setBusy] = useState<ExportFormat>()
  const [error, setError] = useState<string>()
  const mode = via ?? (client.sendsHeaders ? 'fetch' : 'link')

  async function download(format: ExportFormat): Promise<void> {
    setError(undefined)
    if (mode === 'link') return click(client.exportUrl({ ...query, format }), `activities.${format}`)
    setBusy(format)
    try {
      const file = await client.export({ ...query, format })
      const picker = (window as SavePicker).showSaveFilePicker
      if (picker) {
        const handle = await picker({ suggestedName: file.filename })
        await file.body.pipeTo(await handle.createWritable())
      } else {
        const url = URL.createObjectURL(await new Response(file.body).blob())
        click(url, file.filename)
        // Revoked on the next turn: the download has taken its own reference by then.
        setTimeout(() => URL.revokeObjectURL(url), 0)
      }
    } catch (caught) {
      // Dismissing the save dialog is not an error worth showing.
      if ((caught as Error)?.name !== 'AbortError') setError(`Export failed. ${(caught as Error)?.message?.replace(/^\[usertracking\] \[client\] /, '') ?? ''}`)
    } finally {
      setBusy(undefined)
    }
  }

  if (!format) return null
  return (
    <div className="ut ut-export" role="group" aria-label="Export">
      {offered.length > 1 && (
        <>
          <label className="ut-visually-hidden" htmlFor={id}>
            Export format
          </label>
          <select id={id} value={format} disabled={busy !== undefined} onChange={(event) => setPicked(event.target.value as ExportFormat)}>
            {offered.map((each) => (
              <option key={each} value={each}>
                {LABELS[each]}
              </option>
            ))}
          </select>
        </>
      )}
      <button type="button" className="ut-button" aria-busy={busy !== undefined} disabled={busy !== undefined} onClick={() => void download(format)}>
        {busy ? `Exporting ${LABELS[busy]}…` : `Export ${LABELS[format]}`}
      </button>
      {error && (
        <p className="ut-error" role="alert">
          {error}
        </p>
      )}
    </div>
  )
}
