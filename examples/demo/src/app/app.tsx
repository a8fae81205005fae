import { createActivityClient } from '@usertracking/client'
import { ActivityProvider } from '@usertracking/react'
import { useMemo } from 'react'
import { ActivitiesPage } from './activities-page'
import { AdminPage } from './admin-page'
import { onLinkClick, usePath, type PagePath } from './navigation'
import { ProductPage } from './product-page'
import { useSession, type Session } from './use-session'

const PAGES: { path: PagePath; label: string }[] = [
  { path: '/', label: 'Product' },
  { path: '/activities', label: 'My Activities' },
  { path: '/admin', label: 'Admin dashboard' },
]

function UserSwitcher({ session }: { session: Session }) {
  return (
    <label className="demo-switcher">
      <span>Signed in as</span>
      <select
        id="user-switcher"
        value={session.user?.id ?? ''}
        disabled={session.switching}
        onChange={(event) => void session.switchTo(event.target.value || null)}
        title={session.user?.role}
      >
        {session.users.map((user) => (
          <option key={user.id} value={user.id}>
            {user.name}
          </option>
        ))}
        <option value="">Nobody (signed out)</option>
      </select>
    </label>
  )
}

/** The demo app: a header with the pages and the user switcher, and the page the path names. */
export function App() {
  const session = useSession()
  const path = usePath()
  const userId = session?.user?.id
  // One client per signed-in user: switching user reopens every list and live stream under the new cookie.
  const client = useMemo(() => createActivityClient({ baseUrl: '/api' }), [userId])
  const current = PAGES.find((page) => page.path === path) ?? PAGES[0]!

  return (
    <>
      <header className="demo-header">
        <a className="demo-brand" href="/" onClick={onLinkClick('/')}>
          Tailor<span aria-hidden="true">.</span>
        </a>
        <nav aria-label="Pages" className="demo-nav">
          {PAGES.map((page) => (
            <a key={page.path} id={`nav-${page.path.slice(1) || 'product'}`} href={page.path} aria-current={page === current ? 'page' : undefined} onClick={onLinkClick(page.path)}>
              {page.label}
            </a>
          ))}
        </nav>
        {session && <UserSwitcher session={session} />}
      </header>
      <main className="demo-main">
        {session?.error && (
          <p className="demo-error" role="alert">
            {session.error}
          </p>
        )}
        {!session ? (
          <p className="demo-muted">Loading…</p>
        ) : (
          <ActivityProvider key={userId ?? 'signed-out'} client={client}>
            {current.path === '/' && <ProductPage user={session.user} />}
            {current.path === '/activities' && <ActivitiesPage user={session.user} />}
            {current.path === '/admin' && <AdminPage user={session.user} admins={session.users.filter((user) => user.admin)} onSwitch={(id) => void session.switchTo(id)} />}
          </ActivityProvider>
        )}
      </main>
      <footer className="demo-footer">
        usertracking demo — activities stored in PostgreSQL (embedded PGlite) on this machine, read back through <code>@usertracking/server</code>.
      </footer>
    </>
  )
}
