import { describe, expect, it } from 'vitest'
import { activity } from '../test/activities'
import { BatchPreparation } from './rows'

describe('BatchPreparation', () => {
  it('prepares every activity once, even when a failed COPY abandoned its rows halfway', () => {
    const batch = [activity(), activity({ id: 'not-a-uuid' }), activity(), activity(), activity()]
    const preparation = new BatchPreparation(batch)
    const rows = preparation.rows()
    rows.next()
    rows.next()
    rows.return(undefined)
    preparation.complete()
    expect(preparation.prepared.map((row) => row.id)).toEqual([0, 2, 3, 4].map((index) => batch[index]!.id))
    expect(preparation.refused).toEqual([{ id: 'not-a-uuid', error: 'id is not a UUID.' }])
  })
})
