import { AdminDashboard } from '@usertracking/react'
import type { DemoUser } from '../server/demo-users'

/** The admin dashboard, for an admin; anyone else is told how to become one in the demo. */
export function AdminPage({ user, admins, onSwitch }: { user: DemoUser | null; admins: readonly DemoUser[]; onSwitch: (userId: string) => void }) {
  if (!user?.admin) {
    return (
      <section className="demo-card">
        <h1>Admin dashboard</h1>
        <p>It reads every user’s activities, so the server serves it only to an admin. {user ? `${user.name} is not one.` : 'You are signed out.'}</p>
        {admins.map((admin) => (
          <button key={admin.id} type="button" className="demo-primary" onClick={() => onSwitch(admin.id)}>
            Switch to {admin.name}
          </button>
        ))}
      </section>
    )
  }
  return <AdminDashboard title="Admin dashboard" />
}
