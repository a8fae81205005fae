/**
 * The site's pages. Every public page carries the `UserTracking` script tag, configured by its
 * `data-*` attributes as the seed's `trackingConfig`; the admin pages do not, so the admin's own
 * clicks never count as visitors'. Page scripts and styles are files in `public/`, served under
 * `/static/`, rather than inline, so the Content-Security-Policy can forbid inline script.
 */

/** The tracking settings of the seed's `trackingConfig`, as `data-*` attributes of the script tag. */
export interface TrackingTagOptions {
  /** `DEBUG=true` in the seed's environment: the library logs what it records and drops. @default false */
  debug?: boolean
  /** Time from the last activity to its batch going out, in ms. @default 300 (the seed's `debounceTime`) */
  debounceTime?: number
}

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`)

function trackingTag(options: TrackingTagOptions): string {
  const attributes = {
    endpoint: '/api/track',
    'track-page-views': true,
    'track-button-clicks': true,
    'track-form-submissions': true,
    'track-input-focus': true,
    // The seed records page visits, clicks, forms and focus; not time on page.
    'track-time-on-page': false,
    'debounce-time': options.debounceTime ?? 300,
    'max-retries': 3,
    debug: options.debug ?? false,
  }
  const data = Object.entries(attributes)
    .map(([name, value]) => `data-${name}="${escapeHtml(String(value))}"`)
    .join(' ')
  return `<script src="/static/usertracking.global.js" ${data}></script>`
}

function layout(title: string, body: string, head = ''): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/static/site.css">
${head}
</head><body>
<nav><a id="nav-home" href="/">Home</a> <a id="nav-about" href="/about">About</a> <a id="nav-contact" href="/contact">Contact</a></nav>
<main>${body}</main>
</body></html>`
}

/** The public pages, each tracked. */
export function publicPage(path: string, options: TrackingTagOptions): string | undefined {
  const head = `${trackingTag(options)}\n<script src="/static/site.js" defer></script>`
  switch (path) {
    case '/':
      return layout(
        'Home',
        `<h1>Welcome</h1>
<p>A small site whose every visit, click, form and focus is tracked.</p>
<button id="cta-btn" type="button">Get started</button>
<p id="cta-message" hidden>Great, let's go.</p>`,
        head,
      )
    case '/about':
      return layout(
        'About',
        `<h1>About</h1>
<article id="article-123"><h2>Sample Article</h2><p>Five minutes of reading.</p></article>
<button id="learn-more" type="button">Learn more</button>`,
        head,
      )
    case '/contact':
      return layout(
        'Contact',
        `<h1>Contact</h1>
<form id="contact-form" action="/contact" method="post">
  <label>Name <input id="name" name="name" required></label>
  <label>E-mail <input id="email" name="email" type="email" required></label>
  <label>Message <textarea id="message" name="message"></textarea></label>
  <button id="send-btn" type="submit">Send</button>
</form>
<p id="contact-status" role="status"></p>`,
        head,
      )
    default:
      return undefined
  }
}

/** The admin's login form; `failed` after a wrong user name or password. */
export function loginPage(failed: boolean): string {
  return layout(
    'Admin login',
    `<h1>Admin login</h1>
${failed ? '<p id="login-error" role="alert">Wrong user name or password.</p>' : ''}
<form id="login-form" action="/admin/login" method="post">
  <label>User name <input id="username" name="username" autocomplete="username" required></label>
  <label>Password <input id="password" name="password" type="password" autocomplete="current-password" required></label>
  <button id="login-btn" type="submit">Log in</button>
</form>`,
  )
}

/** The admin dashboard: the "User Activities" and "Activity Statistics" tabs, filled by `/static/admin.js`. */
export function adminPage(): string {
  return layout(
    'Admin: user activities',
    `<h1>Admin dashboard</h1>
<form action="/admin/logout" method="post"><button id="logout-btn" type="submit">Log out</button></form>
<button id="refresh-btn" type="button">Refresh</button>
<section id="stats-tab"><h2>Activity Statistics</h2>
  <p>Total activities: <strong id="total-activities"></strong>, unique users: <strong id="unique-users"></strong>, last 24 hours: <strong id="recent-activities"></strong></p>
  <table id="action-stats"><thead><tr><th>Action</th><th>Count</th></tr></thead><tbody></tbody></table>
</section>
<section id="activities-tab"><h2>User Activities</h2>
  <label>Type <select id="action-filter">
    <option value="">All</option><option>page_visit</option><option>button_click</option><option>form_submit</option>
    <option>form_submit_success</option><option>form_submit_error</option><option>input_focus</option>
  </select></label>
  <table id="activities"><thead><tr><th>Time</th><th>User</th><th>Action</th><th>Page</th><th>Element</th><th>IP</th><th>Data</th></tr></thead><tbody></tbody></table>
  <button id="prev-page" type="button">Previous</button> <span id="page-info"></span> <button id="next-page" type="button">Next</button>
</section>`,
    '<script src="/static/admin.js" defer></script>',
  )
}
