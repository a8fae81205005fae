import type { ActivityExportQuery, ExportFormat } from '@usertracking/client'
import { useState } from 'react'
import { useActivityContext } from './context'

/** Props of {@link ExportButton}. */
export interface ExportButtonProps {
  /** The filter and order to export: the one on screen. */
  query?: Omit<ActivityExportQuery, 'format'>
  /** One button per format. @default ['csv', 'json'] */
  formats?: readonly ExportFormat[]
  /**
   * `link` lets the browser download the export URL itself, streaming to disk whatever the size
   * (cookie sessions); `fetch` fetches with the client's headers, streaming to the file the person
   * picks where the browser can (File System Access API), else through a Blob.
   * @default 'fetch' when the client sends headers, 'link' otherwise
   */
  via?: 'link' | 'fetch'
}

const LABELS: Record<ExportFormat, string> = { csv: 'CSV', json: 'JSON', ndjson: 'NDJSON' }

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

/** Downloads the activities of the current filter as CSV or JSON, in the browser. */
export function ExportButton({ query = {}, formats = ['csv', 'json'], via }: ExportButtonProps) {
  const { client } = useActivityContext()
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

  return (
    <div className="ut ut-export" role="group" aria-label="Export">
      {formats.map((format) => (
        <button key={format} type="button" className="ut-button" aria-busy={busy === format} disabled={busy !== undefined} onClick={() => void download(format)}>
          {busy === format ? `Exporting ${LABELS[format]}…` : `Export ${LABELS[format]}`}
        </button>
      ))}
      {error && (
        <p className="ut-error" role="alert">
          {error}
        </p>
      )}
    </div>
  )
}
