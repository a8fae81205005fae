/** Markdown tables and number formats shared by the suites that print (and write) tables. */

/** A column: its header, and whether its cells are numbers (right-aligned). */
export interface Column {
  header: string
  numeric?: boolean
}

/** A Markdown table; every row has one cell per column. */
export function table(columns: Column[], rows: string[][]): string {
  const header = `| ${columns.map((column) => column.header).join(' | ')} |`
  const rule = `| ${columns.map((column) => (column.numeric ? '---:' : '---')).join(' | ')} |`
  return [header, rule, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n')
}

/** `1234.5` → `1,235` (or with `digits` decimals). */
export const format = (value: number, digits = 0): string =>
  value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })

/** Bytes as MiB with one decimal, e.g. `12.3 MB` (MB is what the issue tables say). */
export const megabytes = (bytes: number): string => `${format(bytes / 2 ** 20, 1)} MB`
