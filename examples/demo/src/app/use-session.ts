import { useCallback, useEffect, useState } from 'react'
import type { DemoUser } from '../server/demo-users'
import { userTracking } from './user-tracking'

/** Who is signed in, who else one can be, and how to switch. */
export interface Session {
  user: DemoUser | null
  users: readonly DemoUser[]
  /** A switch is under way. */
  switching: boolean
  error?: string
  /** Signs in as another demo user (`null` signs out). */
  switchTo(userId: string | null): Promise<void>
}

interface SessionAnswer {
  user: DemoUser | null
  users: DemoUser[]
}

async function request(init?: RequestInit): Promise<SessionAnswer> {
  const response = await fetch('/demo/session', init)
  if (!response.ok) throw new Error(`The demo's sign-in answered ${response.status}.`)
  return (await response.json()) as SessionAnswer
}

/** The demo sign-in: a cookie set by `/demo/session`, which the activity handler's `authenticate` reads. */
export function useSession(): Session | undefined {
  const [answer, setAnswer] = useState<SessionAnswer>()
  const [switching, setSwitching] = useState(false)
  const [error, setError] = useState<string>()

  useEffect(() => {
    let current = true
    request().then(
      (next) => current && setAnswer(next),
      (caught: Error) => current && setError(caught.message),
    )
    return () => {
      current = false
    }
  }, [])

  const switchTo = useCallback(async (userId: string | null) => {
    setSwitching(true)
    setError(undefined)
    try {
      const tracking = userTracking()
      // What the previous user did is sent while their cookie still signs the request: the
      // ingest refuses activities naming a user the request is not signed in as.
      await tracking?.flush()
      const next = await request({ method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ userId }) })
      // A new person at the keyboard: a new anonymous id and session, then their user id.
      tracking?.reset()
      if (next.user) tracking?.identify(next.user.id, { name: next.user.name })
      setAnswer(next)
    } catch (caught) {
      setError((caught as Error).message)
    } finally {
      setSwitching(false)
    }
  }, [])

  if (!answer) return error ? { user: null, users: [], switching, error, switchTo } : undefined
  return { ...answer, switching, error, switchTo }
}
