/** A person the demo can sign in as. */
export interface DemoUser {
  /** The user id activities are stored under. */
  id: string
  /** The name the switcher shows. */
  name: string
  /** What this person does in the story, shown under the switcher. */
  role: string
  /** Reads every user's activities: the admin dashboard needs it. */
  admin: boolean
}

/** The demo's people: four job seekers with their own histories, and an admin who sees them all. */
export const DEMO_USERS: readonly DemoUser[] = [
  { id: 'amara', name: 'Amara Okafor', role: 'Data engineer, applying to big tech', admin: false },
  { id: 'ben', name: 'Ben Carter', role: 'Product designer, switching to UX research', admin: false },
  { id: 'chen', name: 'Chen Wei', role: 'Backend developer, remote roles only', admin: false },
  { id: 'dana', name: 'Dana Kowalski', role: 'New graduate, first job hunt', admin: false },
  { id: 'sam', name: 'Sam Rivera (admin)', role: 'Runs the product: sees every user', admin: true },
]

/** Who a fresh browser is signed in as, so the first page already has a history to show. */
export const DEFAULT_USER_ID = 'amara'

/** The user with this id, if the demo has one. */
export function demoUser(id: string | undefined): DemoUser | undefined {
  return DEMO_USERS.find((user) => user.id === id)
}
