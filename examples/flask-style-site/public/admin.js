// The admin dashboard: reads the admin routes, and refreshes every 30 seconds as the seed's does.
const state = { page: 1, perPage: 10, actionType: '' }
const cell = (text) => {
  const td = document.createElement('td')
  td.textContent = text ?? ''
  return td
}
const row = (...texts) => {
  const tr = document.createElement('tr')
  tr.append(...texts.map(cell))
  return tr
}
async function read(path) {
  const response = await fetch(path)
  if (response.status === 401) location.assign('/admin/login')
  if (!response.ok) throw new Error(path + ' answered ' + response.status)
  return response.json()
}
async function loadStats() {
  const stats = await read('/api/admin/activity-stats')
  document.getElementById('total-activities').textContent = stats.total_activities
  document.getElementById('unique-users').textContent = stats.unique_users
  document.getElementById('recent-activities').textContent = stats.recent_activities
  document.querySelector('#action-stats tbody').replaceChildren(...Object.entries(stats.action_stats).map(([type, count]) => row(type, count)))
}
async function loadActivities() {
  const query = new URLSearchParams({ page: state.page, per_page: state.perPage })
  if (state.actionType) query.set('action_type', state.actionType)
  const list = await read('/api/admin/activities?' + query)
  document.querySelector('#activities tbody').replaceChildren(
    ...list.activities.map((a) => row(a.timestamp, a.user_identifier, a.action_type, a.page, a.element_id, a.ip_address, a.additional_data)),
  )
  document.getElementById('page-info').textContent = 'Page ' + list.page + ' of ' + list.pages + ' (' + list.total + ' activities)'
  document.getElementById('prev-page').disabled = list.page <= 1
  document.getElementById('next-page').disabled = list.page >= list.pages
}
const refresh = () => Promise.all([loadStats(), loadActivities()]).catch((error) => console.error(error))
document.getElementById('refresh-btn').addEventListener('click', refresh)
document.getElementById('action-filter').addEventListener('change', (event) => {
  state.actionType = event.target.value
  state.page = 1
  loadActivities().catch((error) => console.error(error))
})
document.getElementById('prev-page').addEventListener('click', () => {
  state.page -= 1
  loadActivities().catch((error) => console.error(error))
})
document.getElementById('next-page').addEventListener('click', () => {
  state.page += 1
  loadActivities().catch((error) => console.error(error))
})
refresh()
setInterval(refresh, 30000)
