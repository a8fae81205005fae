import type { ActivityContext, JsonValue } from '@usertracking/core'
import { NONE } from './format'

/** Props of {@link MetadataTree}. */
export interface MetadataTreeProps {
  /** Any JSON: an activity's `metadata` or `context`. */
  value: JsonValue | ActivityContext | undefined
}

/** JSON as a readable tree: objects as term / value lists, arrays as numbered lists, nested to any depth. */
export function MetadataTree({ value }: MetadataTreeProps) {
  if (value === undefined || value === null) return <span className="ut-muted">{value === null ? 'null' : NONE}</span>
  if (Array.isArray(value)) {
    if (value.length === 0) return <span className="ut-muted">(empty list)</span>
    return (
      <ol className="ut-tree-list">
        {value.map((item, index) => (
          <li key={index}>
            <MetadataTree value={item} />
          </li>
        ))}
      </ol>
    )
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value).filter((entry): entry is [string, JsonValue] => entry[1] !== undefined)
    if (entries.length === 0) return <span className="ut-muted">(empty)</span>
    return (
      <dl className="ut-tree">
        {entries.map(([key, item]) => (
          <div key={key}>
            <dt>{key}</dt>
            <dd>
              <MetadataTree value={item} />
            </dd>
          </div>
        ))}
      </dl>
    )
  }
  return <span className={`ut-json-${typeof value}`}>{String(value)}</span>
}
