import { MyActivities } from '@usertracking/react'
import type { DemoUser } from '../server/demo-users'

/** "My Activities": the composed component, for whoever the cookie says is signed in. */
export function ActivitiesPage({ user }: { user: DemoUser | null }) {
  if (!user) {
    return (
      <section className="demo-card">
        <h1>My Activities</h1>
        <p>You are signed out: the server answers 401 to anyone it cannot name. Pick a user at the top right.</p>
      </section>
    )
  }
  return (
    <>
      <p className="demo-note">
        Signed in as <strong>{user.name}</strong>. The server narrows every read to this user, whatever the page asks for
        {user.admin ? ' — except for an admin, who reads every user’s rows' : ''}.
      </p>
      <MyActivities title="My Activities" />
    </>
  )
}
