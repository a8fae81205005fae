export interface ActivityMapping { fields: Record<string, unknown> }
